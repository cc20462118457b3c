"""The recording engine: runs the real stack program on Pulumi's mock engine and records every resource.

Each registration is captured from the raw gRPC request the SDK sends (so inputs carry engine, i.e. camelCase,
names, secrets and unknowns exactly as the engine sees them), together with its options and dependencies.
Invokes are answered with realistic shapes; resource outputs are synthesized from inputs plus computed
attributes (ids, ARNs, endpoints) so downstream inputs look like they would after `pulumi up`; with
`preview=True` the computed attributes are unknown instead, as in `pulumi preview` of a new stack.
"""
from __future__ import annotations

import base64
import contextvars
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings as runtime_settings
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

DEFAULT_ACCOUNT_ID = "111111111111"
MASK = "[secret]"
UNKNOWN_TEXT = "[unknown]"


class Unknown:
    """A value the engine does not know yet (during a preview): `Output`s of resources not yet created."""

    _instance: Optional["Unknown"] = None

    def __new__(cls) -> "Unknown":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return UNKNOWN_TEXT


UNKNOWN = Unknown()


class AssetValue(dict[str, Any]):
    """An asset or archive as the engine sent it ({"path"}, {"text"}, {"uri"} or {"assets"}), its signature kept
    apart: printed as the plain object, marshalled back with the signature for the policy analyzer, which hands
    policies a pulumi.FileAsset/StringAsset/... as the real engine does (pulumi_policy/deserialize.py), never a
    mapping of strings."""

    def __init__(self, signature: str, fields: dict[str, Any]):
        super().__init__(fields)
        self.signature = signature


class Secret:
    """A secret input. Holds the value only in memory (the policy analyzer sees it too); never prints it."""

    __slots__ = ("_value",)

    def __init__(self, value: Any):
        self._value = value

    def reveal(self) -> Any:
        return self._value

    def __repr__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    __hash__ = None  # type: ignore[assignment]


@dataclass
class RecordedResource:
    urn: str
    type: str
    name: str
    parent: Optional[str]
    custom: bool
    inputs: dict[str, Any]
    options: dict[str, Any]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    provider: Optional[str] = None
    id: Optional[str] = None
    outputs: dict[str, Any] = field(default_factory=dict)
    # The aliases the engine got, as their wire form ({"spec": {...}} or {"urn": ...}); not part of `to_json`
    # (the stack's resources and options as shown), only what a replay of the registration needs (bench/preview.py).
    aliases: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "inputs": masked(self.inputs),
            "options": self.options,
            "dependencies": self.dependencies,
            "propertyDependencies": self.property_dependencies,
            "outputs": masked(self.outputs),
        }


@dataclass
class Recording:
    project: str
    stack: str
    resources: list[RecordedResource]
    stack_outputs: dict[str, Any]
    stack_urn: Optional[str] = None
    preview: bool = False  # recorded as `pulumi preview` of a new stack: outputs not yet known

    def of_type(self, *types: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type in types]

    def one(self, type_: str, name_suffix: str = "") -> RecordedResource:
        found = [r for r in self.of_type(type_) if r.name.endswith(name_suffix)]
        if len(found) != 1:
            raise LookupError(f"expected one {type_} named *{name_suffix}, found {[r.name for r in found]}")
        return found[0]

    def by_urn(self, urn: str) -> RecordedResource:
        for resource in self.resources:
            if resource.urn == urn:
                return resource
        raise KeyError(urn)

    def to_json(self) -> dict[str, Any]:
        return {"resources": [r.to_json() for r in self.resources], "outputs": masked(self.stack_outputs)}


def masked(value: Any) -> Any:
    """JSON-ready copy: secrets masked, unknowns spelled out."""
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, Unknown):
        return UNKNOWN_TEXT
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [masked(v) for v in value]
    return value


# Strings at least this long are kept once per recording (TextPool): the serialized provider every dynamic
# SecretReadiness sends (`__provider`, ~16 KB, the same text for each of a stack's thousands of API keys) was
# otherwise held in each one's recorded inputs and outputs and in the mock engine's state: three copies per key,
# ~140 MB at 3,000 keys (issue 16, target 3). Shorter strings are not worth a lookup.
SHARED_TEXT_MIN_LENGTH = 1024


