"""The securestack component package: every component served to TypeScript, Go, C#, YAML (`pulumi package add`).

How it runs: PulumiPlugin.yaml at the repository root makes the checkout a Pulumi plugin with the Python runtime.
For a plugin directory holding a `__main__.py`, the Python language host runs `python <plugin dir> <engine address>
...` (pulumi/pulumi sdk/python/cmd/pulumi-language-python/main.go, `RunPlugin`); the root `__main__.py` calls `serve`
below, which does what `pulumi.provider.experimental.component_provider_host` does (host.py: build the component
provider, hand it to `pulumi.provider.main`, which serves the gRPC ResourceProvider and prints its port) with this
module's provider instead of the SDK's. The schema (`GetSchema`) and each `Construct` come from the same classes a
Python program imports: the component's Args dataclass is its inputs, its class-level `pulumi.Output` annotations
its outputs, the docstrings their descriptions (pulumi.provider.experimental.analyzer).

`python -m securestack.components.package schema` prints the schema the engine would get.
"""
import ast
import dataclasses
import importlib.metadata
import inspect
import json
import re
import sys
from typing import Any, Optional, Sequence

import pulumi
from pulumi.errors import InputPropertyError
from pulumi.provider import main as serve_provider
from pulumi.provider.experimental.analyzer import (
    Analyzer, AnalyzeResult, ComponentDefinition, PropertyDefinition, PropertyType)
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.experimental.schema import generate_schema
from pulumi.provider.experimental.util import camel_case
from pulumi.provider.provider import ConstructResult, Provider
from pulumi.provider.server import ComponentInitError

from . import cli
from .access_logs import AccessLogBucket
from .app import AppService
from .args import ArgsError
from .audit import AuditTrail
from .backup import DatabaseBackupPlan
from .code_signing import RotatorCodeSigning
from .database import EncryptedPostgres
from .keys import EnvironmentKeys
from .load_balancer import TlsLoadBalancer
from .network import Network
from .rotation import RotationFunction
from .secret_age_alarms import SecretAgeAlarms
from .secrets import DatabaseUserSecret, RotatedSecrets, ScopedApiKeys, WebhookSecrets
from .vendor_secrets import VendorSecrets

PACKAGE_NAME = "securestack"  # the schema's name: type tokens are securestack:index:<Class> (contract 13 item 7)
DISTRIBUTION = "securestack"  # the Python distribution whose version the package carries (pyproject.toml)

# Every ComponentResource in securestack.components, served by the package (tests/test_component_package.py checks
# this list against the classes it finds, so a new component cannot be left out unnoticed).
COMPONENTS: tuple[type[pulumi.ComponentResource], ...] = (
    AccessLogBucket, AppService, AuditTrail, DatabaseBackupPlan, DatabaseUserSecret, EncryptedPostgres,
    EnvironmentKeys, Network, RotationFunction, RotatorCodeSigning, ScopedApiKeys, SecretAgeAlarms, TlsLoadBalancer,
    VendorSecrets, WebhookSecrets,
)
# ComponentResources that are not components of their own: a shared base, constructed only through its subclasses.
NOT_SERVED: dict[type[pulumi.ComponentResource], str] = {
    RotatedSecrets: "the shared base of ScopedApiKeys, WebhookSecrets and DatabaseUserSecret (no Args of its own)",
}

# An ArgsError's message starts with `<ArgsClass>.<field path>: ` (contract 13 item 5, components/args.py).
_ARGS_ERROR_FIELD = re.compile(r"^\w+\.(?P<path>[\w.\[\]]+): ")


def package_version() -> str:
    """The installed distribution's version: the package, its SDKs and the Python library release together."""
    return importlib.metadata.version(DISTRIBUTION)


AST_PARSE_ATTEMPTS = 5


def _attribute_docstrings(typ: type) -> dict[str, str]:
    """{attribute: the string literal right after it} in the class's source, as the SDK's get_docstring reads them.

    The SDK parses with `ast` and swallows every exception; CPython 3.11's AST constructor races across threads
    (python/cpython#106905: `SystemError: AST constructor recursion depth mismatch`), which silently dropped a
    class's descriptions once in a loaded full test run. A racing parse is retried; a class without source has none.
    """
    try:
        source = inspect.getsource(typ)
    except (OSError, TypeError):
        return {}
    for attempt in range(AST_PARSE_ATTEMPTS):
        try:
            module = ast.parse(source)
            break
        except SystemError:
            if attempt == AST_PARSE_ATTEMPTS - 1:
                raise
    body = next(node for node in module.body if isinstance(node, ast.ClassDef)).body
    found: dict[str, str] = {}
    for node, following in zip(body, body[1:]):
        target = (node.target if isinstance(node, ast.AnnAssign)
                  else node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
        if (isinstance(target, ast.Name) and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant) and isinstance(following.value.value, str)):
            found[target.id] = following.value.value
    return found


