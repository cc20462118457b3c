"""examples/yaml-program: the Pulumi YAML program using the component package, checked against the derived schema
and run: each securestack resource is a Construct served in-process (tests/support/component_package.py), with the
program's config from Pulumi.example.yaml and `${resource.output}` references resolved from earlier constructs.

Pulumi YAML itself (the CLI's yaml language host) is not here; the interpolation below covers what the example uses:
`${name}` (config) and `${resource.property}`, alone or inside a string.
"""
import re
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import pytest
import yaml

from securestack.components.package import COMPONENTS
from tests.support.component_package import construct, provider_for

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "yaml-program"
REFERENCE = re.compile(r"\$\{([A-Za-z][\w-]*)(?:\.(\w+))?\}")


@pytest.fixture(scope="module")
def program() -> dict:
    return yaml.safe_load((EXAMPLE / "Pulumi.yaml").read_text())


@pytest.fixture(scope="module")
def schema() -> dict:
    return provider_for(COMPONENTS).schema_json


def config_values(program: dict) -> dict[str, Any]:
    stack = yaml.safe_load((EXAMPLE / "Pulumi.example.yaml").read_text())["config"]
    values = {}
    for key, declared in program.get("config", {}).items():
        qualified = f"{program['name']}:{key}"
        assert qualified in stack or "default" in declared, f"config {key} has no value in Pulumi.example.yaml"
        values[key] = stack.get(qualified, declared.get("default"))
    return values


def references(value: Any) -> set[tuple[str, str]]:
    if isinstance(value, str):
        return {(name, prop or "") for name, prop in REFERENCE.findall(value)}
    if isinstance(value, dict):
        return set().union(*(references(item) for item in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(references(item) for item in value)) if value else set()
    return set()


def check_object(value: dict, properties: dict, required: list, schema: dict, where: str) -> None:
    """The keys of a literal object against a schema object's properties (recursing into referenced types)."""
    unknown = set(value) - set(properties)
    assert not unknown, f"{where}: {sorted(unknown)} not in the schema (has {sorted(properties)})"
    missing = set(required) - set(value)
    assert not missing, f"{where}: required {sorted(missing)} missing"
    for key, item in value.items():
        ref = properties[key].get("$ref", "")
        if isinstance(item, dict) and ref.startswith("#/types/"):
            nested = schema["types"][ref.removeprefix("#/types/")]
            check_object(item, nested.get("properties", {}), nested.get("required", []), schema, f"{where}.{key}")


def test_the_program_uses_the_package_from_this_repository(program):
    assert program["runtime"] == "yaml"
    assert (EXAMPLE / program["packages"]["securestack"] / "PulumiPlugin.yaml").resolve() == \
        (EXAMPLE.parent.parent / "PulumiPlugin.yaml").resolve()


def test_every_resource_and_property_is_in_the_derived_schema(program, schema):
    assert program["resources"], "the example builds something"
    for name, resource in program["resources"].items():
        assert resource["type"] in schema["resources"], f"{name}: {resource['type']} is not in the package"
        described = schema["resources"][resource["type"]]
        check_object(resource.get("properties", {}), described["inputProperties"], described["requiredInputs"],
                     schema, name)
    declared = set(program.get("config", {}))
    for name, prop in references(program):
        if name in program["resources"]:
            outputs = schema["resources"][program["resources"][name]["type"]]["properties"]
            assert prop in outputs or prop in ("", "urn"), f"${{{name}.{prop}}}: not an output of {name}"
        else:
            assert name in declared and not prop, f"${{{name}}} is neither config nor a resource"


def resolve(value: Any, scope: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        return {key: resolve(item, scope) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, scope) for item in value]
    if not isinstance(value, str):
        return value
    whole = REFERENCE.fullmatch(value)
    if whole:
        return lookup(scope, *whole.groups())
    return REFERENCE.sub(lambda found: str(lookup(scope, *found.groups())), value)


def lookup(scope: dict[str, Any], name: str, prop: str | None) -> Any:
    found = scope[name]
    return found if not prop else found[prop]


def run_program(program: dict) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each resource constructed in dependency order; returns (scope: config and each resource's state, resource
    name -> what its Construct returned and registered)."""
    provider = provider_for(COMPONENTS)
    scope: dict[str, Any] = dict(config_values(program))
    resources, built = program["resources"], {}
    order = TopologicalSorter({name: {ref for ref, _ in references(resource) if ref in resources}
                               for name, resource in resources.items()}).static_order()
    for name in order:
        resource = resources[name]
        dependencies = {key: sorted(scope[ref]["urn"] for ref, _ in references(value) if ref in resources)
                        for key, value in resource.get("properties", {}).items()}
        built[name] = construct(provider, resource["type"], name, resolve(resource.get("properties", {}), scope),
                                dependencies={key: urns for key, urns in dependencies.items() if urns},
                                config={"aws:region": "us-east-1"})
        scope[name] = {**built[name].state, "urn": built[name].urn}
    return scope, built


@pytest.fixture(scope="module")
def ran(program) -> tuple[dict[str, Any], dict[str, Any]]:
    return run_program(program)


def test_the_program_runs_on_the_package(program, ran):
    scope, built = ran
    for name, constructed in built.items():
        assert constructed.children(), f"{name} registered no resources"
    outputs = resolve(program["outputs"], scope)
    assert all(isinstance(value, str) and value for value in outputs.values()), outputs


def test_a_value_from_another_component_reaches_the_children_with_its_dependency(ran):
    scope, built = ran
    waf_logs = [r for r in built["edge"].children() if r.type == "aws:cloudwatch/logGroup:LogGroup"]
    assert waf_logs and all(r.inputs["kmsKeyId"] == scope["keys"]["logsKeyArn"] for r in waf_logs)
    assert all(scope["keys"]["urn"] in r.dependencies for r in waf_logs)