class TextPool:
    """One object per distinct long string: equal values, so nothing a reader sees changes (str is immutable)."""

    __slots__ = ("_texts",)

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}

    def share(self, text: str) -> str:
        return self._texts.setdefault(text, text) if len(text) >= SHARED_TEXT_MIN_LENGTH else text

    def share_values(self, props: dict[str, Any]) -> dict[str, Any]:
        """`props` with its top-level long strings shared (where the serialized provider sits)."""
        return {key: self.share(value) if isinstance(value, str) else value for key, value in props.items()}


def decode_wire(value: Any, texts: Optional[TextPool] = None) -> Any:
    """Wire form (protobuf Struct as JSON) -> Python with `Secret`/`UNKNOWN` markers; resource refs -> urn.
    Long strings go through `texts`, when given, so equal ones are held once."""
    if isinstance(value, str):
        if value == rpc.UNKNOWN:
            return UNKNOWN
        return texts.share(value) if texts is not None else value
    if isinstance(value, list):
        return [decode_wire(v, texts) for v in value]
    if isinstance(value, dict):
        signature = value.get(rpc._special_sig_key)
        if signature == rpc._special_secret_sig:
            return Secret(decode_wire(value.get("value"), texts))
        if signature == rpc._special_resource_sig:
            return value.get("urn")
        if signature == rpc._special_output_value_sig:
            inner = decode_wire(value["value"], texts) if "value" in value else UNKNOWN
            return Secret(inner) if value.get("secret") else inner
        if signature in (rpc._special_asset_sig, rpc._special_archive_sig):
            return AssetValue(signature, {k: decode_wire(v, texts) for k, v in value.items()
                                          if k != rpc._special_sig_key})
        return {k: decode_wire(v, texts) for k, v in value.items()}
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# ---------------------------------------------------------------------------------------------------------------
# Synthesized outputs and invoke answers
# ---------------------------------------------------------------------------------------------------------------

ID_PREFIXES = {
    "aws:ec2/vpc:Vpc": "vpc-", "aws:ec2/subnet:Subnet": "subnet-", "aws:ec2/securityGroup:SecurityGroup": "sg-",
    "aws:ec2/internetGateway:InternetGateway": "igw-", "aws:ec2/routeTable:RouteTable": "rtb-",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce-", "aws:ec2/flowLog:FlowLog": "fl-",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg-", "aws:ec2/natGateway:NatGateway": "nat-",
    "aws:ec2/eip:Eip": "eipalloc-", "aws:ec2/networkAcl:NetworkAcl": "acl-",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr-",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr-",
}


def _digest(text: str, length: int = 17) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def autoname(logical_name: str, urn: str) -> str:
    """What Pulumi's auto-naming would pick: the logical name plus a random 7-char suffix (stable here)."""
    return f"{logical_name}-{_digest(urn, 7)}"


@dataclass(frozen=True)
class MockEnvironment:
    account_id: str = DEFAULT_ACCOUNT_ID
    region: str = "us-east-1"
    partition: str = "aws"

    @property
    def availability_zones(self) -> list[str]:
        return [f"{self.region}{suffix}" for suffix in "abcdef"]


MockArgs = pulumi_mocks.MockResourceArgs
Props = dict[str, Any]  # a resource's inputs or outputs, engine (camelCase) names
OutputShaper = Callable[[pulumi_mocks.MockResourceArgs, dict[str, Any], MockEnvironment, str], dict[str, Any]]


def _region_of(inputs: dict[str, Any], env: MockEnvironment) -> str:
    region = inputs.get("region")
    return region if isinstance(region, str) else env.region


def _arn(env: MockEnvironment, inputs: dict[str, Any], service: str, resource: str, global_: bool = False) -> str:
    region = "" if global_ else _region_of(inputs, env)
    account = "" if service == "s3" else env.account_id
    return f"arn:{env.partition}:{service}:{region}:{account}:{resource}"


def _named(args: pulumi_mocks.MockResourceArgs, inputs: dict[str, Any], key: str = "name") -> str:
    value = inputs.get(key)
    return value if isinstance(value, str) else autoname(args.name, f"{args.typ}::{args.name}")


