"""policy/analyzer.py: the analyzer the pack serves converts each request once, hands every policy the same
deeply read-only objects, reaches exactly upstream pulumi_policy's verdicts, and refuses to run on an upstream
whose replaced code changed."""
from __future__ import annotations

import ast
import contextvars
import dataclasses
import functools
import subprocess
import sys
import tomllib
from pathlib import Path

import pulumi_policy
import pytest
from google.protobuf import json_format
from packaging.requirements import Requirement
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy import policy as upstream

from securestack.infra.recording import Recording
from securestack.infra.stack_config import read_stack_config
from securestack.policy import analyzer, harness
from securestack.policy.analyzer import READ_ONLY, SharedConversionAnalyzer, UPSTREAM_DIGESTS
from securestack.policy.harness import PolicyPackError, evaluate
from securestack.policy.policies import PACK_NAME, POLICIES
from securestack.policy.policies.support import raw
from tests.support.stacks import SHIPPED_STACKS, shipped_recording

REPO_ROOT = Path(__file__).resolve().parents[2]
DATABASE = "aws:rds/instance:Instance"


def configured(analyzer_class: type, policies: list) -> upstream._PolicyAnalyzerServicer:
    analyzer_ = analyzer_class(PACK_NAME, harness.pack_version(), list(policies), EnforcementLevel.MANDATORY)
    analyzer_.Configure(harness.configure_request({}, analyzer_), None)
    return analyzer_


@functools.lru_cache(maxsize=None)
def previewed(stack: str) -> Recording:
    """The stack's program in preview mode (unknown outputs: the policies that read one cannot run): the session's
    recording (tests/support/stacks.py), which test_preview's `--mode=preview` run also reads (the ledger found dev
    recorded twice)."""
    return shipped_recording(stack, preview=True)


def diagnostics(analyzer_class: type, recording: Recording, stack: str, policies: list = POLICIES) -> list:
    """Every diagnostic of the pack on a recording of a shipped stack, as the engine would file it."""
    config = read_stack_config(stack)
    found = contextvars.Context().run(harness.analyze, configured(analyzer_class, policies),
                                      harness.engine_resources(recording), config, recording.preview)
    return [(json_format.MessageToDict(diagnostic), urn) for diagnostic, urn in found]


# -- the same verdicts as upstream ----------------------------------------------------------------------------

@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_verdicts_are_upstream_analyzers_to_the_diagnostic_on_the_shipped_stacks(stack):
    """Every policy decides on these (every value known): the same (empty) verdict."""
    ours = diagnostics(SharedConversionAnalyzer, shipped_recording(stack), stack)
    assert ours == diagnostics(upstream._PolicyAnalyzerServicer, shipped_recording(stack), stack)


def test_verdicts_are_upstream_analyzers_to_the_diagnostic_in_a_preview():
    """Unknown outputs: "can't run ... during preview" notices, filed under the same resources, in the same order."""
    ours = diagnostics(SharedConversionAnalyzer, previewed("dev"), "dev")
    assert ours == diagnostics(upstream._PolicyAnalyzerServicer, previewed("dev"), "dev")
    assert sum("during preview" in d["message"] for d, _ in ours) > 10


def test_verdicts_are_upstream_analyzers_on_a_stack_the_pack_rejects():
    """A public database, unencrypted, breaks several policies, resource and stack ones."""
    recording = shipped_recording("dev")
    database = recording.one(DATABASE)
    broken = dataclasses.replace(recording, resources=[
        dataclasses.replace(r, inputs={**r.inputs, "publiclyAccessible": True, "storageEncrypted": False},
                            outputs={**(r.outputs or r.inputs), "publiclyAccessible": True, "storageEncrypted": False})
        if r is database else r for r in recording.resources])
    ours = diagnostics(SharedConversionAnalyzer, broken, "dev")
    assert ours == diagnostics(upstream._PolicyAnalyzerServicer, broken, "dev")
    assert len({d["policyName"] for d, _ in ours}) >= 2


# -- converted once -------------------------------------------------------------------------------------------

@pytest.fixture
def conversions(monkeypatch):
    """How many times a property Struct is converted (upstream's MessageToDict call)."""
    count = {"calls": 0}
    original = json_format.MessageToDict

    def counting(message, *args, **kwargs):
        count["calls"] += 1
        return original(message, *args, **kwargs)

    monkeypatch.setattr(json_format, "MessageToDict", counting)
    return count


