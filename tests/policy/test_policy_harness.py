"""The offline harness reproduces the Pulumi engine + analyzer: what a policy sees (camelCase inputs, numbers as
floats, proxies, options, parent, provider, property dependencies, the stack resource, the stack's config), unknown
values during a preview ("can't run policy ... during preview", advisory), secrets, and per-stack enforcement."""
from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest
from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

from securestack.infra import preview
from securestack.infra.recording import Secret, record
from securestack.infra.stack_config import StackConfig, read_stack_config
from securestack.policy.harness import CONFIG_ERROR_POLICY, PolicyPackError, evaluate, pack_version
from securestack.policy.policies import POLICIES
from tests.policy.builders import ACCOUNT, changed, recording_of, stack_config
from tests.policy.cases import DB, ROLE_POLICY
from tests.policy.edits import mutable_copy, put, res
from tests.support.stacks import shipped_recording

REPO_ROOT = Path(__file__).resolve().parents[2]
POLICY_BY_NAME = {policy.name: policy for policy in POLICIES}
LIVE_KEY = "sk_live_0123456789abcdef"


def named(*names: str) -> list:
    return [POLICY_BY_NAME[name] for name in names]


def small_program(log_retention: bool = False) -> None:
    """A provider, a key, and a log group encrypted with the key's ARN (unknown until the key exists)."""
    provider = aws.Provider("aws", region="us-east-1", allowed_account_ids=[ACCOUNT],
                            default_tags={"tags": {"securestack:env": "dev"}})
    opts = pulumi.ResourceOptions(provider=provider)
    key = aws.kms.Key("logs-key", enable_key_rotation=True, tags={"securestack:env": "dev"}, opts=opts)
    aws.cloudwatch.LogGroup("app-logs", name="/securestack/dev/app", kms_key_id=key.arn,
                            retention_in_days=365 if log_retention else None, opts=opts)


def by_policy(violations: list) -> dict:
    return {v["policyName"]: v for v in violations}


# -- unknown values --------------------------------------------------------------------------------------------

def test_unknown_value_during_preview_is_reported_as_cannot_run_not_a_crash():
    config = stack_config("dev", "non-production")
    recording = record(small_program, stack="dev", config=config.config, preview=True)
    log_group = next(r for r in recording.resources if r.name == "app-logs")
    assert recording.preview and repr(log_group.inputs["kmsKeyId"]) == "[unknown]"
    found = by_policy(evaluate(recording, config, policies=named("log-group-encrypted", "log-group-retention")))
    cannot_run = found["log-group-encrypted"]
    assert cannot_run["enforcementLevel"] == "advisory"
    assert cannot_run["urn"] == log_group.urn
    assert cannot_run["message"] == (
        f"can't run policy 'log-group-encrypted' from policy pack 'securestack@v{pack_version()}' during preview: "
        "string value at .kmsKeyId can't be known during preview")
    # A policy that reads only known values still decides during the preview.
    assert found["log-group-retention"]["enforcementLevel"] == "mandatory"


def test_a_value_left_unknown_in_up_mode_fails_the_policy_instead_of_passing():
    """`pulumi up` knows every value: a "can't run" there would be a policy that never ran, so it is mandatory."""
    config = stack_config("dev", "non-production")
    recording = record(small_program, stack="dev", config=config.config, preview=True)
    recording.preview = False  # the same unknown, now claimed to be a recording of `pulumi up`
    found = by_policy(evaluate(recording, config, policies=named("log-group-encrypted")))
    assert found["log-group-encrypted"]["enforcementLevel"] == "mandatory"
    assert found["log-group-encrypted"]["message"].startswith("can't run policy 'log-group-encrypted'")
    assert found["log-group-encrypted"]["message"].endswith("(in up mode every value is known: the policy must decide)")


def test_the_same_program_on_update_is_checked_in_full():
    config = stack_config("dev", "non-production")
    recording = record(small_program, stack="dev", config=config.config, preview=False)
    found = by_policy(evaluate(recording, config, policies=named("log-group-encrypted", "log-group-retention")))
    assert "log-group-encrypted" not in found
    assert found["log-group-retention"]["enforcementLevel"] == "mandatory"
    assert evaluate(record(lambda: small_program(log_retention=True), stack="dev", config=config.config), config,
                    policies=named("log-group-encrypted", "log-group-retention")) == []