def _kms_key(args: MockArgs, inputs: Props, env: MockEnvironment, rid: str) -> Props:
    key_id = f"{_digest(rid, 8)}-{_digest(rid + '1', 4)}-{_digest(rid + '2', 4)}-{_digest(rid + '3', 4)}-" \
             f"{_digest(rid + '4', 12)}"
    return {"keyId": key_id, "arn": _arn(env, inputs, "kms", f"key/{key_id}"), "id": key_id}


def _sns_subscription(args: MockArgs, inputs: Props, env: MockEnvironment, rid: str) -> Props:
    """A subscription's ARN is its topic's plus a UUID."""
    topic = inputs.get("topic")
    topic_arn = topic if isinstance(topic, str) else _arn(env, inputs, "sns", "unknown-topic")
    return {"arn": f"{topic_arn}:{rid[:8]}-{rid[8:12]}-{rid[12:16]}-{rid[16:20]}-{rid[20:32]}",
            "ownerId": env.account_id, "confirmationWasAuthenticated": False, "pendingConfirmation": True}


def _rds_instance(args: MockArgs, inputs: Props, env: MockEnvironment, rid: str) -> Props:
    identifier = _named(args, inputs, "identifier")
    address = f"{identifier}.c{_digest(rid, 11)}.{_region_of(inputs, env)}.rds.amazonaws.com"
    port = int(inputs.get("port") or 5432)  # mock inputs carry numbers as floats: no "...:5432.0" endpoints
    outputs = {"identifier": identifier, "address": address, "endpoint": f"{address}:{port}", "port": port,
               "arn": _arn(env, inputs, "rds", f"db:{identifier}"), "resourceId": f"db-{_digest(rid, 26).upper()}",
               "hostedZoneId": "Z2R2ITUGPM61AM", "engineVersionActual": f"{inputs.get('engineVersion', '16')}.4"}
    if inputs.get("manageMasterUserPassword"):
        outputs["masterUserSecrets"] = [{
            "secretArn": _arn(env, inputs, "secretsmanager", f"secret:rds!db-{_digest(rid, 8)}-AbCdEf"),
            "kmsKeyId": inputs.get("masterUserSecretKmsKeyId"), "secretStatus": "active"}]
    return outputs


def _load_balancer(args: MockArgs, inputs: Props, env: MockEnvironment, rid: str) -> Props:
    name = _named(args, inputs)
    suffix = f"app/{name}/{_digest(rid, 16)}"
    return {"name": name, "arn": _arn(env, inputs, "elasticloadbalancing", f"loadbalancer/{suffix}"),
            "arnSuffix": suffix, "dnsName": f"{name}-{_digest(rid, 10)}.{_region_of(inputs, env)}.elb.amazonaws.com",
            "zoneId": "Z35SXDOTRQ7X7K"}


def _s3_bucket(args: MockArgs, inputs: Props, env: MockEnvironment, rid: str) -> Props:
    name = _named(args, inputs, "bucket")
    region = _region_of(inputs, env)
    return {"bucket": name, "id": name, "arn": f"arn:{env.partition}:s3:::{name}", "region": region,
            "bucketDomainName": f"{name}.s3.amazonaws.com",
            "bucketRegionalDomainName": f"{name}.s3.{region}.amazonaws.com"}


def _acm_certificate(args: MockArgs, inputs: Props, env: MockEnvironment, rid: str) -> Props:
    """A DNS-validated certificate: one CNAME challenge per name, as ACM hands them out."""
    certificate_id = f"{rid[:8]}-{rid[8:12]}-{rid[12:16]}-{rid[16:20]}-{rid[20:32]}"
    names = [inputs.get("domainName"), *(inputs.get("subjectAlternativeNames") or [])]
    options = [{"domainName": name, "resourceRecordName": f"_{_digest(name, 32)}.{name}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": f"_{_digest(name + rid, 32)}.{_digest(rid, 10)}.acm-validations.aws."}
               for name in names if isinstance(name, str)]
    return {"arn": _arn(env, inputs, "acm", f"certificate/{certificate_id}"), "status": "PENDING_VALIDATION",
            "domainValidationOptions": options if inputs.get("validationMethod") == "DNS" else [],
            "keyAlgorithm": inputs.get("keyAlgorithm") or "RSA_2048"}


