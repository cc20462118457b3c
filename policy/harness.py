"""Offline policy analysis: runs the pack on a recording the way `pulumi preview --policy-pack policy` does.

The pack runs inside the analyzer it serves over gRPC (policy/analyzer.py `SharedConversionAnalyzer`: pulumi_policy's
own `_PolicyAnalyzerServicer`, converting each request once for all policies), fed the requests the Pulumi engine
sends it:

- `Configure`: the stack's policy config (enforcement levels), from `policy/policy-config.<stack>.json`, the file
  `pulumi preview --policy-pack policy --policy-pack-config <file>` takes;
- one `Analyze` per registered resource, the stack itself included: its inputs, options (parent among them) and
  its provider's inputs;
- one `AnalyzeStack` with every resource's final outputs, parent, dependencies and non-empty property
  dependencies.

Properties travel as the engine marshals them (secrets and assets with their signatures, unknowns as the unknown
sentinel, internal `__` keys dropped), so pulumi_policy itself deserializes them, the analyzer wraps them in
pulumi_policy's unknown-checking proxy (its read-only form), and they resolve enforcement levels and report "can't
run policy ... during preview" for a policy that reads an unknown value. As in the analyzer process, the stack's config and name are set in the
Pulumi runtime (policies read `securestack:tier` and the environment from them), here in a context of their own.

It fails closed: a policy that raises, an empty pack or an unreadable policy config never reads as "no
violations" (`PolicyPackError`, or a mandatory `policy-config` violation), and on a recording of `pulumi up`
(every value known) a "can't run ... during preview" notice is a mandatory violation.

Known gaps to the real engine: provider `Check` defaults are not applied to inputs; resource references arrive as
URNs (the recording keeps no ids for them); component outputs are empty.
"""
from __future__ import annotations

import contextvars
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, TypeVar

import yaml
from google.protobuf import struct_pb2
from pulumi.runtime import proto, rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.config import set_all_config
from pulumi_policy import EnforcementLevel

from securestack.infra.recording import AssetValue, Recording, RecordedResource, Secret, Unknown
from securestack.infra.stack_config import StackConfig
from securestack.policy.analyzer import SharedConversionAnalyzer, UpstreamChanged
from securestack.policy.policies import PACK_NAME, POLICIES
from securestack.policy.policies.support import SecurestackPolicy

PACK_DIR = Path(__file__).resolve().parent
POLICY_CONFIG_FILE = "policy-config.{stack}.json"
CONFIG_ERROR_POLICY = "policy-config"  # the pseudo-policy an unreadable policy config is reported under
CANNOT_RUN_PREFIX = "can't run policy "  # pulumi_policy's message for a policy that read an unknown value
STACK_TYPE = "pulumi:pulumi:Stack"

# One analyzer call's request and response (guarded passes them through).
_Request = TypeVar("_Request")
_Response = TypeVar("_Response")

# A stack may lower a policy to advisory or keep it mandatory; never disable it.
ALLOWED_LEVELS = {"advisory": EnforcementLevel.ADVISORY, "mandatory": EnforcementLevel.MANDATORY}
REPORTED_LEVELS = {proto.ADVISORY: "advisory", proto.MANDATORY: "mandatory",
                   proto.REMEDIATE: "mandatory"}  # the engine reports a failed remediation as mandatory


class PolicyConfigError(ValueError):
    """A policy config file that is unreadable, names an unknown policy or asks for a level stacks may not use.

    Its message is the gate's one line; `key` (the policy or key at fault, None for the whole file) and `problem`
    (the message without its subject) let policy/check_configs.py list every problem of a file in its own format."""

    def __init__(self, message: str, problem: Optional[str] = None, key: Optional[str] = None):
        super().__init__(message)
        self.problem, self.key = problem or message, key


class PolicyPackError(RuntimeError):
    """The pack could not run (no policies, a policy raising): the gate has no verdict, so it fails."""


@functools.lru_cache(maxsize=None)
def pack_version(pack_dir: Path = PACK_DIR) -> str:
    """The version `pulumi` reports for the pack: PulumiPolicy.yaml's."""
    return str(yaml.safe_load((pack_dir / "PulumiPolicy.yaml").read_text())["version"])


# -- the stack's policy config ---------------------------------------------------------------------------------

def policy_config_path(stack_config: StackConfig) -> Path:
    return stack_config.path.parent / "policy" / POLICY_CONFIG_FILE.format(stack=stack_config.stack)