def test_shipped_stack_previewed_has_no_mandatory_violation_and_says_what_it_cannot_check():
    config = read_stack_config("prod")
    # The session's preview-mode recording of prod (what `infra.preview prod --mode=preview` runs; recorded once).
    violations = evaluate(shipped_recording("prod", preview=True), config)
    assert violations, "a preview of a new stack cannot know its ARNs"
    assert {v["enforcementLevel"] for v in violations} == {"advisory"}
    assert all("during preview" in v["message"] for v in violations)


# -- secrets ---------------------------------------------------------------------------------------------------

def secret_program() -> None:
    provider = aws.Provider("aws", region="us-east-1", allowed_account_ids=[ACCOUNT])
    opts = pulumi.ResourceOptions(provider=provider)
    aws.lambda_.Function("fn", role=f"arn:aws:iam::{ACCOUNT}:role/fn", runtime="python3.13", handler="h.handler",
                         code=pulumi.AssetArchive({"h.py": pulumi.StringAsset("def handler(e, c): pass")}),
                         environment={"variables": {"PAYMENTS": pulumi.Output.secret(LIVE_KEY)}}, opts=opts)
    secret = aws.secretsmanager.Secret("token", description="token", opts=opts)
    aws.secretsmanager.SecretVersion("token-value", secret_id=secret.id,
                                     secret_string=pulumi.Output.secret("whsec_abcdef0123456789"), opts=opts)


def test_secret_inputs_reach_policies_unwrapped_and_never_leak_into_messages():
    config = stack_config("dev", "non-production")
    recording = record(secret_program, stack="dev", config=config.config)
    function = next(r for r in recording.resources if r.name == "fn")
    assert isinstance(function.inputs["environment"]["variables"]["PAYMENTS"], Secret)
    found = by_policy(evaluate(recording, config, policies=named("lambda-no-secrets-in-environment",
                                                                 "secret-version-no-plaintext")))
    assert found["lambda-no-secrets-in-environment"]["message"] == "PAYMENTS's value has the shape of a credential"
    assert found["secret-version-no-plaintext"]["message"] == "SecretVersion sets secretString"
    assert not any(LIVE_KEY in v["message"] or "whsec_" in v["message"] for v in found.values())


def test_assets_reach_policies_as_assets_as_the_engine_sends_them():
    """The engine marshals an asset with its signature and pulumi_policy hands a policy a pulumi.FileAsset
    (pulumi_policy/deserialize.py), so a local path (the archive cache, e.g. ~/.cache/securestack/lambda/...) is
    never read as a name of this or another environment."""
    seen: dict = {}

    def on_resource(args, report):
        if args.resource_type == "aws:s3/bucketObjectv2:BucketObjectv2":
            seen[args.name] = args.props["source"]

    recording = shipped_recording("dev")
    probe = ResourceValidationPolicy("probe-asset", "sees an asset", validate=on_resource)
    assert evaluate(recording, read_stack_config("dev"), policies=[probe]) == []
    assert seen and all(isinstance(source, pulumi.FileAsset) for source in seen.values())
    uploads = {r.name: r.inputs["source"]["path"] for r in recording.of_type("aws:s3/bucketObjectv2:BucketObjectv2")}
    assert {name: source.path for name, source in seen.items()} == uploads


# -- what a policy sees ----------------------------------------------------------------------------------------