def _route53_record(args: MockArgs, inputs: Props, env: MockEnvironment, rid: str) -> Props:
    name = inputs.get("name")
    fqdn = name.rstrip(".") if isinstance(name, str) else UNKNOWN_TEXT
    return {"fqdn": fqdn, "id": f"{inputs.get('zoneId')}_{fqdn}_{inputs.get('type')}"}


def _random_id(args: MockArgs, inputs: Props, env: MockEnvironment, rid: str) -> Props:
    """pulumi_random's RandomId: `byteLength` random bytes (stable here) in its encodings; the id is b64Url."""
    raw = bytes.fromhex(_digest(rid, 2 * int(inputs.get("byteLength") or 8)))
    b64_url = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return {"hex": raw.hex(), "dec": str(int.from_bytes(raw, "big")), "id": b64_url, "b64Url": b64_url,
            "b64Std": base64.b64encode(raw).decode()}


def _lambda_function(args: MockArgs, inputs: Props, env: MockEnvironment, rid: str) -> Props:
    name = _named(args, inputs)
    arn = _arn(env, inputs, "lambda", f"function:{name}")
    invoke = f"arn:{env.partition}:apigateway:{_region_of(inputs, env)}:lambda:path/2015-03-31/functions/{arn}/invocations"
    return {"name": name, "arn": arn, "qualifiedArn": f"{arn}:$LATEST", "invokeArn": invoke, "version": "$LATEST",
            "codeSha256": inputs.get("sourceCodeHash"), "lastModified": "2026-01-01T00:00:00.000+0000"}


def _ecs_service(args: MockArgs, inputs: Props, env: MockEnvironment, rid: str) -> Props:
    """ECS service ARNs carry the cluster's name (the input is the cluster's ARN or name)."""
    name = _named(args, inputs)
    cluster = inputs.get("cluster")
    cluster_name = cluster.rsplit("/", 1)[-1] if isinstance(cluster, str) else "default"
    arn = _arn(env, inputs, "ecs", f"service/{cluster_name}/{name}")
    return {"name": name, "arn": arn, "id": arn}


def _ecs_task_definition(args: MockArgs, inputs: Props, env: MockEnvironment, rid: str) -> Props:
    family = _named(args, inputs, "family")
    without_revision = _arn(env, inputs, "ecs", f"task-definition/{family}")
    return {"family": family, "revision": 1, "arn": f"{without_revision}:1", "arnWithoutRevision": without_revision,
            "id": family}


def _secret_readiness(args: MockArgs, inputs: Props, env: MockEnvironment, rid: str) -> Props:
    """components/secret_readiness.py: its id is the secret's ARN; a new secret's first rotation was started."""
    arn = inputs.get("secretArn")
    return {"id": arn if isinstance(arn, str) else f"secret-readiness-{rid[:8]}", "firstRotationStarted": True}


def _simple(service: str, resource_format: str, name_key: str = "name", global_: bool = False) -> OutputShaper:
    def shape(args: MockArgs, inputs: Props, env: MockEnvironment, rid: str) -> Props:
        name = _named(args, inputs, name_key)
        return {name_key: name, "arn": _arn(env, inputs, service, resource_format.format(name=name, rid=rid[:8]),
                                            global_)}
    return shape


def _uuid(rid: str) -> str:
    return f"{rid[:8]}-{rid[8:12]}-{rid[12:16]}-{rid[16:20]}-{rid[20:32]}"


def _signing_profile(args: MockArgs, inputs: Props, env: MockEnvironment, rid: str) -> Props:
    """Signer profiles: the provider appends a unique suffix to name_prefix; the version ARN adds the version."""
    prefix = inputs.get("namePrefix")
    name = inputs.get("name") if isinstance(inputs.get("name"), str) else \
        f"{prefix if isinstance(prefix, str) else 'terraform_'}{int(rid[:20], 16) % 10 ** 26:026d}"
    arn = _arn(env, inputs, "signer", f"/signing-profiles/{name}")
    version = rid[:10]
    return {"name": name, "id": name, "arn": arn, "version": version, "versionArn": f"{arn}/{version}",
            "status": "Active", "platformDisplayName": "AWS Lambda"}