def read_policy_config(stack_config: StackConfig) -> dict[str, Any]:
    return read_policy_config_file(policy_config_path(stack_config))


def read_policy_config_file(path: Path) -> dict[str, Any]:
    """The JSON object `--policy-pack-config` takes, from `path`; {} when there is no file."""
    if not path.exists() and not path.is_symlink():
        return {}  # no file: every policy at the pack's level, mandatory (the strictest setting)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise file_error(path, f"is not valid JSON: {error}") from None
    except UnicodeDecodeError:
        raise file_error(path, "is not UTF-8 text") from None
    except OSError as error:  # a dangling link, a directory, no permission: never "no config"
        raise file_error(path, f"cannot be read: {error.strerror or error}") from None
    if not isinstance(document, dict):
        raise file_error(path, "must be an object of policy name -> enforcement level")
    return document


def file_error(path: Path, problem: str) -> PolicyConfigError:
    return PolicyConfigError(f"{path.name} {problem}", problem)


def config_problems(config: Mapping[str, Any], policies: Sequence[SecurestackPolicy] = POLICIES
                    ) -> list[PolicyConfigError]:
    """Every entry of a policy config a stack may not set, in file order (one per key): a name that is not a
    policy of the pack, or a level other than advisory or mandatory."""
    known = {policy.name for policy in policies}
    problems = []
    for name, value in config.items():
        level = configured_level(value)
        if name not in known:
            problem = "is not a policy of the pack (see policy/CONTROLS.md)"
            problems.append(PolicyConfigError(f"'{name}' {problem}", problem, name))
        elif not isinstance(level, str) or level not in ALLOWED_LEVELS:  # a list or object is no level either
            problem = (f"enforcement level {level!r}; a stack may only set {' or '.join(ALLOWED_LEVELS)} "
                       "(never disable a policy)")
            problems.append(PolicyConfigError(f"'{name}': {problem}", problem, name))
    return problems


def enforcement_levels(config: Mapping[str, Any], policies: Sequence[SecurestackPolicy] = POLICIES) -> dict[str, EnforcementLevel]:
    """Policy name -> level, from `{"<policy>": "advisory"}` or `{"<policy>": {"enforcementLevel": ...}}`."""
    problems = config_problems(config, policies)
    if problems:
        raise problems[0]
    return {name: ALLOWED_LEVELS[configured_level(value)] for name, value in config.items()}


def configured_level(value: Any) -> Any:
    """The level an entry sets: the value itself, or an object's `enforcementLevel` (the other keys of an object
    are the policy's own config properties, as the engine's parsePolicyPackConfig reads them)."""
    return value.get("enforcementLevel") if isinstance(value, dict) else value


def configure_request(levels: Mapping[str, EnforcementLevel], analyzer: SharedConversionAnalyzer) -> proto.ConfigureAnalyzerRequest:
    return proto.ConfigureAnalyzerRequest(policyConfig={
        name: proto.PolicyConfig(enforcementLevel=analyzer._map_enforcement_level(level))
        for name, level in levels.items()})


# -- what the engine sends -------------------------------------------------------------------------------------

