"""The component package (PulumiPlugin.yaml + components/package.py): its schema and Construct, without the CLI.

The machinery runs on fixture components (tests/support/component_fixtures.py) and on the shipped ones: the schema the
SDK's analyzer derives is checked against Pulumi's package metaschema and against the classes (inputs = Args fields,
required = fields without a default, outputs = class-level annotations, a description everywhere), and Construct
requests are served in-process by the SDK's servicer code on the recording engine (tests/support/component_package.py).
"""
import dataclasses
import importlib
import importlib.metadata
import inspect
import json
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import grpc
import pulumi
import pytest
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.errors import InputPropertyError
from pulumi.provider.experimental.util import camel_case
from pulumi.runtime.proto import errors_pb2, provider_pb2, status_pb2

import securestack.components
from securestack.components import package
from securestack.components.package import COMPONENTS, NOT_SERVED, SecurestackProvider, args_error_property
from securestack.infra.recording import decode_wire
from tests.support import plugin_engine
from tests.support.component_fixtures import FIXTURE_COMPONENTS
from tests.support.component_package import construct, metaschema_errors, provider_for
from tests.support.operator_cli import run_entry_point
from tests.support.project_copy import clean_environment

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "securestack:index:FixtureBucket"
VPC_URN = "urn:pulumi:dev::securestack::aws:ec2/vpc:Vpc::existing"
BUCKET_INPUTS = {"environment": "dev", "vpcId": "vpc-0123", "subnetIds": ["subnet-a", "subnet-b"]}


@pytest.fixture(scope="module")
def fixture_provider() -> SecurestackProvider:
    return provider_for(FIXTURE_COMPONENTS)


def args_class(component: type) -> type:
    return inspect.get_annotations(component.__init__)["args"]


def property_descriptions(prop: dict, path: str):
    yield path, prop.get("description")
    for key in ("items", "additionalProperties"):
        if key in prop:
            yield from property_descriptions(prop[key], f"{path}/{key}")


def descriptions(schema: dict):
    """(path, description) of everything the schema describes: resources, types, their properties (and items),
    enum values."""
    for token, resource in schema["resources"].items():
        yield f"resources/{token}", resource.get("description")
        for section in ("inputProperties", "properties"):
            for name, prop in resource.get(section, {}).items():
                yield from property_descriptions(prop, f"resources/{token}/{section}/{name}")
    for token, typ in schema.get("types", {}).items():
        yield f"types/{token}", typ.get("description")
        for name, prop in typ.get("properties", {}).items():
            yield from property_descriptions(prop, f"types/{token}/properties/{name}")
        for value in typ.get("enum", []):
            yield f"types/{token}/enum/{value['name']}", value.get("description")