def _signing_job(args: MockArgs, inputs: Props, env: MockEnvironment, rid: str) -> Props:
    """A finished job: Signer writes the signed copy as <destination prefix><job id>.zip."""
    job_id = _uuid(rid)
    destination = (inputs.get("destination") or {}).get("s3") or {}
    bucket, prefix = destination.get("bucket"), destination.get("prefix") or ""
    signed_key = f"{prefix}{job_id}.zip" if isinstance(prefix, str) else UNKNOWN_TEXT
    return {"id": job_id, "jobId": job_id, "status": "Succeeded", "jobOwner": env.account_id,
            "platformId": "AWSLambda-SHA384-ECDSA", "signedObjects": [{"s3s": [{"bucket": bucket, "key": signed_key}]}]}


def _bucket_object(args: MockArgs, inputs: Props, env: MockEnvironment, rid: str) -> Props:
    """An object in a versioned bucket: S3 answers the PUT with the new version's id."""
    key, bucket = inputs.get("key"), inputs.get("bucket")
    return {"id": key, "versionId": f"v{_digest(rid + str(inputs.get('sourceHash')), 31)}",
            "arn": f"arn:{env.partition}:s3:::{bucket}/{key}", "etag": _digest(rid, 32)}


def _code_signing_config(args: MockArgs, inputs: Props, env: MockEnvironment, rid: str) -> Props:
    config_id = f"csc-{rid[:17]}"
    return {"id": _arn(env, inputs, "lambda", f"code-signing-config:{config_id}"), "configId": config_id,
            "arn": _arn(env, inputs, "lambda", f"code-signing-config:{config_id}")}