def test_policies_see_what_the_engine_sends():
    seen: dict = {}

    def on_resource(args, report):
        if args.resource_type == "aws:rds/instance:Instance":
            seen["resource"] = args
            seen["stack"], seen["tier"] = pulumi.get_stack(), pulumi.Config("securestack").get("tier")

    def on_stack(args, report):
        seen["resources"] = {r.name: r for r in args.resources}

    probes = [ResourceValidationPolicy("probe-resource", "sees a resource", validate=on_resource),
              StackValidationPolicy("probe-stack", "sees the stack", validate=on_stack)]
    recording = shipped_recording("dev")
    assert evaluate(recording, read_stack_config("dev"), policies=probes) == []

    instance = recording.one("aws:rds/instance:Instance")
    args = seen["resource"]
    assert isinstance(args.props, Mapping) and not isinstance(args.props, dict)  # unknown_checking_proxy
    assert args.props["backupRetentionPeriod"] == 7 and isinstance(args.props["backupRetentionPeriod"], float)
    assert args.props["storageEncrypted"] is True and "identifier" in args.props
    assert (args.urn, args.name, args.opts.parent) == (instance.urn, "database-instance", instance.parent)
    assert args.opts.protect is False and "password" in args.opts.additional_secret_outputs
    assert args.provider.resource_type == "pulumi:providers:aws" and args.provider.name == "aws"
    assert json.loads(args.provider.props["allowedAccountIds"]) == [ACCOUNT]
    assert (seen["stack"], seen["tier"]) == ("dev", "non-production")

    resources = seen["resources"]
    stack = resources["securestack-dev"]
    assert stack.resource_type == "pulumi:pulumi:Stack" and stack.props["environment"] == "dev"
    rds = resources["database-instance"]
    assert rds.parent is resources["database"] and rds.opts.parent is None  # AnalyzeStack: parent beside options
    assert rds.props["arn"].startswith("arn:aws:rds:")  # outputs, not inputs
    assert [d.name for d in rds.property_dependencies["kmsKeyId"]] == ["keys-data"]
    assert resources["keys-data"] in rds.dependencies
    assert "tags" not in rds.property_dependencies  # the engine leaves out properties with no dependencies


# -- enforcement per stack -------------------------------------------------------------------------------------

PUBLIC_DB = recording_of([changed(DB, publiclyAccessible=True)])


@pytest.mark.parametrize("setting", ["advisory", {"enforcementLevel": "advisory"}])
def test_policy_config_lowers_a_named_policy_to_advisory(setting):
    violations = evaluate(PUBLIC_DB, stack_config(), policy_config={"rds-not-public": setting},
                          policies=named("rds-not-public", "rds-iam-authentication"))
    assert [(v["policyName"], v["enforcementLevel"]) for v in violations] == [("rds-not-public", "advisory")]
    assert evaluate(PUBLIC_DB, stack_config(), policy_config={}, policies=named("rds-not-public"))[0][
        "enforcementLevel"] == "mandatory"


@pytest.mark.parametrize("config,problem", [
    ({"no-such-policy": "advisory"}, "'no-such-policy' is not a policy of the pack"),
    ({"rds-not-public": "disabled"}, "never disable a policy"),
    ({"all": "advisory"}, "'all' is not a policy of the pack"),
    ({"rds-not-public": {"enforcementLevel": "remediate"}}, "a stack may only set advisory or mandatory"),
])
def test_invalid_policy_config_fails_the_gate(config, problem):
    violations = evaluate(PUBLIC_DB, stack_config(), policy_config=config)
    assert len(violations) == 1
    assert violations[0]["policyName"] == CONFIG_ERROR_POLICY and violations[0]["enforcementLevel"] == "mandatory"
    assert problem in violations[0]["message"]