def check_schema_follows_classes(schema: dict, components) -> None:
    assert set(schema["resources"]) == {f"securestack:index:{c.__name__}" for c in components}
    for component in components:
        resource = schema["resources"][f"securestack:index:{component.__name__}"]
        assert resource["isComponent"] is True
        fields = [f for f in dataclasses.fields(args_class(component)) if f.init]
        assert set(resource.get("inputProperties", {})) == {camel_case(f.name) for f in fields}, component
        required = {camel_case(f.name) for f in fields
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        assert set(resource["requiredInputs"]) == required, component
        outputs = {name for cls in component.__mro__ if cls not in (object, pulumi.Resource, pulumi.ComponentResource)
                   for name in inspect.get_annotations(cls) if not name.startswith("_")}
        assert set(resource["properties"]) == {camel_case(name) for name in outputs}, component
    for path, description in descriptions(schema):
        assert description and description.strip(), f"no description at {path}"
        # A dataclass without a docstring gets its signature as __doc__: that is no description.
        assert not re.fullmatch(r"[A-Za-z_]\w*\(.*\)", description, re.S), \
            f"a generated signature, not a description, at {path}"
        assert "\n " not in description, f"source indentation in the description at {path}"


def test_the_fixture_schema_follows_pulumi_s_package_metaschema(fixture_provider):
    assert metaschema_errors(fixture_provider.schema_json) == []


def test_the_metaschema_check_catches_a_broken_schema(fixture_provider):
    broken = {**fixture_provider.schema_json, "version": "0.13"}
    broken["resources"] = {**broken["resources"], "FixtureBucket": {}}
    errors = metaschema_errors(broken)
    assert any(error.startswith("version:") for error in errors)
    assert any(error.startswith("resources:") for error in errors)


def test_the_fixture_schema_follows_the_classes(fixture_provider):
    check_schema_follows_classes(fixture_provider.schema_json, FIXTURE_COMPONENTS)


def test_fields_with_a_default_are_optional_and_the_rest_required(fixture_provider):
    bucket = fixture_provider.schema_json["resources"][BUCKET]
    assert bucket["requiredInputs"] == ["environment", "subnetIds", "vpcId"]
    # Optional[...] without a default would be optional to the SDK's analyzer; a default makes it optional here.
    assert "retention" in bucket["inputProperties"] and "production" in bucket["inputProperties"]
    retention = fixture_provider.schema_json["types"]["securestack:index:Retention"]
    assert "required" not in retention  # every field has a default
    assert fixture_provider.schema_json["types"]["securestack:index:StorageTier"]["enum"][0]["value"] == "standard"


def test_the_schema_carries_the_distribution_s_name_version_and_license(fixture_provider):
    schema = fixture_provider.schema_json
    assert schema["name"] == "securestack"
    assert schema["version"] == package.package_version() == importlib.metadata.version("securestack")
    assert schema["license"] == "Apache-2.0"


def test_a_construct_returns_the_outputs_and_registers_the_children(fixture_provider):
    built = construct(fixture_provider, BUCKET, "data", {**BUCKET_INPUTS, "retention": {"days": 30}},
                      dependencies={"vpcId": [VPC_URN]})
    assert built.urn.endswith("securestack:index:FixtureBucket::data")
    children = {r.type: r for r in built.children()}
    bucket = children["aws:s3/bucket:Bucket"]
    assert built.state == {"bucketName": bucket.outputs["bucket"], "retentionDays": 30, "tier": "standard"}
    assert built.state_dependencies["bucketName"] == [bucket.urn]
    # Inputs from another resource keep their dependency; defaults the caller left out apply (protect: production).
    assert VPC_URN in bucket.dependencies and bucket.inputs["tags"]["vpc"] == "vpc-0123"
    assert bucket.options["protect"] is True
    lifecycle = children["aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"]
    assert lifecycle.inputs["rules"][0]["expiration"] == {"days": 30}
    assert lifecycle.inputs["rules"][0]["noncurrentVersionExpiration"] == {"noncurrentDays": 90}


def test_integers_reach_the_args_as_integers(fixture_provider):
    # The wire carries 30 as 30.0; Retention.__post_init__ refuses anything but an int.
    built = construct(fixture_provider, BUCKET, "data",
                      {**BUCKET_INPUTS, "retention": {"days": 30, "noncurrentDays": [7, 14]}})
    assert built.state["retentionDays"] == 30
    with pytest.raises(InputPropertyError) as refused:
        construct(fixture_provider, BUCKET, "data", {**BUCKET_INPUTS, "retention": {"days": 1.5}})
    assert refused.value.property_path == "retention.days"


def test_a_missing_required_input_is_one_line_naming_it(fixture_provider):
    with pytest.raises(InputPropertyError) as refused:
        construct(fixture_provider, BUCKET, "data", {"environment": "dev", "subnetIds": []})
    assert refused.value.property_path == "vpcId"
    assert refused.value.reason == "Missing required input 'vpcId' on 'FixtureBucket'"


def test_a_value_the_args_refuse_is_one_line_naming_the_property(fixture_provider):
    with pytest.raises(InputPropertyError) as refused:
        construct(fixture_provider, BUCKET, "data", {**BUCKET_INPUTS, "environment": "Dev-1"})
    assert refused.value.property_path == "environment"
    assert refused.value.reason == "FixtureBucketArgs.environment: 'Dev-1' is not lowercase letters and digits"
    assert "\n" not in refused.value.reason
    with pytest.raises(InputPropertyError) as refused:
        construct(fixture_provider, BUCKET, "data", {**BUCKET_INPUTS, "tier": "glacier"})
    assert refused.value.property_path == "tier"


def test_an_args_error_names_the_schema_property():
    from securestack.components.args import ArgsError

    assert args_error_property(ArgsError("EncryptedPostgresArgs.backup.retention_days: 0 < 1")) == \
        "backup.retentionDays"
    assert args_error_property(ArgsError("EncryptedPostgresArgs: unknown field(s) x (known: y)")) == ""


def test_a_string_annotation_is_refused_with_the_field_named():
    namespace: dict = {}
    exec("from __future__ import annotations\n"  # noqa: S102 - a module written the way the analyzer cannot read
         "import dataclasses, pulumi\n"
         "@dataclasses.dataclass\nclass LateArgs:\n    size: int = 1\n"
         "class Late(pulumi.ComponentResource):\n"
         "    def __init__(self, name, args: LateArgs, opts=None): ...\n", namespace)
    with pytest.raises(TypeError, match=r"^Late.__init__.args: the annotation 'LateArgs' is a string"):
        SecurestackProvider([namespace["Late"]])


def test_the_component_list_is_every_component_in_the_package():
    found = set()
    for module_info in pkgutil.iter_modules(securestack.components.__path__):
        module = importlib.import_module(f"securestack.components.{module_info.name}")
        found |= {value for value in vars(module).values()
                  if inspect.isclass(value) and issubclass(value, pulumi.ComponentResource)
                  and value.__module__ == module.__name__}
    assert set(COMPONENTS) | set(NOT_SERVED) == found
    assert not set(COMPONENTS) & set(NOT_SERVED)
    assert len(set(COMPONENTS)) == len(COMPONENTS)


def test_the_plugin_manifest_runs_the_root_entry_point_in_the_project_venv():
    manifest = yaml.safe_load((ROOT / "PulumiPlugin.yaml").read_text())
    assert manifest["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}
    # The language host runs `python <plugin dir>` when the directory has a __main__.py (RunPlugin).
    assert "serve(sys.argv[1:])" in (ROOT / "__main__.py").read_text()


# --- The shipped components (contract 13) ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped_provider() -> SecurestackProvider:
    return provider_for(COMPONENTS)


def test_the_package_schema_follows_pulumi_s_package_metaschema(shipped_provider):
    assert metaschema_errors(shipped_provider.schema_json) == []


def test_the_package_schema_follows_the_components(shipped_provider):
    check_schema_follows_classes(shipped_provider.schema_json, COMPONENTS)


def test_the_schema_command_prints_the_package_schema(shipped_provider):
    """Through the command's entry point in-process (exit code and streams as a process has them); the command as a
    real process is tests/test_cli_failures.py's (its "no command" case), so no second interpreter here."""
    def command(*args: str) -> subprocess.CompletedProcess:
        return run_entry_point(package.main, "securestack.components.package", args, ROOT, clean_environment())

    printed = command("schema")
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == shipped_provider.schema_json
    misused = command("schemas")
    assert misused.returncode == 2 and misused.stderr.count("\n") == 1 and misused.stderr.startswith("error: ")


def test_the_plugin_starts_as_the_language_host_runs_it_and_serves_the_schema(shipped_provider):
    # `python <plugin dir> <engine address>` (pulumi-language-python RunPlugin); the provider prints its port.
    with plugin_engine.engine() as (address, _, _), plugin_engine.plugin(address) as stub:
        answer = stub.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=60)
        info = stub.GetPluginInfo(empty_pb2.Empty(), timeout=60)
    assert json.loads(answer.schema) == shipped_provider.schema_json
    assert info.version == package.package_version()


ACCOUNT = "111111111111"
DATA_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
LOGS_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1c2d3e4f-5061-7283-94a5-b6c7d8e9f0a1"
CERTIFICATE = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/2d3e4f50-6172-8394-a5b6-c7d8e9f0a1b2"
POSTGRES_INPUTS = {"environment": "staging", "vpcId": "vpc-0a1b2c3d4e5f60718",
                   "privateSubnetIds": ["subnet-0a1b2c3d4e5f60011", "subnet-0a1b2c3d4e5f60012"],
                   "dataKeyArn": DATA_KEY, "logsKeyArn": LOGS_KEY}
EDGE_INPUTS = {"environment": "staging", "vpcId": "vpc-0a1b2c3d4e5f60718",
               "publicSubnetIds": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
               "logsKeyArn": LOGS_KEY, "certificate": {"certificateArn": CERTIFICATE}}


def test_encrypted_postgres_constructs_with_its_outputs_and_children(shipped_provider):
    built = construct(shipped_provider, "securestack:index:EncryptedPostgres", "db",
                      {**POSTGRES_INPUTS, "backupRetentionDays": 14}, dependencies={"vpcId": [VPC_URN]})
    children = built.children()
    (instance,) = [r for r in children if r.type == "aws:rds/instance:Instance"]
    (security_group,) = [r for r in children if r.type == "aws:ec2/securityGroup:SecurityGroup"]
    resource = shipped_provider.schema_json["resources"]["securestack:index:EncryptedPostgres"]
    assert set(built.state) <= set(resource["properties"]) and set(resource["required"]) - {"masterSecretArn"} <= \
        set(built.state)
    assert built.state["endpoint"] == instance.outputs["endpoint"]
    assert built.state["securityGroupId"] == security_group.id
    # The wire's 14.0 reached the Args as the integer they check; defaults filled the rest (production-grade).
    assert instance.inputs["backupRetentionPeriod"] == 14
    assert instance.inputs["storageEncrypted"] is True and instance.inputs["kmsKeyId"] == DATA_KEY
    assert instance.inputs["deletionProtection"] is True and instance.options["protect"] is True
    assert VPC_URN in security_group.dependencies


def test_tls_load_balancer_constructs_with_its_outputs_and_children(shipped_provider):
    built = construct(shipped_provider, "securestack:index:TlsLoadBalancer", "edge",
                      {**EDGE_INPUTS, "targetPort": 8443})
    children = built.children()
    (balancer,) = [r for r in children if r.type == "aws:lb/loadBalancer:LoadBalancer"]
    listeners = {r.inputs["port"]: r for r in children if r.type == "aws:lb/listener:Listener"}
    resource = shipped_provider.schema_json["resources"]["securestack:index:TlsLoadBalancer"]
    assert set(built.state) == set(resource["properties"])
    assert built.state["dnsName"] == balancer.outputs["dnsName"]
    assert built.state["certificateArn"] == CERTIFICATE == listeners[443].inputs["certificateArn"]
    assert listeners[443].inputs["protocol"] == "HTTPS"
    assert listeners[80].inputs["defaultActions"][0]["type"] == "redirect"
    assert any(r.type == "aws:wafv2/webAclAssociation:WebAclAssociation" for r in children)


def test_a_shipped_component_refuses_a_bad_input_in_one_line_naming_it(shipped_provider):
    with pytest.raises(InputPropertyError) as refused:
        construct(shipped_provider, "securestack:index:EncryptedPostgres", "db",
                  {**POSTGRES_INPUTS, "backupRetentionDays": 40})
    assert refused.value.property_path == "backupRetentionDays"
    assert refused.value.reason.startswith("EncryptedPostgresArgs.backup_retention_days: ")
    assert "\n" not in refused.value.reason
    with pytest.raises(InputPropertyError) as refused:
        construct(shipped_provider, "securestack:index:TlsLoadBalancer", "edge",
                  {key: value for key, value in EDGE_INPUTS.items() if key != "certificate"})
    assert refused.value.property_path == "certificate"


# --- Over the wire: the plugin process, driven as the engine drives it ------------------------------------------

def wire_construct(stub, address: str, monitor, type_token: str, name: str, inputs: dict):
    struct = struct_pb2.Struct()
    struct.update(inputs)
    return stub.Construct(provider_pb2.ConstructRequest(
        project="securestack", stack="dev", type=type_token, name=name, inputs=struct, monitorEndpoint=address,
        parent=monitor.root_urn(), config={"aws:region": "us-east-1"}), timeout=120)


def test_the_plugin_process_serves_construct_to_the_engine_s_monitor():
    with plugin_engine.engine() as (address, monitor, _), plugin_engine.plugin(address) as stub:
        answer = wire_construct(stub, address, monitor, "securestack:index:TlsLoadBalancer", "edge",
                                {**EDGE_INPUTS, "targetPort": 8443})
        state = decode_wire(json_format.MessageToDict(answer.state))
        children = [r for r in monitor.recorded if r.parent == answer.urn]
        (balancer,) = [r for r in children if r.type == "aws:lb/loadBalancer:LoadBalancer"]
        assert answer.urn == f"{monitor.root_urn().rsplit('::', 1)[0]}$securestack:index:TlsLoadBalancer::edge"
        assert state["dnsName"] == balancer.outputs["dnsName"] and state["certificateArn"] == CERTIFICATE
        (target_group,) = [r for r in children if r.type == "aws:lb/targetGroup:TargetGroup"]
        assert target_group.inputs["port"] == 8443

        # A value the Args refuse: INVALID_ARGUMENT with the property and one line (what the CLI prints).
        with pytest.raises(grpc.RpcError) as refused:
            wire_construct(stub, address, monitor, "securestack:index:TlsLoadBalancer", "edge2",
                           {**EDGE_INPUTS, "targetPort": 70000})
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = dict(refused.value.trailing_metadata())["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(details)
    errors = errors_pb2.InputPropertiesError()
    status.details[0].Unpack(errors)
    (error,) = errors.errors
    assert error.property_path == "targetPort"
    assert error.reason.startswith("TlsLoadBalancerArgs.target_port: ") and "\n" not in error.reason