OUTPUT_SHAPERS: dict[str, OutputShaper] = {
    "aws:kms/key:Key": _kms_key,
    "aws:rds/instance:Instance": _rds_instance,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:alb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:iam/role:Role": _simple("iam", "role/{name}", global_=True),
    "aws:iam/policy:Policy": _simple("iam", "policy/{name}", global_=True),
    "aws:s3/bucket:Bucket": _s3_bucket,
    "aws:s3/bucketV2:BucketV2": _simple("s3", "{name}", "bucket", global_=True),
    "aws:cloudwatch/logGroup:LogGroup": _simple("logs", "log-group:{name}"),
    "aws:secretsmanager/secret:Secret": _simple("secretsmanager", "secret:{name}-AbCdEf"),
    "aws:lambda/function:Function": _lambda_function,
    "aws:ecs/service:Service": _ecs_service,
    "aws:ecs/taskDefinition:TaskDefinition": _ecs_task_definition,
    "aws:sns/topic:Topic": _simple("sns", "{name}"),
    "aws:rds/parameterGroup:ParameterGroup": _simple("rds", "pg:{name}"),
    "aws:rds/subnetGroup:SubnetGroup": _simple("rds", "subgrp:{name}"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _simple("cloudwatch", "alarm:{name}"),
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": lambda args, inputs, env, rid: {"id": _named(args, inputs)},
    "aws:sns/topicSubscription:TopicSubscription": _sns_subscription,
    "aws:kms/alias:Alias": _simple("kms", "{name}"),
    "aws:backup/vault:Vault": _simple("backup", "backup-vault:{name}"),
    "aws:backup/plan:Plan": _simple("backup", "backup-plan:{rid}"),
    "aws:ecs/cluster:Cluster": _simple("ecs", "cluster/{name}"),
    "aws:cloudtrail/trail:Trail": _simple("cloudtrail", "trail/{name}"),
    "aws:wafv2/webAcl:WebAcl": _simple("wafv2", "regional/webacl/{name}/{rid}"),
    "aws:lb/targetGroup:TargetGroup": _simple("elasticloadbalancing", "targetgroup/{name}/{rid}"),
    "aws:lb/listener:Listener": _simple("elasticloadbalancing", "listener/app/{rid}"),
    "aws:acm/certificate:Certificate": _acm_certificate,
    "aws:route53/record:Record": _route53_record,
    "random:index/randomId:RandomId": _random_id,
    "pulumi-python:dynamic/securestack:SecretReadiness": _secret_readiness,
    "aws:signer/signingProfile:SigningProfile": _signing_profile,
    "aws:signer/signingJob:SigningJob": _signing_job,
    "aws:s3/bucketObjectv2:BucketObjectv2": _bucket_object,
    "aws:lambda/codeSigningConfig:CodeSigningConfig": _code_signing_config,
}


def _invoke_caller_identity(args: dict[str, Any], env: MockEnvironment) -> dict[str, Any]:
    return {"accountId": env.account_id, "arn": f"arn:{env.partition}:iam::{env.account_id}:role/deployer",
            "userId": "AROAEXAMPLEDEPLOYER:ci", "id": env.account_id}


def _invoke_region(args: dict[str, Any], env: MockEnvironment) -> dict[str, Any]:
    region = args.get("region") or env.region
    return {"region": region, "name": region, "id": region, "endpoint": f"ec2.{region}.amazonaws.com",
            "description": region}


def _invoke_partition(args: dict[str, Any], env: MockEnvironment) -> dict[str, Any]:
    return {"partition": env.partition, "id": env.partition, "dnsSuffix": "amazonaws.com",
            "reverseDnsPrefix": "com.amazonaws"}


def _invoke_availability_zones(args: dict[str, Any], env: MockEnvironment) -> dict[str, Any]:
    names = env.availability_zones
    return {"names": names, "zoneIds": [f"use1-az{i + 1}" for i in range(len(names))], "id": env.region,
            "state": "available", "groupNames": [env.region]}


def _invoke_prefix_list(args: dict[str, Any], env: MockEnvironment) -> dict[str, Any]:
    """AWS-managed prefix lists, e.g. com.amazonaws.<region>.s3 (what the S3 gateway endpoint routes)."""
    name = args.get("name") or f"com.amazonaws.{env.region}.s3"
    prefix_list_id = f"pl-{_digest(name, 8)}"
    return {"id": prefix_list_id, "prefixListId": prefix_list_id, "name": name,
            "cidrBlocks": ["52.216.0.0/15", "3.5.0.0/19"], "filters": []}


def _invoke_policy_document(args: dict[str, Any], env: MockEnvironment) -> dict[str, Any]:
    """Renders aws.iam.get_policy_document's statements as IAM JSON, as the provider does."""
    statements = []
    for item in args.get("statements") or []:
        statement: dict[str, Any] = {}
        if item.get("sid"):
            statement["Sid"] = item["sid"]
        statement["Effect"] = item.get("effect", "Allow")
        for key, target in (("actions", "Action"), ("notActions", "NotAction"), ("resources", "Resource"),
                            ("notResources", "NotResource")):
            if item.get(key):
                values = item[key]
                statement[target] = values[0] if len(values) == 1 else values
        for key, target in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
            if item.get(key):
                principal: dict[str, Any] = {}
                for p in item[key]:
                    ids = p["identifiers"]
                    principal[p["type"]] = ids[0] if len(ids) == 1 else ids
                statement[target] = "*" if principal == {"*": "*"} else principal
        if item.get("conditions"):
            condition: dict[str, dict[str, Any]] = {}
            for c in item["conditions"]:
                values = c["values"]
                condition.setdefault(c["test"], {})[c["variable"]] = values[0] if len(values) == 1 else values
            statement["Condition"] = condition
        statements.append(statement)
    document = {"Version": "2012-10-17", "Statement": statements}
    text = json.dumps(document, indent=2)
    return {"json": text, "minifiedJson": json.dumps(document, separators=(",", ":")), "id": _digest(text, 10)}


INVOKES: dict[str, Callable[[dict[str, Any], MockEnvironment], dict[str, Any]]] = {
    "aws:index/getCallerIdentity:getCallerIdentity": _invoke_caller_identity,
    "aws:index/getRegion:getRegion": _invoke_region,
    "aws:index/getPartition:getPartition": _invoke_partition,
    "aws:index/getAvailabilityZones:getAvailabilityZones": _invoke_availability_zones,
    "aws:iam/getPolicyDocument:getPolicyDocument": _invoke_policy_document,
    "aws:ec2/getPrefixList:getPrefixList": _invoke_prefix_list,
}


# Outputs a provider knows while planning a create: the auto-name Pulumi picks at `Check` (shown by `pulumi preview`)
# and the region taken from the provider's configuration. Every other computed output is unknown until created.
KNOWN_WHILE_PLANNING = frozenset({"name", "bucket", "identifier", "region"})


def preview_outputs(inputs: dict[str, Any], computed: dict[str, Any]) -> dict[str, Any]:
    """What the engine answers a registration with during `pulumi preview` of a new stack: no id, the inputs as
    given, and every computed output (ids, ARNs, endpoints) as the unknown sentinel. The program sees them as
    unknown `Output`s and the recording (and the stack policies) as `UNKNOWN`, as in the real engine."""
    unknown = {key: rpc.UNKNOWN for key in computed if key not in inputs and key not in KNOWN_WHILE_PLANNING}
    known = {key: value for key, value in computed.items() if key not in inputs and key in KNOWN_WHILE_PLANNING}
    return {**inputs, **known, **unknown, "id": rpc.UNKNOWN}


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self, environment: MockEnvironment, preview: bool = False, texts: Optional[TextPool] = None):
        self.environment = environment
        self.preview = preview
        self.invokes: list[tuple[str, dict[str, Any]]] = []
        # MockMonitor keeps every answer as the resource's state (pulumi/runtime/mocks.py `self.resources`).
        self.texts = texts or TextPool()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[Optional[str], dict[str, Any]]:
        urn_hint = f"{args.typ}::{args.name}"
        inputs = self.texts.share_values(dict(args.inputs))
        shaper = OUTPUT_SHAPERS.get(args.typ)
        computed = shaper(args, inputs, self.environment, _digest(urn_hint, 32)) if shaper else {}
        resource_id = args.resource_id or computed.pop("id", None) or \
            f"{ID_PREFIXES.get(args.typ, args.name + '-')}{_digest(urn_hint)}"
        computed.setdefault("arn", _generic_arn(args.typ, resource_id, inputs, self.environment))
        if args.typ.startswith("pulumi:providers:"):
            return resource_id, {**inputs, "id": resource_id}
        if self.preview:
            return None, preview_outputs(inputs, computed)
        return resource_id, {**inputs, **computed, "id": resource_id}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], Optional[list[tuple[str, str]]]]:
        handler = INVOKES.get(args.token)
        if handler is None:
            raise NotImplementedError(f"the recording engine has no answer for invoke {args.token}")
        self.invokes.append((args.token, dict(args.args)))
        return handler(dict(args.args), self.environment), []