class DataclassAnalyzer(Analyzer):
    """The SDK's schema analyzer, reading Args dataclasses as Python does.

    The SDK marks a property optional only when its annotation is Optional[...] or NotRequired[...]
    (analyzer.py, `analyze_type`/`analyze_property`). A dataclass field is optional exactly when it has a default
    (or default_factory): its constructor fills it in. So for dataclasses, required inputs are the fields without
    a default, whatever their annotation, and `init=False` fields (not constructor arguments) are not inputs.
    """

    def analyze_component(self, component: type[pulumi.ComponentResource]) -> ComponentDefinition:
        _refuse_string_annotations(f"{component.__name__}.__init__", component.__init__, only="args")
        definition = super().analyze_component(component)
        definition.description = _dedented(definition.description)
        return definition

    def analyze(self, components: list[type[pulumi.ComponentResource]]) -> AnalyzeResult:
        result = super().analyze(components)
        for type_definition in result["type_definitions"].values():
            type_definition.description = _dedented(type_definition.description)
        return result

    def get_docstring(self, typ: type, name: str) -> Optional[str]:
        # Filled here, so the SDK's lookup reads this cache and never parses: see _attribute_docstrings.
        if typ.__name__ not in self.docstrings:
            self.docstrings[typ.__name__] = _attribute_docstrings(typ)
        # The SDK takes class and attribute docstrings raw: a wrapped one keeps its source indentation.
        return _dedented(super().get_docstring(typ, name))

    def analyze_type(self, typ: type, *, is_component_output: bool
                     ) -> tuple[dict[str, PropertyDefinition], dict[str, str]]:
        for cls in typ.__mro__:
            if cls not in (object, pulumi.Resource, pulumi.ComponentResource):  # the SDK skips these too
                _refuse_string_annotations(cls.__name__, cls)
        properties, mapping = super().analyze_type(typ, is_component_output=is_component_output)
        if not dataclasses.is_dataclass(typ):
            return properties, mapping
        fields = {field.name: field for field in dataclasses.fields(typ)}
        for schema_name, python_name in list(mapping.items()):
            field = fields.get(python_name)
            if field is None:
                continue
            if not field.init:
                del properties[schema_name], mapping[schema_name]
                continue
            properties[schema_name].optional = (field.default is not dataclasses.MISSING
                                                or field.default_factory is not dataclasses.MISSING)
        return properties, mapping


def _dedented(docstring: Optional[str]) -> Optional[str]:
    return inspect.cleandoc(docstring) if docstring else docstring


def _refuse_string_annotations(owner: str, annotated: Any, only: Optional[str] = None) -> None:
    """The SDK follows annotations as objects; a string one (`from __future__ import annotations`, a quoted
    type) ends in an AttributeError deep in the analyzer. Say which, and why."""
    for name, annotation in inspect.get_annotations(annotated).items():
        if isinstance(annotation, str) and not name.startswith("_") and only in (None, name):
            raise TypeError(f"{owner}.{name}: the annotation {annotation!r} is a string; the schema analyzer reads "
                            "annotations as objects (no `from __future__ import annotations`, contract 13 item 2)")