def engine_value(value: Any) -> Any:
    """A recorded value as the engine marshals it for analyzers (KeepSecrets, KeepUnknowns, SkipInternalKeys)."""
    if isinstance(value, Secret):
        return {rpc._special_sig_key: rpc._special_secret_sig, "value": engine_value(value.reveal())}
    if isinstance(value, Unknown):
        return rpc.UNKNOWN
    if isinstance(value, AssetValue):
        return {rpc._special_sig_key: value.signature, **{k: engine_value(v) for k, v in value.items()}}
    if isinstance(value, dict):
        return {k: engine_value(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, (list, tuple)):
        return [engine_value(v) for v in value]
    return value


def struct(properties: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(engine_value(dict(properties)))
    return message


@dataclass
class EngineResource:
    """One resource as the engine knows it at analysis time."""

    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    options: dict[str, Any]
    parent: Optional[str]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    provider_urn: Optional[str]


def provider_urn(reference: Optional[str]) -> Optional[str]:
    """A provider reference is `<provider urn>::<provider id>`."""
    return reference.rsplit("::", 1)[0] if reference else None


def engine_resources(recording: Recording) -> list[EngineResource]:
    """The stack resource (inputs none, outputs the stack outputs) and every recorded registration."""
    stack = EngineResource(
        urn=recording.stack_urn or f"urn:pulumi:{recording.stack}::{recording.project}::{STACK_TYPE}::"
                                   f"{recording.project}-{recording.stack}",
        type=STACK_TYPE, name=f"{recording.project}-{recording.stack}", inputs={}, outputs=recording.stack_outputs,
        options={}, parent=None, dependencies=[], property_dependencies={}, provider_urn=None)
    return [stack] + [from_recorded(r) for r in recording.resources]


def from_recorded(resource: RecordedResource) -> EngineResource:
    return EngineResource(urn=resource.urn, type=resource.type, name=resource.name, inputs=resource.inputs,
                          outputs=resource.outputs or resource.inputs, options=resource.options,
                          parent=resource.parent, dependencies=resource.dependencies,
                          property_dependencies=resource.property_dependencies,
                          provider_urn=provider_urn(resource.provider))


def resource_options(resource: EngineResource, with_parent: bool) -> proto.AnalyzerResourceOptions:
    options = resource.options
    delete_before_replace = bool(options.get("deleteBeforeReplace"))
    return proto.AnalyzerResourceOptions(
        protect=bool(options.get("protect")), ignoreChanges=list(options.get("ignoreChanges") or []),
        deleteBeforeReplace=delete_before_replace, deleteBeforeReplaceDefined=delete_before_replace,
        additionalSecretOutputs=list(options.get("additionalSecretOutputs") or []), aliases=[],
        customTimeouts=proto.AnalyzerResourceOptions.CustomTimeouts(),
        parent=(resource.parent or "") if with_parent else "")


def provider_messages(resources: list[EngineResource]) -> dict[str, proto.AnalyzerProviderResource]:
    """Provider URN -> what the engine sends about a resource's provider: its inputs."""
    return {r.urn: proto.AnalyzerProviderResource(type=r.type, properties=struct(r.inputs), urn=r.urn, name=r.name)
            for r in resources if r.type.startswith("pulumi:providers:")}


def analyze_request(resource: EngineResource, providers: Mapping[str, proto.AnalyzerProviderResource]
                    ) -> proto.AnalyzeRequest:
    request = proto.AnalyzeRequest(type=resource.type, properties=struct(resource.inputs), urn=resource.urn,
                                   name=resource.name, options=resource_options(resource, with_parent=True))
    if resource.provider_urn is not None and resource.provider_urn in providers:
        request.provider.CopyFrom(providers[resource.provider_urn])
    return request


def stack_resource(resource: EngineResource, providers: Mapping[str, proto.AnalyzerProviderResource]
                   ) -> proto.AnalyzerResource:
    message = proto.AnalyzerResource(
        type=resource.type, properties=struct(resource.outputs), urn=resource.urn, name=resource.name,
        options=resource_options(resource, with_parent=False), parent=resource.parent or "",
        dependencies=list(resource.dependencies),
        propertyDependencies={key: proto.AnalyzerPropertyDependencies(urns=urns)
                              for key, urns in resource.property_dependencies.items() if urns})
    if resource.provider_urn is not None and resource.provider_urn in providers:
        message.provider.CopyFrom(providers[resource.provider_urn])
    return message


def stack_configure_request(stack_config: StackConfig, dry_run: bool) -> proto.AnalyzerStackConfigureRequest:
    return proto.AnalyzerStackConfigureRequest(
        stack=stack_config.stack, project=stack_config.project, organization="organization", dry_run=dry_run,
        config=dict(stack_config.config), config_secret_keys=list(stack_config.secret_keys),
        tags={"pulumi:project": stack_config.project, "pulumi:runtime": "python"})


# -- running the analyzer --------------------------------------------------------------------------------------

def new_analyzer(levels: Mapping[str, EnforcementLevel], policies: Sequence[SecurestackPolicy] = POLICIES) -> SharedConversionAnalyzer:
    """The servicer policy/__main__.py's `PolicyPack(PACK_NAME, POLICIES, EnforcementLevel.MANDATORY)` serves,
    configured like the engine configures it. An installed pulumi_policy it was not written against: no verdict."""
    try:
        analyzer = SharedConversionAnalyzer(PACK_NAME, pack_version(), list(policies), EnforcementLevel.MANDATORY)
    except UpstreamChanged as error:
        raise PolicyPackError(str(error)) from None
    analyzer.Configure(configure_request(levels, analyzer), None)  # type: ignore[no-untyped-call]  # unannotated upstream
    return analyzer


def analyze(analyzer: SharedConversionAnalyzer, resources: list[EngineResource], stack_config: StackConfig,
            dry_run: bool) -> list[tuple[proto.AnalyzeDiagnostic, Optional[str]]]:
    """(diagnostic, urn the engine files it under) for every Analyze and the AnalyzeStack call."""
    # As the analyzer process: the stack's config (PULUMI_CONFIG) and name (PULUMI_STACK) in the runtime.
    set_all_config(dict(stack_config.config), list(stack_config.secret_keys))
    runtime_settings.configure(runtime_settings.Settings(
        project=stack_config.project, stack=stack_config.stack, dry_run=dry_run, organization="organization"))
    analyzer.ConfigureStack(stack_configure_request(stack_config, dry_run), None)
    providers = provider_messages(resources)
    found: list[tuple[proto.AnalyzeDiagnostic, Optional[str]]] = []
    for resource in resources:
        response = guarded(analyzer.Analyze, analyze_request(resource, providers), resource.urn)
        # The engine files a resource's diagnostics under that resource, whatever urn the policy named.
        found += [(d, resource.urn) for d in response.diagnostics]
    stack_request = proto.AnalyzeStackRequest(resources=[stack_resource(r, providers) for r in resources])
    found += [(d, d.urn or None) for d in guarded(analyzer.AnalyzeStack, stack_request, "the stack").diagnostics]
    return found


def guarded(call: Callable[[_Request, None], _Response], request: _Request, subject: str) -> _Response:
    """One analyzer call; a policy that raises fails the run (the engine fails the update on an analyzer error)
    with one line naming the policy, what it was checking and the error."""
    try:
        return call(request, None)
    except Exception as error:  # noqa: BLE001 - any exception means the policy reached no verdict
        raise PolicyPackError(f"policy '{raising_policy(error)}' failed on {subject}: {one_line(error)}") from error


def raising_policy(error: BaseException) -> str:
    """The policy the analyzer was running when `error` was raised: its loop variable `policy`."""
    traceback = error.__traceback__
    name = "?"
    while traceback is not None:
        policy: Any = traceback.tb_frame.f_locals.get("policy")
        if traceback.tb_frame.f_code.co_name in ("Analyze", "AnalyzeStack") and hasattr(policy, "name"):
            name = str(policy.name)
        traceback = traceback.tb_next
    return name


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def violation(diagnostic: proto.AnalyzeDiagnostic, urn: Optional[str]) -> dict[str, Any]:
    prefix = diagnostic.description + "\n"
    message = diagnostic.message[len(prefix):] if diagnostic.message.startswith(prefix) else diagnostic.message
    return {"policyName": diagnostic.policyName, "enforcementLevel": REPORTED_LEVELS[diagnostic.enforcementLevel],
            "message": message or diagnostic.description, "urn": urn, "description": diagnostic.description}


def enforced_after_deploy(found: dict[str, Any]) -> dict[str, Any]:
    """`pulumi up` knows every value, so there a policy that cannot read one has no excuse: a preview-only
    "can't run" advisory becomes a mandatory violation (fail closed) instead of passing silently."""
    if found["enforcementLevel"] != "advisory" or not found["message"].startswith(CANNOT_RUN_PREFIX):
        return found
    return {**found, "enforcementLevel": "mandatory",
            "message": found["message"] + " (in up mode every value is known: the policy must decide)"}


def config_violation(error: PolicyConfigError) -> dict[str, Any]:
    return {"policyName": CONFIG_ERROR_POLICY, "enforcementLevel": "mandatory", "message": str(error), "urn": None,
            "description": "the stack's policy config must be valid"}


def evaluate(recording: Recording, stack_config: StackConfig, *, policy_config: Optional[Mapping[str, Any]] = None,
             policies: Sequence[SecurestackPolicy] = POLICIES) -> list[dict[str, Any]]:
    """Violations of the pack for this recording: {policyName, enforcementLevel, message, urn (None: the stack),
    description}. `policy_config` replaces the stack's policy-config file (tests)."""
    try:
        config = read_policy_config(stack_config) if policy_config is None else dict(policy_config)
        levels = enforcement_levels(config, policies)
    except PolicyConfigError as error:
        return [config_violation(error)]
    if not policies:
        raise PolicyPackError("the policy pack has no policies (policy/policies POLICIES is empty)")
    analyzer = new_analyzer(levels, policies)
    resources = engine_resources(recording)
    found = contextvars.Context().run(analyze, analyzer, resources, stack_config, recording.preview)
    violations = [violation(diagnostic, urn) for diagnostic, urn in found]
    return violations if recording.preview else [enforced_after_deploy(v) for v in violations]