def _generic_arn(type_token: str, resource_id: str, inputs: dict[str, Any], env: MockEnvironment) -> str:
    module = type_token.split(":")[1].split("/")[0]
    kind = type_token.split(":")[-1].lower()
    return _arn(env, inputs, module, f"{kind}/{resource_id}")


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """MockMonitor that keeps what the engine would see of each registration."""

    def __init__(self, mocks: RecordingMocks):
        super().__init__(mocks)
        self.texts = mocks.texts
        self.recorded: list[RecordedResource] = []
        self.stack_urn: Optional[str] = None
        self.stack_outputs: dict[str, Any] = {}

    # MockMonitor's methods are unannotated upstream (pulumi/runtime/mocks.py): hence the narrow ignores.
    def RegisterResource(self, request: resource_pb2.RegisterResourceRequest) -> resource_pb2.RegisterResourceResponse:
        response: resource_pb2.RegisterResourceResponse = \
            super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = response.urn
            return response
        self.recorded.append(self._record(request, response))
        return response

    def RegisterResourceOutputs(self, request: resource_pb2.RegisterResourceOutputsRequest) -> Any:
        if request.urn == self.stack_urn:
            self.stack_outputs = decode_wire(json_format.MessageToDict(request.outputs))
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]

    def _record(self, request: resource_pb2.RegisterResourceRequest,
                response: resource_pb2.RegisterResourceResponse) -> RecordedResource:
        inputs = decode_wire(json_format.MessageToDict(request.object), self.texts)
        outputs = secret_outputs(decode_wire(json_format.MessageToDict(response.object), self.texts),
                                 request.additionalSecretOutputs)
        options = {
            "protect": request.protect if request.HasField("protect") else False,
            "retainOnDelete": request.retainOnDelete if request.HasField("retainOnDelete") else False,
            "ignoreChanges": list(request.ignoreChanges),
            # The SDK sends explicit and input-derived dependencies together; explicit = the rest.
            "dependsOn": sorted(set(request.dependencies) - _input_dependencies(request)),
            "additionalSecretOutputs": list(request.additionalSecretOutputs),
            "deleteBeforeReplace": request.deleteBeforeReplace,
            "replaceOnChanges": list(request.replaceOnChanges),
            "provider": request.provider or None,
        }
        property_dependencies = {key: list(deps.urns) for key, deps in request.propertyDependencies.items()}
        dependencies = sorted(set(request.dependencies) | {u for urns in property_dependencies.values() for u in urns})
        return RecordedResource(
            urn=response.urn, type=request.type, name=request.name, parent=request.parent or None,
            custom=request.custom, inputs=inputs, options=options, dependencies=dependencies,
            property_dependencies=property_dependencies, provider=request.provider or None,
            id=response.id or None, outputs=outputs,
            aliases=[json_format.MessageToDict(alias) for alias in request.aliases])