def stack_request(stack: str = "dev"):
    resources = harness.engine_resources(shipped_recording(stack))
    providers = harness.provider_messages(resources)
    messages = [harness.stack_resource(r, providers) for r in resources]
    distinct = {m.provider.SerializeToString(deterministic=True) for m in messages if m.HasField("provider")}
    return upstream.proto.AnalyzeStackRequest(resources=messages), resources, providers, len(distinct)


def test_analyze_stack_converts_each_resource_once_for_all_stack_policies(conversions):
    request, _, _, providers = stack_request()
    stack_policies = [p for p in POLICIES if isinstance(p, StackValidationPolicy)]
    assert len(stack_policies) > 1
    analyzer_ = configured(SharedConversionAnalyzer, POLICIES)
    conversions["calls"] = 0  # counted from here (recording the stack converts too)
    analyzer_.AnalyzeStack(request, None)
    assert conversions["calls"] == len(request.resources) + providers  # upstream: that many per stack policy


def test_analyze_converts_a_resource_once_for_all_resource_policies(conversions):
    _, resources, providers, _ = stack_request()
    database = next(r for r in resources if r.type == DATABASE)
    assert sum(isinstance(p, ResourceValidationPolicy) for p in POLICIES) > 1
    analyzer_ = configured(SharedConversionAnalyzer, POLICIES)
    conversions["calls"] = 0  # counted from here (recording the stack converts too)
    analyzer_.Analyze(harness.analyze_request(database, providers), None)
    assert conversions["calls"] == 2  # its inputs and its provider's
    analyzer_.Analyze(harness.analyze_request(database, providers), None)
    assert conversions["calls"] == 3  # the same provider again: already converted


def test_every_stack_policy_sees_the_same_resources_and_every_resource_policy_the_same_props():
    seen: dict = {"stack": [], "props": []}

    def on_stack(args, report):
        seen["stack"].append(args.resources)

    def on_resource(args, report):
        if args.resource_type == DATABASE:
            seen["props"].append((args.props, args.opts, args.provider))

    probes = [StackValidationPolicy(f"stack-probe-{n}", "d", validate=on_stack) for n in (1, 2)]
    probes += [ResourceValidationPolicy(f"resource-probe-{n}", "d", validate=on_resource) for n in (1, 2)]
    assert evaluate(shipped_recording("dev"), read_stack_config("dev"), policies=probes) == []
    first, second = seen["stack"]
    assert first is second and len(first) == len(shipped_recording("dev").resources) + 1
    (props, opts, provider), again = seen["props"]
    assert again[0] is props and again[1] is opts and again[2] is provider
    database = next(r for r in first if r.resource_type == DATABASE)
    assert database.parent is not None and database.parent in first  # linked to the shared objects
    assert all(dependency in first for dependency in database.dependencies)


# -- read-only: a policy cannot change what the next one reads ------------------------------------------------

def database_of(args):
    return next(r for r in args.resources if r.resource_type == DATABASE)


STACK_MUTATIONS = {
    "props item": lambda args: database_of(args).props.__setitem__("storageEncrypted", False),
    "props behind the proxy": lambda args: raw(database_of(args).props).__setitem__("storageEncrypted", False),
    "a nested list": lambda args: raw(database_of(args).props["vpcSecurityGroupIds"]).append("sg-1"),
    "a nested map": lambda args: raw(database_of(args).props["tags"]).pop("securestack:env"),
    "the resource list": lambda args: args.resources.pop(),
    "a resource's parent": lambda args: setattr(database_of(args), "parent", None),
    "a resource's props": lambda args: setattr(database_of(args), "props", {}),
    "its dependencies": lambda args: database_of(args).dependencies.clear(),
    "its property dependencies": lambda args: database_of(args).property_dependencies.pop("kmsKeyId"),
    "its options": lambda args: setattr(database_of(args).opts, "protect", True),
    "its option lists": lambda args: database_of(args).opts.additional_secret_outputs.clear(),
    "its timeouts": lambda args: setattr(database_of(args).opts.custom_timeouts, "create_seconds", 1),
    "its provider": lambda args: setattr(database_of(args).provider, "props", {}),
    "its provider's props": lambda args: raw(database_of(args).provider.props).clear(),
}


@pytest.mark.parametrize("mutation", STACK_MUTATIONS.values(), ids=STACK_MUTATIONS.keys())
def test_a_stack_policy_that_changes_shared_resources_stops_the_gate_naming_it(mutation):
    changing = StackValidationPolicy("changes-resources", "d", validate=lambda args, report: mutation(args))
    with pytest.raises(PolicyPackError) as raised:
        evaluate(shipped_recording("dev"), read_stack_config("dev"), policies=[changing])
    assert str(raised.value) == f"policy 'changes-resources' failed on the stack: TypeError: {READ_ONLY}"