class SecurestackProvider(ComponentProvider):
    """The SDK's ComponentProvider with `DataclassAnalyzer`, integers as integers and Args errors as input errors.

    - `__init__` is ComponentProvider's (component.py) with the analyzer swapped: the SDK builds its `Analyzer`
      inside `__init__`, with no hook to pass another. The schema also carries the package's description and
      license (metaschema fields the SDK leaves out).
    - Integers reach a provider as floats (protobuf Struct numbers are doubles). The SDK's `map_input_properties`
      converts them but then overwrites the result with the float (no `continue` after the conversion), leaves
      lists and maps of integers alone, and calls `int()` on an Output (TypeError). Here every integer property,
      item and map value is an `int`, also inside Outputs, and a non-integral number is an input error.
    - An ArgsError raised by a component's Args (`__post_init__`, as_args) becomes an InputPropertyError naming
      the property, which the SDK's gRPC servicer returns as INVALID_ARGUMENT with that path and reason (one
      line), instead of an exception text with a stack trace (server.py, `Construct`).
    """

    def __init__(self, components: Sequence[type[pulumi.ComponentResource]] = COMPONENTS,
                 name: str = PACKAGE_NAME, version: Optional[str] = None,
                 namespace: Optional[str] = None) -> None:
        version = version or package_version()
        self._name = name
        self.analyzer = DataclassAnalyzer(name)
        result = self.analyzer.analyze(list(components))
        self._components = {component.__name__: component for component in components}
        self._component_defs = result["component_definitions"]
        self._type_defs = result["type_definitions"]
        self._external_enum_types = result["external_enum_types"]
        self._dependencies = sorted(result["dependencies"], key=lambda d: f"{d.name}{d.version}")
        schema = generate_schema(name, version, namespace, self._component_defs, self._type_defs,
                                 self._dependencies).to_json()
        schema.update(_package_metadata())
        Provider.__init__(self, version, json.dumps(schema))

    def map_input_properties(self, inputs: Any, properties: dict[str, PropertyDefinition],
                             mapping: dict[str, str], component_name: str, property_path: str) -> Any:
        # The SDK maps the names and checks required inputs; integer properties go through it untyped (so its
        # broken conversion does not run) and are converted here.
        integral = {name for name, prop in properties.items() if _holds_integers(prop)}
        untyped = {name: dataclasses.replace(prop, type=None) if prop.type == PropertyType.INTEGER else prop
                   for name, prop in properties.items()}
        mapped = dict(super().map_input_properties(inputs, untyped, mapping, component_name, property_path))
        for schema_name in integral:
            python_name = mapping[schema_name]
            if python_name in mapped:
                path = f"{property_path}.{schema_name}" if property_path else schema_name
                mapped[python_name] = _as_integers(mapped[python_name], properties[schema_name], path)
        return mapped

    def construct(self, name: str, resource_type: str, inputs: Any,
                  options: Optional[pulumi.ResourceOptions] = None) -> ConstructResult:
        try:
            return super().construct(name, resource_type, inputs, options)
        except ComponentInitError as error:
            if isinstance(error.inner, ArgsError):
                raise InputPropertyError(args_error_property(error.inner), str(error.inner)) from None
            raise

    @property
    def schema_json(self) -> dict[str, Any]:
        """The package schema, as `GetSchema` answers it."""
        schema: dict[str, Any] = json.loads(self.schema or "{}")
        return schema


def args_error_property(error: ArgsError) -> str:
    """The schema property path an ArgsError names (`EncryptedPostgresArgs.backup.retention_days: ...` ->
    `backup.retentionDays`); empty when it names the Args as a whole."""
    found = _ARGS_ERROR_FIELD.match(str(error))
    if found is None:
        return ""
    return ".".join(camel_case(part) for part in found.group("path").split("."))


def _holds_integers(prop: PropertyDefinition) -> bool:
    """An integer property, or a list or map (of lists or maps...) of integers."""
    if prop.type == PropertyType.INTEGER:
        return True
    inner = prop.items or prop.additional_properties
    return inner is not None and inner.ref is None and _holds_integers(inner)


def _as_integers(value: Any, prop: PropertyDefinition, path: str) -> Any:
    if isinstance(value, pulumi.Output):
        return value.apply(lambda resolved: _as_integers(resolved, prop, path))
    if prop.items is not None and isinstance(value, list):
        return [_as_integers(item, prop.items, f"{path}[{index}]") for index, item in enumerate(value)]
    if prop.additional_properties is not None and isinstance(value, dict):
        return {key: _as_integers(item, prop.additional_properties, f"{path}.{key}") for key, item in value.items()}
    if isinstance(value, float):
        if not value.is_integer():
            raise InputPropertyError(path, f"{path}: {value!r} is not an integer")
        return int(value)
    return value


def _package_metadata() -> dict[str, Any]:
    metadata = importlib.metadata.metadata(DISTRIBUTION)
    return {
        "description": metadata["Summary"],
        "license": (metadata.get_all("License-Expression") or metadata.get_all("License") or ["Apache-2.0"])[0],
        "keywords": ["pulumi", "aws", "category/infrastructure", "kind/component"],
    }


def serve(args: Sequence[str]) -> None:
    """Serve the package to the Pulumi engine (the plugin's entry point; `args` as the language host passes them:
    the engine address first)."""
    serve_provider(SecurestackProvider(), list(args))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`python -m securestack.components.package schema`: 0 printed, 1 a component the schema cannot describe,
    2 any other arguments (the engine serves the package through PulumiPlugin.yaml, never through this)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv != ["schema"]:
        given = f"got {' '.join(argv)!r}" if argv else "no command given"
        cli.print_error(f"{given}: usage: python -m securestack.components.package schema (prints the package "
                        "schema as JSON; the Pulumi engine serves the package through PulumiPlugin.yaml)")
        return cli.EXIT_UNUSABLE
    try:
        provider = SecurestackProvider()
    except Exception as error:  # noqa: BLE001 - the SDK's analyzer errors are one line naming the class and field
        cli.print_error(f"securestack schema: {error}")
        return cli.EXIT_FAILED
    print(json.dumps(provider.schema_json, indent=2, sort_keys=True))
    return cli.EXIT_OK


if __name__ == "__main__":
    cli.run(main)