def project_copy(root: Path, stack: str, policy_config: object = None) -> StackConfig:
    """The project's Pulumi.yaml and one stack file under `root`, with a policy-config file if given."""
    shutil.copy(REPO_ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    shutil.copy(REPO_ROOT / f"Pulumi.{stack}.yaml", root / f"Pulumi.{stack}.yaml")
    if policy_config is not None:
        (root / "policy").mkdir()
        text = policy_config if isinstance(policy_config, str) else json.dumps(policy_config)
        (root / "policy" / f"policy-config.{stack}.json").write_text(text)
    return read_stack_config(stack, root=root)


def test_stack_policy_config_file_is_read_next_to_the_pack(tmp_path):
    config = project_copy(tmp_path, "dev", {"rds-not-public": {"enforcementLevel": "advisory"}})
    violations = evaluate(PUBLIC_DB, config, policies=named("rds-not-public"))
    assert [v["enforcementLevel"] for v in violations] == ["advisory"]


def test_unreadable_policy_config_file_fails_the_gate(tmp_path):
    violations = evaluate(PUBLIC_DB, project_copy(tmp_path, "dev", "{not json"))
    assert [v["policyName"] for v in violations] == [CONFIG_ERROR_POLICY]
    assert "policy-config.dev.json is not valid JSON" in violations[0]["message"]


def unreadable_as_a_directory(path: Path) -> None:
    path.mkdir()


def unreadable_as_a_dangling_link(path: Path) -> None:
    path.symlink_to(path.parent / "moved-away.json")


def unreadable_as_latin1(path: Path) -> None:
    path.write_bytes('{"rds-not-public": "advisory", "note": "r\xe9vis\xe9"}'.encode("latin-1"))


@pytest.mark.parametrize("make_unreadable, problem", [
    (unreadable_as_a_directory, "policy-config.dev.json cannot be read: Is a directory"),
    (unreadable_as_a_dangling_link, "policy-config.dev.json cannot be read: No such file or directory"),
    (unreadable_as_latin1, "policy-config.dev.json is not UTF-8 text"),
])
def test_a_policy_config_file_that_cannot_be_read_fails_the_gate_not_the_run(tmp_path, make_unreadable, problem):
    """Never "no config" (that would be fine: everything mandatory) nor a traceback: a mandatory violation."""
    config = project_copy(tmp_path, "dev")
    (tmp_path / "policy").mkdir(exist_ok=True)
    make_unreadable(tmp_path / "policy" / "policy-config.dev.json")
    violations = evaluate(PUBLIC_DB, config, policies=named("rds-not-public"))
    assert [(v["policyName"], v["enforcementLevel"], v["message"]) for v in violations] == [
        (CONFIG_ERROR_POLICY, "mandatory", problem)]


def raises_on_databases(args, report_violation):
    if args.resource_type == "aws:rds/instance:Instance":
        raise ValueError("cannot parse engine version")


def test_a_policy_that_raises_stops_the_gate_naming_the_policy_and_the_resource():
    raising = ResourceValidationPolicy(name="raises-on-databases", description="d", validate=raises_on_databases)
    with pytest.raises(PolicyPackError) as raised:
        evaluate(PUBLIC_DB, stack_config("dev", "non-production"), policies=[*named("rds-not-public"), raising])
    database = next(r for r in PUBLIC_DB.resources if r.type == "aws:rds/instance:Instance")
    assert str(raised.value) == (f"policy 'raises-on-databases' failed on {database.urn}: "
                                 "ValueError: cannot parse engine version")


def test_a_policy_document_that_is_not_json_stops_the_gate_instead_of_reading_as_empty():
    """An unparseable document used to read as "no statements", so every document policy passed it."""
    broken = recording_of([changed(ROLE_POLICY, policy='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",')])
    with pytest.raises(PolicyPackError) as raised:
        evaluate(broken, stack_config("dev", "non-production"), policies=named("iam-no-full-admin"))
    assert str(raised.value).startswith("policy 'iam-no-full-admin' failed on urn:pulumi:dev::")
    assert str(raised.value).endswith("InvalidJsonInput: a JSON input is not valid JSON (Expecting property name "
                                      "enclosed in double quotes at line 1, column 60)")


def test_an_empty_pack_is_no_verdict():
    with pytest.raises(PolicyPackError, match="the policy pack has no policies"):
        evaluate(PUBLIC_DB, stack_config("dev", "non-production"), policies=[])


def public_database(recording):
    mutated = mutable_copy(recording)
    put(res(mutated, "database-instance"), "publiclyAccessible", True)
    return mutated


@pytest.mark.parametrize("lowered", [False, True])
def test_preview_exits_non_zero_on_a_mandatory_violation_only(tmp_path, monkeypatch, capsys, lowered):
    config = project_copy(tmp_path, "dev", {"rds-not-public": "advisory"} if lowered else None)
    monkeypatch.setattr(preview, "read_stack_config", lambda stack: config)
    monkeypatch.setattr(preview, "run_stack",
                        lambda stack_config, preview=False: public_database(shipped_recording("dev")))
    exit_code = preview.main(["dev"])
    output = capsys.readouterr().out
    if lowered:
        assert exit_code == preview.EXIT_OK
        assert "0 mandatory, 1 advisory violation(s)" in output
        assert "- [advisory]  rds-not-public  (aws:rds:Instance: database-instance)" in output
        assert "publiclyAccessible is true" in output
    else:
        assert exit_code == preview.EXIT_FAILED
        assert "1 mandatory, 0 advisory violation(s)" in output
        assert "- [mandatory]  rds-not-public  (aws:rds:Instance: database-instance)" in output
        assert "publiclyAccessible is true" in output