def secret_outputs(outputs: dict[str, Any], additional: Any) -> dict[str, Any]:
    """The engine marks the outputs a registration lists in `additionalSecretOutputs` secret (pulumi-aws lists its
    schema's secret properties there), so stack state, policies and `--json` never see them in clear."""
    return {key: Secret(value) if key in additional and not isinstance(value, (Secret, Unknown)) else value
            for key, value in outputs.items()}


def _input_dependencies(request: resource_pb2.RegisterResourceRequest) -> set[str]:
    return {urn for deps in request.propertyDependencies.values() for urn in deps.urns}


def _deploying_account(config: Mapping[str, str]) -> str:
    """The account the stack deploys to: the first of aws:allowedAccountIds (ARNs and policies name it)."""
    try:
        accounts = json.loads(config.get("aws:allowedAccountIds") or "[]")
    except (TypeError, json.JSONDecodeError):
        return DEFAULT_ACCOUNT_ID
    first = accounts[0] if isinstance(accounts, list) and accounts else None
    return first if isinstance(first, str) and first.isdigit() and len(first) == 12 else DEFAULT_ACCOUNT_ID


def record(program: Callable[[], Any], *, stack: str, config: Mapping[str, str], project: str = "securestack",
           secret_keys: Optional[list[str]] = None, preview: bool = False,
           environment: Optional[MockEnvironment] = None) -> Recording:
    """Runs `program` as `pulumi up` (or preview) would, on mocks, in an isolated context; returns the recording.

    Raises whatever the program raises (e.g. SettingsError) after outstanding registrations settle.
    """
    region = config.get("aws:region")
    environment = environment or MockEnvironment(account_id=_deploying_account(config),
                                                 region=region if isinstance(region, str) else "us-east-1")
    mocks = RecordingMocks(environment, preview=preview)
    monitor = RecordingMonitor(mocks)

    def run() -> Recording:
        # The SDK tracks Output tasks in a process-wide set that only set_mocks clears (pulumi/runtime/mocks.py):
        # a failed Output of an earlier run would otherwise fail this one.
        runtime_settings.SETTINGS.outputs.clear()
        set_all_config(dict(config), list(secret_keys or []))
        deployment = monitor.GetDeploymentInfo(None)  # type: ignore[no-untyped-call]  # unannotated upstream
        settings = pulumi_mocks.MockSettings(  # type: ignore[no-untyped-call]  # unannotated upstream
            monitor=monitor, monitor_features=set(deployment.supportedFeatures),
            engine=pulumi_mocks.MockEngine(logging.getLogger("securestack.recording")),
            project=project, stack=stack, dry_run=preview, organization="organization", callbacks=None)
        runtime_settings.configure(settings)
        _sync_await(run_in_stack(program))
        return Recording(project=project, stack=stack, resources=monitor.recorded,
                         stack_outputs=monitor.stack_outputs, stack_urn=monitor.stack_urn, preview=preview)

    # A fresh context per run: Pulumi keeps its settings, config and root stack in context variables.
    return contextvars.Context().run(run)