def test_a_resource_policy_cannot_change_the_props_the_next_one_reads():
    def changing(args, report):
        if args.resource_type == DATABASE:
            args.props["publiclyAccessible"] = True

    policy = ResourceValidationPolicy("changes-props", "d", validate=changing)
    with pytest.raises(PolicyPackError) as raised:
        evaluate(shipped_recording("dev"), read_stack_config("dev"), policies=[policy])
    database = shipped_recording("dev").one(DATABASE)
    assert str(raised.value) == f"policy 'changes-props' failed on {database.urn}: TypeError: {READ_ONLY}"


# -- pinned to the upstream it copies -------------------------------------------------------------------------

def test_pinned_sources_are_the_installed_pulumi_policy_and_the_declared_range_holds_only_it():
    assert {name: analyzer.source_digest(name) for name in UPSTREAM_DIGESTS} == UPSTREAM_DIGESTS
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    [declared] = [Requirement(r) for r in project["dependencies"] if Requirement(r).name == "pulumi-policy"]
    assert pulumi_policy.policy.VERSION == "1.21.0" and declared.specifier.contains("1.21.0")
    assert not declared.specifier.contains("1.22.0") and not declared.specifier.contains("1.20.0")


@pytest.fixture
def fresh_verification():
    analyzer._verified.cache_clear()
    yield
    analyzer._verified.cache_clear()


def test_an_upstream_analyzer_that_changed_refuses_to_run_instead_of_misjudging(monkeypatch, fresh_verification):
    def changed_analyze_stack(self, request, _context):  # e.g. a release that reorders or adds a step
        return upstream.proto.AnalyzeResponse()

    monkeypatch.setattr(upstream._PolicyAnalyzerServicer, "AnalyzeStack", changed_analyze_stack)
    with pytest.raises(PolicyPackError) as raised:
        evaluate(shipped_recording("dev"), read_stack_config("dev"))
    assert str(raised.value).startswith("pulumi_policy 1.21.0: policy._PolicyAnalyzerServicer.AnalyzeStack differ ")
    assert "the pack refuses to run" in str(raised.value) and "\n" not in str(raised.value)


SERVE_ON_A_CHANGED_UPSTREAM = """
import runpy, sys
from securestack.policy import analyzer
analyzer.UPSTREAM_DIGESTS["proxy._ListProxy"] = "not what was read"
sys.argv = ["python", "127.0.0.1:0", sys.argv[1]]  # as pulumi.policy: <engine address> <pack directory>
runpy.run_path(sys.argv[-1], run_name="__main__")  # which sets argv[0] to the directory
"""


def test_the_pack_started_by_pulumi_on_a_changed_upstream_exits_with_one_line():
    result = subprocess.run([sys.executable, "-c", SERVE_ON_A_CHANGED_UPSTREAM, str(REPO_ROOT / "policy")],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: pulumi_policy 1.21.0: proxy._ListProxy differ ")
    assert result.stderr.count("\n") == 1 and "the pack refuses to run" in result.stderr


class Served(Exception):
    """Stops PolicyPack before it serves forever."""


def test_the_pack_serves_the_shared_conversion_analyzer_through_upstreams_policy_pack(monkeypatch):
    served = []

    def add_servicer(servicer, server):
        served.append(servicer)
        raise Served

    monkeypatch.setattr(upstream.analyzer_pb2_grpc, "add_AnalyzerServicer_to_server", add_servicer)
    with pytest.raises(Served):
        analyzer.PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY)
    assert type(served[0]) is SharedConversionAnalyzer
    assert upstream._PolicyAnalyzerServicer is not SharedConversionAnalyzer  # the module's name put back
    with pytest.raises(TypeError, match="Missing policies argument"):  # upstream's own checks still run
        analyzer.PolicyPack(name=PACK_NAME, policies=[], enforcement_level=EnforcementLevel.MANDATORY)


def test_main_serves_the_pack_with_the_analyzers_policy_pack():
    tree = ast.parse((REPO_ROOT / "policy" / "__main__.py").read_text())
    imported = {(node.module, alias.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                for alias in node.names}
    assert ("securestack.policy.analyzer", "PolicyPack") in imported
    assert not any(module == "pulumi_policy" and name == "PolicyPack" for module, name in imported)
