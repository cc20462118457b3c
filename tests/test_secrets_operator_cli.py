"""Issue 15 item 2: the operator commands for vendor-issued values (`stage`, `promote`, `retire`, `status`,
`revoke`), run as an operator runs them (the runbook walks as subprocesses of `python -m infra.secrets`, the
other tests through its entry point in-process, with the same environment, directory and streams) on a copy of the project whose
dev stack has vendor entries, against a moto server on 127.0.0.1 reached through a proxy that fails chosen calls
(tests/support/fault_proxy.py), with a local HTTPS server playing the vendor behind `testUrl`
(tests/support/vendor_server.py, on a CA the test makes and trusts through SSL_CERT_FILE).

Every test that handles a value registers it with `leak_guard` (tests/support/leaks.py): a value, or any piece of
it, in any output or log of the test or its subprocesses fails the test.

The secrets are created as the stack leaves them (no value: Pulumi never holds one; the contract's tags), the app's
ECS service as the stack names it (`securestack-<env>` / `securestack-<env>-app`). moto's service reports
MOTO_ECS_SERVICE_RUNNING tasks running (read when the service is created), so a service with that many desired
tasks is steady and one with more is never steady.
"""
from __future__ import annotations

import io
import json
import zipfile
from types import SimpleNamespace

import boto3
import pytest
import yaml

from tests.support.fault_proxy import RETRIED_ATTEMPTS, fault_proxy  # noqa: F401 (fixture)
from tests.support.moto_server import moto_url, reset_account  # noqa: F401 (fixture)
from tests.support.operator_cli import credentials_env, run_at_terminal, run_secrets_cli
from tests.support.project_copy import copy_project, importable_copy
from tests.support.vendor_server import VendorServer, vendor_server  # noqa: F401 (fixture)

REGION = "us-east-1"
CLUSTER, SERVICE = "securestack-dev", "securestack-dev-app"
SECRETS = "secretsmanager."
UPDATE_STAGE, PUT_VALUE = SECRETS + "UpdateSecretVersionStage", SECRETS + "PutSecretValue"
TAG, UNTAG = SECRETS + "TagResource", SECRETS + "UntagResource"
ECS = "AmazonEC2ContainerServiceV20141113."
UPDATE_SERVICE, DESCRIBE_SERVICES = ECS + "UpdateService", ECS + "DescribeServices"
AGE_FUNCTION = "securestack-dev-secret-age"
INVOKE_AGE = f"POST /2015-03-31/functions/{AGE_FUNCTION}/invocations"


# ---------------------------------------------------------------------------------------------------------------
# The project copy, AWS as the stack leaves it, the command
# ---------------------------------------------------------------------------------------------------------------

def vendor_entries(vendor: VendorServer) -> tuple[list[dict], list[dict]]:
    """What the test stack adds to dev's shipped entries (which include StackBE's key, no testUrl)."""
    keys = [{"name": "barecommerce", "issuer": "vendor", "vendor": "barecommerce", "scopes": ["orders:read"],
             "consumers": ["app"], "testUrl": vendor.url()},
            {"name": "redirecting", "issuer": "vendor", "vendor": "barecommerce", "scopes": ["orders:read"],
             "testUrl": vendor.url("/redirect")},
            {"name": "broken-vendor", "issuer": "vendor", "vendor": "barecommerce", "scopes": ["orders:read"],
             "testUrl": vendor.url("/broken")},
            {"name": "acme", "issuer": "vendor", "vendor": "acme", "scopes": ["data:read"]}]
    webhooks = [{"name": "barecommerce-events", "issuer": "vendor", "vendor": "barecommerce", "consumers": ["app"]}]
    return keys, webhooks


@pytest.fixture(scope="module")
def project(tmp_path_factory, vendor_server) -> SimpleNamespace:
    root = copy_project(tmp_path_factory.mktemp("operator") / "project")
    stack_file = root / "Pulumi.dev.yaml"
    document = yaml.safe_load(stack_file.read_text())
    config = document["config"]
    keys, webhooks = vendor_entries(vendor_server)
    config["securestack:apiKeys"] += keys
    config["securestack:webhooks"] += webhooks
    config["securestack:app"]["webhooks"].append("barecommerce-events")
    stack_file.write_text(yaml.safe_dump(document, sort_keys=False))
    return SimpleNamespace(root=root, python_path=str(importable_copy(root)), ca_file=str(vendor_server.ca_file))


@pytest.fixture
def aws(moto_url, fault_proxy, monkeypatch):
    """A fresh moto account and clients straight to it (not through the proxy); the proxy without faults."""
    reset_account(moto_url)
    fault_proxy.reset()
    for name, value in credentials_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "1")
    clients = {service: boto3.client(service, region_name=REGION, endpoint_url=moto_url)
               for service in ("secretsmanager", "ecs", "lambda", "iam")}
    return SimpleNamespace(**clients, sm=clients["secretsmanager"])


@pytest.fixture
def secrets_cli(project, fault_proxy, leak_guard, request):
    """`python -m infra.secrets ...` in the project copy, through the proxy; its output checked for leaks. In-process
    (tests/support/operator_cli.py says why), except in the runbook walk marked `operator_subprocess`, which runs it
    exactly as an operator does."""
    in_process = request.node.get_closest_marker("operator_subprocess") is None

    def run(*args, stdin=None, trust_vendor=True, endpoint=None, **kwargs):
        env = {"PYTHONPATH": project.python_path, **({"SSL_CERT_FILE": project.ca_file} if trust_vendor else {})}
        result = run_secrets_cli(project.root, args, endpoint or fault_proxy.url, stdin=stdin, extra_env=env,
                                 in_process=in_process, **kwargs)
        leak_guard.observe(f"stdout of {' '.join(args)}", result.stdout)
        leak_guard.observe(f"stderr of {' '.join(args)}", result.stderr)
        return result
    return run


def deployed(aws, name="barecommerce", kind="api-key", vendor="barecommerce", app=True, tags=None, stack="dev"):
    """The secret as the stack creates it: no value, the contract's tags."""
    path = "api-keys" if kind == "api-key" else "webhooks"
    all_tags = {"securestack:env": stack, "securestack:name": name, "securestack:kind": kind,
                "securestack:issuer": "vendor", "securestack:vendor": vendor, "securestack:rotation-days": "90",
                **({"securestack:ecs-service": f"securestack-{stack}/securestack-{stack}-app"} if app else {}),
                **(tags or {})}
    return aws.sm.create_secret(Name=f"securestack/{stack}/{path}/{name}",
                                Tags=[{"Key": k, "Value": v} for k, v in all_tags.items()])["ARN"]


def with_value(aws, arn, value, field="key"):
    """A value put the way `stage` + `promote` leave it (AWSCURRENT)."""
    return aws.sm.put_secret_value(SecretId=arn, SecretString=json.dumps({field: value}))["VersionId"]


def app_service(aws, desired=1):
    aws.ecs.create_cluster(clusterName=CLUSTER)
    aws.ecs.register_task_definition(family="app", containerDefinitions=[
        {"name": "app", "image": "app:1", "memory": 512}], requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
        cpu="256", memory="512")
    aws.ecs.create_service(cluster=CLUSTER, serviceName=SERVICE, taskDefinition="app", desiredCount=desired)
    return deployment_id(aws)


def deployment_id(aws):
    [service] = aws.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"]
    return [d["id"] for d in service["deployments"] if d["status"] == "PRIMARY"][0]


def lambda_function(aws, name):
    role = aws.iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def lambda_handler(event, context):\n    return None\n")
    return aws.__dict__["lambda"].create_function(FunctionName=name, Runtime="python3.12",
                                                  Handler="handler.lambda_handler", Role=role,
                                                  Code={"ZipFile": code.getvalue()})["FunctionArn"]


def stages(aws, arn):
    """Versions with their labels. AWS lists only labelled versions in VersionIdsToStages (one without labels is
    deprecated, DescribeSecret API reference); moto keeps them with an empty list: left out here, as AWS does."""
    return {v: sorted(s) for v, s in aws.sm.describe_secret(SecretId=arn).get("VersionIdsToStages", {}).items() if s}


def state(aws, arn):
    """Everything a command may change on a secret: versions and their stages, tags."""
    description = aws.sm.describe_secret(SecretId=arn)
    return stages(aws, arn), sorted((t["Key"], t["Value"]) for t in description.get("Tags", []))


def version_of(aws, arn, stage):
    return next((v for v, s in stages(aws, arn).items() if stage in s), None)


def current_value(aws, arn, stage="AWSCURRENT", field="key"):
    # VersionStage always: moto answers a read without it differently from AWS.
    return json.loads(aws.sm.get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"])[field]


def assert_refused(result, *fragments, code=2):
    """One `error:` line on stderr, nothing on stdout, the exit code README gives."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert result.stdout == ""


def rotated(aws, vendor, leak_guard, service=True):
    """A vendor key with a current value k1 and a staged k2 (AWSPENDING), the app's service steady."""
    arn = deployed(aws)
    k1, k2 = leak_guard.register(vendor.issue()), leak_guard.register(vendor.issue())
    old = with_value(aws, arn, k1)
    new = aws.sm.put_secret_value(SecretId=arn, SecretString=json.dumps({"key": k2}),
                                  VersionStages=["AWSPENDING"])["VersionId"]
    deployment = app_service(aws) if service else None
    return SimpleNamespace(arn=arn, old=old, new=new, k1=k1, k2=k2, deployment=deployment)


# ---------------------------------------------------------------------------------------------------------------
# The guides' dashboard flow, end to end
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.operator_subprocess
def test_the_dashboard_flow_first_value_then_a_rotation(aws, secrets_cli, vendor_server, leak_guard):
    arn = deployed(aws)
    first = leak_guard.register(vendor_server.issue())

    # The first value: the key the vendor's dashboard shows for this environment.
    result = secrets_cli("stage", "dev", "barecommerce", stdin=first + "\n")
    assert result.returncode == 0, result.stderr
    assert "the vendor accepted it (testUrl answered 200)" in result.stdout
    assert "first value, so Secrets Manager made it AWSCURRENT" in result.stdout
    assert current_value(aws, arn) == first
    app_before = app_service(aws)  # the stack creates the app once the key has a value (`pulumi up` again)
    result = secrets_cli("promote", "dev", "barecommerce", "--wait-seconds", "30")
    assert result.returncode == 0, result.stderr
    assert list(stages(aws, arn).values()) == [["AWSCURRENT"]]

    # 90 days later: a wrong key is refused by the vendor before anything is written.
    before = state(aws, arn)
    wrong = leak_guard.register("sk_test_" + "x" * 40)
    assert_refused(secrets_cli("stage", "dev", "barecommerce", stdin=wrong), "the vendor refused the key",
                   "answered 401", "nothing staged", code=1)
    assert state(aws, arn) == before

    # A new key with the same scopes: staged (pending only), then promoted; the app redeployed.
    second = leak_guard.register(vendor_server.issue())
    result = secrets_cli("stage", "dev", "barecommerce", stdin=second + "\n")
    assert result.returncode == 0, result.stderr
    assert current_value(aws, arn) == first and current_value(aws, arn, "AWSPENDING") == second
    old, new = version_of(aws, arn, "AWSCURRENT"), version_of(aws, arn, "AWSPENDING")
    result = secrets_cli("promote", "dev", "barecommerce", "--wait-seconds", "30")
    assert result.returncode == 0, result.stderr
    assert stages(aws, arn) == {old: ["AWSPREVIOUS"], new: ["AWSCURRENT"]}
    assert current_value(aws, arn) == second  # what ECS injects into BARECOMMERCE_API_KEY at task start
    assert deployment_id(aws) != app_before  # a new deployment: new tasks, started with the new value
    assert f"redeployed ECS service {CLUSTER}/{SERVICE}: steady" in result.stdout
    assert "delete (or expire) the old API key in barecommerce's dashboard" in result.stdout
    assert "python -m infra.secrets retire dev barecommerce" in result.stdout

    # The old key deleted in the dashboard, then retired here.
    vendor_server.delete(first)
    result = secrets_cli("retire", "dev", "barecommerce", "--yes")
    assert result.returncode == 0, result.stderr
    assert stages(aws, arn) == {new: ["AWSCURRENT"]}
    status = json.loads(secrets_cli("status", "dev", "--json").stdout)
    [entry] = [s for s in status["secrets"] if s["name"] == "barecommerce"]
    assert entry["stages"] == {"current": new} and entry["ageDays"] == 0 and entry["daysLeft"] == 90


# In-process: the contract is between the recorded stack and the commands; the dashboard flow above runs them as
# real processes (one walk per CLI as an operator runs it; a fresh interpreter costs about 3 s per command).
def test_the_commands_work_on_the_secret_and_service_the_stack_program_creates(aws, secrets_cli, leak_guard):
    """The contract between the stack and the CLI, from the real program (the recording engine): the shipped StackBE
    key's name and tags, and the app's cluster and service names, exactly as `pulumi up` would create them."""
    from tests.support.stacks import shipped_recording

    recording = shipped_recording("dev")
    [secret] = [r for r in recording.of_type("aws:secretsmanager/secret:Secret")
                if r.inputs.get("name") == "securestack/dev/api-keys/stackbe"]
    tags = secret.inputs["tags"]
    assert tags["securestack:key-prefix"] == "sk_test_"  # what stage checks, from settings, for this tier
    arn = aws.sm.create_secret(Name=secret.inputs["name"],
                               Tags=[{"Key": k, "Value": v} for k, v in tags.items()])["ARN"]
    [cluster] = [r.inputs["name"] for r in recording.of_type("aws:ecs/cluster:Cluster")]
    [service] = [r.inputs["name"] for r in recording.of_type("aws:ecs/service:Service")]
    assert tags["securestack:ecs-service"] == f"{cluster}/{service}" == f"{CLUSTER}/{SERVICE}"
    key = leak_guard.register("sk_test_" + "t" * 40)
    assert secrets_cli("stage", "dev", "stackbe", stdin=key).returncode == 0
    app_service(aws)
    result = secrets_cli("promote", "dev", "stackbe", "--wait-seconds", "30")
    assert result.returncode == 0, result.stderr
    assert f"redeployed ECS service {CLUSTER}/{SERVICE}: steady" in result.stdout
    assert current_value(aws, arn) == key and list(stages(aws, arn).values()) == [["AWSCURRENT"]]


# In-process, as the contract test above (the dashboard flow is the real-process walk).
def test_an_exposure_revoke_then_replace_clears_the_mark(aws, secrets_cli, vendor_server, leak_guard):
    arn = deployed(aws)
    exposed = leak_guard.register(vendor_server.issue())
    current = with_value(aws, arn, exposed)
    app_service(aws)
    lambda_function(aws, AGE_FUNCTION)

    result = secrets_cli("revoke", "dev", "barecommerce")
    assert result.returncode == 0, result.stderr
    assert dict(state(aws, arn)[1])["securestack:compromised"] == current
    assert "create a new API key with the same scopes (orders:read) in barecommerce's dashboard" in result.stdout
    assert "CompromisedSecrets alarm stays raised until a new value is promoted" in result.stdout
    assert f"started {AGE_FUNCTION}, so the CompromisedSecrets alarm raises within minutes" in result.stdout

    replacement = leak_guard.register(vendor_server.issue())
    assert secrets_cli("stage", "dev", "barecommerce", stdin=replacement).returncode == 0  # allowed while marked
    assert "securestack:compromised" in dict(state(aws, arn)[1])
    result = secrets_cli("promote", "dev", "barecommerce", "--wait-seconds", "30")
    assert result.returncode == 0, result.stderr
    assert "securestack:compromised" not in dict(state(aws, arn)[1])
    assert current_value(aws, arn) == replacement
    assert f"started {AGE_FUNCTION}, so the CompromisedSecrets alarm clears within minutes" in result.stdout


def test_revoke_invokes_the_age_function_asynchronously(aws, secrets_cli, fault_proxy, vendor_server, leak_guard):
    arn = deployed(aws)
    with_value(aws, arn, leak_guard.register(vendor_server.issue()))
    lambda_function(aws, AGE_FUNCTION)
    assert secrets_cli("revoke", "dev", "barecommerce").returncode == 0
    invocations = [headers for name, headers in fault_proxy.requests if name == INVOKE_AGE]
    assert invocations == [{"X-Amz-Invocation-Type": "Event"}]


def test_revoke_without_an_age_function_says_when_the_alarm_raises(aws, secrets_cli, vendor_server, leak_guard):
    arn = deployed(aws)
    current = with_value(aws, arn, leak_guard.register(vendor_server.issue()))
    result = secrets_cli("revoke", "dev", "barecommerce")
    assert result.returncode == 0, result.stderr
    assert f"no age function {AGE_FUNCTION}" in result.stdout
    assert dict(state(aws, arn)[1])["securestack:compromised"] == current


def test_revoke_when_the_age_function_fails_is_a_warning(aws, secrets_cli, fault_proxy, vendor_server, leak_guard):
    arn = deployed(aws)
    current = with_value(aws, arn, leak_guard.register(vendor_server.issue()))
    lambda_function(aws, AGE_FUNCTION)
    fault_proxy.fail(INVOKE_AGE, status=500, code="ServiceException", times=RETRIED_ATTEMPTS)
    result = secrets_cli("revoke", "dev", "barecommerce")
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("warning: could not start") and len(result.stderr.splitlines()) == 1
    assert dict(state(aws, arn)[1])["securestack:compromised"] == current


def test_a_refused_revoke_marks_nothing_and_starts_nothing(aws, secrets_cli, fault_proxy, vendor_server, leak_guard):
    arn = deployed(aws)
    with_value(aws, arn, leak_guard.register(vendor_server.issue()))
    lambda_function(aws, AGE_FUNCTION)
    before = state(aws, arn)
    fault_proxy.fail(TAG)
    assert_refused(secrets_cli("revoke", "dev", "barecommerce"), "AccessDeniedException", "not marked", code=1)
    assert state(aws, arn) == before and INVOKE_AGE not in fault_proxy.names()


def test_revoke_of_a_self_issued_key_rotates_it_revoking_the_previous_value(aws, secrets_cli, leak_guard):
    name = "securestack/dev/api-keys/checkout"
    arn = aws.sm.create_secret(Name=name, SecretString=json.dumps({"key": leak_guard.register("sk_test_" + "s" * 43)}),
                               Tags=[{"Key": "securestack:kind", "Value": "api-key"}])["ARN"]
    aws.sm.rotate_secret(SecretId=arn, RotationLambdaARN=lambda_function(aws, "securestack-dev-api-key-rotation"),
                         RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False)
    for version in [v for v, s in stages(aws, arn).items() if s == ["AWSPENDING"]]:
        aws.sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSPENDING", RemoveFromVersionId=version)
    result = secrets_cli("revoke", "dev", "checkout")
    assert result.returncode == 0, result.stderr
    assert "the previous value stops working as soon as the new one is current" in result.stdout
    assert dict(state(aws, arn)[1])["securestack:revoke-previous"] == "true"  # rotate --revoke-previous's tag


# ---------------------------------------------------------------------------------------------------------------
# stage: bad input refused, one line, exit 2, nothing written, nothing sent to the vendor
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value,fragment", [
    ("", "no API key given"),
    ("sk_test_short", "is 13 characters long"),
    ("sk_test_" + "a" * 4100, "is longer than 4096 characters"),
    ("sk_test_" + "a" * 20 + " " + "b" * 20, "contains whitespace, control or non-ASCII characters"),
    ("sk_test_" + "a" * 20 + "\u00e9" + "b" * 20, "contains whitespace, control or non-ASCII characters"),
    ("sk_live_" + "c" * 40, "does not start with sk_test_: a non-production stack takes test keys"),
    ("pk_test_" + "d" * 40, "does not start with sk_test_"),
], ids=["empty", "short", "long", "space", "non-ascii", "live-key-in-dev", "publishable-key"])
def test_stage_refuses_a_value_of_the_wrong_shape(aws, secrets_cli, vendor_server, leak_guard, value, fragment):
    arn = deployed(aws)
    if len(value) >= 12:
        leak_guard.register(value)
    before, requests = state(aws, arn), vendor_server.requests
    assert_refused(secrets_cli("stage", "dev", "barecommerce", stdin=value), fragment, "nothing staged")
    assert state(aws, arn) == before and vendor_server.requests == requests


def test_stage_in_production_requires_a_live_key(aws, secrets_cli, leak_guard):
    arn = deployed(aws, name="stackbe", vendor="stackbe", stack="prod")
    before = state(aws, arn)
    test_key = leak_guard.register("sk_test_" + "e" * 40)
    assert_refused(secrets_cli("stage", "prod", "stackbe", stdin=test_key),
                   "does not start with sk_live_: a production stack takes live keys")
    assert state(aws, arn) == before
    live_key = leak_guard.register("sk_live_" + "f" * 40)
    assert secrets_cli("stage", "prod", "stackbe", stdin=live_key).returncode == 0  # no testUrl: shape only
    assert current_value(aws, arn) == live_key


def test_stage_of_a_vendor_without_prefixes_checks_only_the_shape(aws, secrets_cli, leak_guard):
    arn = deployed(aws, name="acme", vendor="acme", app=False)
    value = leak_guard.register("acme-" + "g" * 30)
    result = secrets_cli("stage", "dev", "acme", stdin=value)
    assert result.returncode == 0, result.stderr
    assert current_value(aws, arn) == value


def test_stage_of_a_self_issued_key_points_to_rotate(aws, secrets_cli):
    assert_refused(secrets_cli("stage", "dev", "checkout", stdin="sk_test_" + "h" * 40),
                   "'checkout' is a self-issued API key: its rotator makes its values", "rotate dev checkout")


@pytest.mark.parametrize("name,fragment", [
    ("redirecting", "answered 302, a redirect, which is not followed"),
    ("broken-vendor", "answered 500, not 2xx"),
])
def test_stage_refuses_what_the_test_url_does_not_confirm(aws, secrets_cli, vendor_server, leak_guard, name,
                                                         fragment):
    arn = deployed(aws, name=name, app=False)
    before = state(aws, arn)
    assert_refused(secrets_cli("stage", "dev", name, stdin=leak_guard.register(vendor_server.issue())), fragment,
                   "nothing staged", code=1)
    assert state(aws, arn) == before


def test_stage_refuses_a_vendor_whose_certificate_is_not_trusted(aws, secrets_cli, vendor_server, leak_guard):
    arn = deployed(aws)
    before = state(aws, arn)
    key = leak_guard.register(vendor_server.issue())
    assert_refused(secrets_cli("stage", "dev", "barecommerce", stdin=key, trust_vendor=False),
                   "TLS verification failed", "nothing staged", code=1)
    assert state(aws, arn) == before


def test_stage_replaces_a_pending_value_and_says_so(aws, secrets_cli, vendor_server, leak_guard):
    arn = deployed(aws)
    with_value(aws, arn, leak_guard.register(vendor_server.issue()))
    assert secrets_cli("stage", "dev", "barecommerce", stdin=leak_guard.register(vendor_server.issue())).returncode == 0
    first_pending = version_of(aws, arn, "AWSPENDING")
    third = leak_guard.register(vendor_server.issue())
    result = secrets_cli("stage", "dev", "barecommerce", stdin=third)
    assert result.returncode == 0, result.stderr
    assert f"it replaced the value pending in version {first_pending}, which is no longer staged" in result.stdout
    assert current_value(aws, arn, "AWSPENDING") == third
    assert first_pending not in stages(aws, arn)


def test_stage_writes_the_contract_value_for_a_webhook(aws, secrets_cli, leak_guard):
    arn = deployed(aws, name="barecommerce-events", kind="webhook-secret")
    secret = leak_guard.register("whsec_" + "i" * 40)
    assert secrets_cli("stage", "dev", "barecommerce-events", stdin=secret).returncode == 0
    assert json.loads(aws.sm.get_secret_value(SecretId=arn, VersionStage="AWSPENDING")["SecretString"]) == {
        "secret": secret, "env": "dev", "name": "barecommerce-events", "vendor": "barecommerce"}


@pytest.mark.parametrize("tags,fragment", [
    ({"securestack:issuer": "self"}, "securestack:issuer='self'"),
    ({"securestack:kind": "webhook-secret"}, "securestack:kind='webhook-secret'"),
], ids=["self-issued-secret", "other-kind"])
def test_stage_refuses_a_secret_the_stack_did_not_make_as_this_entry(aws, secrets_cli, leak_guard, tags, fragment):
    arn = deployed(aws, tags=tags)
    before = state(aws, arn)
    assert_refused(secrets_cli("stage", "dev", "barecommerce", stdin=leak_guard.register("sk_test_" + "j" * 40)),
                   fragment)
    assert state(aws, arn) == before


def test_stage_of_a_secret_not_deployed_is_refused(aws, secrets_cli):
    assert_refused(secrets_cli("stage", "dev", "barecommerce", stdin="sk_test_" + "k" * 40),
                   "secret securestack/dev/api-keys/barecommerce not found in us-east-1")


def test_a_refused_put_secret_value_stages_nothing(aws, secrets_cli, fault_proxy, vendor_server, leak_guard):
    arn = deployed(aws)
    with_value(aws, arn, leak_guard.register(vendor_server.issue()))
    before = state(aws, arn)
    fault_proxy.fail(PUT_VALUE, status=500, code="InternalServiceError", times=RETRIED_ATTEMPTS)
    assert_refused(secrets_cli("stage", "dev", "barecommerce", stdin=leak_guard.register(vendor_server.issue())),
                   "InternalServiceError", "nothing staged", code=1)
    assert state(aws, arn) == before


# ---------------------------------------------------------------------------------------------------------------
# promote: a fault at each step leaves the stages and tags as they were
# ---------------------------------------------------------------------------------------------------------------

PROMOTE_STEPS = [
    # (the call failed, its nth occurrence in the run, the step it belongs to)
    (UPDATE_STAGE, 1, "move AWSCURRENT to version"),
    (UPDATE_STAGE, 2, "remove AWSPENDING from version"),
    (UNTAG, 1, "remove tag securestack:compromised"),
    (UPDATE_SERVICE, 1, f"redeploy ECS service {CLUSTER}/{SERVICE}"),
    (DESCRIBE_SERVICES, 2, f"wait for ECS service {CLUSTER}/{SERVICE} to be steady"),  # the 1st: the service check
]


@pytest.mark.parametrize("target,nth,step", PROMOTE_STEPS, ids=[s for _, _, s in PROMOTE_STEPS])
def test_a_failed_promote_step_undoes_the_steps_before_it(aws, secrets_cli, fault_proxy, vendor_server, leak_guard,
                                                         target, nth, step):
    keys = rotated(aws, vendor_server, leak_guard)
    aws.sm.tag_resource(SecretId=keys.arn, Tags=[{"Key": "securestack:compromised", "Value": keys.old}])
    before = state(aws, keys.arn)
    fault_proxy.fail(target, nth=nth)
    result = secrets_cli("promote", "dev", "barecommerce", "--wait-seconds", "30")
    assert_refused(result, f"failed at '{step}", "AccessDeniedException", "nothing changed", code=1)
    assert state(aws, keys.arn) == before
    assert current_value(aws, keys.arn) == keys.k1
    redeploys = fault_proxy.names().count(UPDATE_SERVICE)
    assert redeploys == {UPDATE_SERVICE: 1, DESCRIBE_SERVICES: 2}.get(target, 0)  # undo: a redeploy on the old value


def test_a_promote_whose_service_never_becomes_steady_is_undone(aws, monkeypatch, secrets_cli, vendor_server,
                                                               leak_guard):
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "1")
    keys = rotated(aws, vendor_server, leak_guard, service=False)
    app_service(aws, desired=2)  # one task runs, two are wanted: never steady
    before = state(aws, keys.arn)
    result = secrets_cli("promote", "dev", "barecommerce", "--wait-seconds", "1")
    assert_refused(result, "not steady after 1 s: 1 deployment(s), 1 of 2 task(s) running", code=1)
    assert state(aws, keys.arn) == before


def test_a_dropped_connection_at_a_step_is_undone_too(aws, secrets_cli, fault_proxy, vendor_server, leak_guard):
    keys = rotated(aws, vendor_server, leak_guard)
    before = state(aws, keys.arn)
    fault_proxy.fail(UPDATE_STAGE, nth=2, drop=True, times=RETRIED_ATTEMPTS)
    result = secrets_cli("promote", "dev", "barecommerce", "--wait-seconds", "30")
    assert_refused(result, "failed at 'remove AWSPENDING", code=2)  # no answer from AWS: exit 2
    assert state(aws, keys.arn) == before


def test_a_failed_undo_says_what_is_left_and_how_to_fix_it(aws, secrets_cli, fault_proxy, vendor_server, leak_guard):
    keys = rotated(aws, vendor_server, leak_guard)
    fault_proxy.fail(UPDATE_STAGE, nth=2)  # step 2 fails...
    fault_proxy.fail(UPDATE_STAGE, nth=3)  # ...and so does the first call undoing step 1
    result = secrets_cli("promote", "dev", "barecommerce", "--wait-seconds", "30")
    assert_refused(result, "failed at 'remove AWSPENDING", f"undoing 'move AWSCURRENT to version {keys.new}' failed",
                   f"still in effect: 'move AWSCURRENT to version {keys.new}'", code=1)
    fix = result.stderr.split("to put it back run: ", 1)[1].strip()
    assert fix == (f"aws secretsmanager update-secret-version-stage --region {REGION} --secret-id "
                   f"securestack/dev/api-keys/barecommerce --version-stage AWSCURRENT --move-to-version-id "
                   f"{keys.old} --remove-from-version-id {keys.new} && aws secretsmanager "
                   f"update-secret-version-stage --region {REGION} --secret-id securestack/dev/api-keys/barecommerce "
                   f"--version-stage AWSPREVIOUS --remove-from-version-id {keys.new}")
    # What it says is left is what is left, and its commands (run here through boto3) put everything back.
    assert stages(aws, keys.arn) == {keys.old: ["AWSPREVIOUS"], keys.new: ["AWSCURRENT", "AWSPENDING"]}
    aws.sm.update_secret_version_stage(SecretId=keys.arn, VersionStage="AWSCURRENT", MoveToVersionId=keys.old,
                                       RemoveFromVersionId=keys.new)
    aws.sm.update_secret_version_stage(SecretId=keys.arn, VersionStage="AWSPREVIOUS", RemoveFromVersionId=keys.new)
    assert stages(aws, keys.arn) == {keys.old: ["AWSCURRENT"], keys.new: ["AWSPENDING"]}


def test_a_half_done_undo_gives_only_the_command_left(aws, secrets_cli, fault_proxy, vendor_server, leak_guard):
    """Undoing step 1 is two calls (AWSCURRENT back, then AWSPREVIOUS back): the second failing leaves only it."""
    keys = rotated(aws, vendor_server, leak_guard)
    fault_proxy.fail(UPDATE_STAGE, nth=2)
    fault_proxy.fail(UPDATE_STAGE, nth=4)
    result = secrets_cli("promote", "dev", "barecommerce", "--wait-seconds", "30")
    assert_refused(result, "failed at 'remove AWSPENDING", code=1)
    assert result.stderr.split("to put it back run: ", 1)[1].strip() == (
        f"aws secretsmanager update-secret-version-stage --region {REGION} --secret-id "
        f"securestack/dev/api-keys/barecommerce --version-stage AWSPREVIOUS --remove-from-version-id {keys.new}")
    assert stages(aws, keys.arn) == {keys.old: ["AWSCURRENT"], keys.new: ["AWSPENDING", "AWSPREVIOUS"]}
    aws.sm.update_secret_version_stage(SecretId=keys.arn, VersionStage="AWSPREVIOUS", RemoveFromVersionId=keys.new)
    assert stages(aws, keys.arn) == {keys.old: ["AWSCURRENT"], keys.new: ["AWSPENDING"]}


def test_promote_restores_the_previous_label_where_it_was(aws, secrets_cli, fault_proxy, vendor_server, leak_guard):
    keys = rotated(aws, vendor_server, leak_guard)
    # An older value still AWSPREVIOUS (not retired yet): after the undo it is again the previous one.
    older = aws.sm.put_secret_value(SecretId=keys.arn, SecretString=json.dumps({"key": keys.k1}),
                                    VersionStages=["AWSPREVIOUS"])["VersionId"]
    before = state(aws, keys.arn)
    fault_proxy.fail(UPDATE_SERVICE)
    assert secrets_cli("promote", "dev", "barecommerce", "--wait-seconds", "30").returncode == 1
    assert state(aws, keys.arn) == before and version_of(aws, keys.arn, "AWSPREVIOUS") == older


def test_promote_without_a_staged_value_is_refused(aws, secrets_cli, vendor_server, leak_guard):
    arn = deployed(aws)
    with_value(aws, arn, leak_guard.register(vendor_server.issue()))
    before = state(aws, arn)
    assert_refused(secrets_cli("promote", "dev", "barecommerce"), "has no staged value (AWSPENDING)",
                   "stage dev barecommerce")
    assert state(aws, arn) == before


def test_promote_refuses_when_the_apps_service_is_missing(aws, secrets_cli, vendor_server, leak_guard):
    keys = rotated(aws, vendor_server, leak_guard, service=False)
    before = state(aws, keys.arn)
    assert_refused(secrets_cli("promote", "dev", "barecommerce"), f"{CLUSTER}/{SERVICE}", "is not running",
                   "nothing changed")
    assert state(aws, keys.arn) == before


@pytest.mark.parametrize("wait", ["0", "abc", "3601"])
def test_promote_refuses_a_bad_wait(aws, secrets_cli, wait):
    assert_refused(secrets_cli("promote", "dev", "barecommerce", "--wait-seconds", wait), "--wait-seconds")


def test_promote_of_a_webhook_without_the_app_only_moves_the_stages(aws, secrets_cli, fault_proxy, leak_guard):
    arn = deployed(aws, name="barecommerce-events", kind="webhook-secret", app=False)
    old = with_value(aws, arn, leak_guard.register("whsec_" + "l" * 40), field="secret")
    new = aws.sm.put_secret_value(SecretId=arn, SecretString=json.dumps({"secret": leak_guard.register(
        "whsec_" + "m" * 40)}), VersionStages=["AWSPENDING"])["VersionId"]
    result = secrets_cli("promote", "dev", "barecommerce-events")
    assert result.returncode == 0, result.stderr
    assert stages(aws, arn) == {old: ["AWSPREVIOUS"], new: ["AWSCURRENT"]}
    assert not [name for name in fault_proxy.names() if name.startswith(ECS)]


# ---------------------------------------------------------------------------------------------------------------
# retire, status
# ---------------------------------------------------------------------------------------------------------------

def test_retire_without_a_previous_value_has_nothing_to_do(aws, secrets_cli, vendor_server, leak_guard):
    arn = deployed(aws)
    with_value(aws, arn, leak_guard.register(vendor_server.issue()))
    result = secrets_cli("retire", "dev", "barecommerce")
    assert result.returncode == 0 and result.stdout.startswith("nothing to retire"), result.stderr


def promoted(aws, vendor, leak_guard):
    keys = rotated(aws, vendor, leak_guard, service=False)
    aws.sm.update_secret_version_stage(SecretId=keys.arn, VersionStage="AWSCURRENT", MoveToVersionId=keys.new,
                                       RemoveFromVersionId=keys.old)
    aws.sm.update_secret_version_stage(SecretId=keys.arn, VersionStage="AWSPENDING", RemoveFromVersionId=keys.new)
    return keys


def test_retire_without_a_terminal_needs_yes(aws, secrets_cli, vendor_server, leak_guard):
    keys = promoted(aws, vendor_server, leak_guard)
    before = state(aws, keys.arn)
    assert_refused(secrets_cli("retire", "dev", "barecommerce", stdin="y\n"), "pass --yes", "nothing retired")
    assert state(aws, keys.arn) == before


def test_a_refused_retire_changes_nothing(aws, secrets_cli, fault_proxy, vendor_server, leak_guard):
    keys = promoted(aws, vendor_server, leak_guard)
    before = state(aws, keys.arn)
    fault_proxy.fail(UPDATE_STAGE)
    assert_refused(secrets_cli("retire", "dev", "barecommerce", "--yes"), "AccessDeniedException", "nothing retired",
                   code=1)
    assert state(aws, keys.arn) == before


def test_retire_of_a_self_issued_key_is_refused(aws, secrets_cli):
    assert_refused(secrets_cli("retire", "dev", "order-events", "--yes"), "self-issued webhook secret",
                   "rotate dev order-events --revoke-previous")


def test_status_lists_every_key_and_webhook_with_its_issuer_and_stages(aws, secrets_cli, vendor_server, leak_guard):
    keys = rotated(aws, vendor_server, leak_guard, service=False)
    aws.sm.tag_resource(SecretId=keys.arn, Tags=[{"Key": "securestack:compromised", "Value": keys.old}])
    result = secrets_cli("status", "dev")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[2:]}
    assert rows["barecommerce"] == ["barecommerce", "api-key", "vendor", "barecommerce", "0", "current,pending", "90",
                                    "90", "yes", f"({keys.old})"]
    assert rows["checkout"][:3] == ["checkout", "api-key", "self"] and "not deployed" in " ".join(rows["checkout"])
    assert rows["barecommerce-events"][1:4] == ["webhook-secret", "vendor", "barecommerce"]
    listed = json.loads(secrets_cli("status", "dev", "--json").stdout)["secrets"]
    assert {s["name"] for s in listed} == {"storefront-read", "checkout", "inventory-sync", "admin-full", "stackbe",
                                           "barecommerce", "redirecting", "broken-vendor", "acme", "order-events",
                                           "barecommerce-events"}
    [entry] = [s for s in listed if s["name"] == "barecommerce"]
    assert entry == {"name": "barecommerce", "kind": "api-key", "issuer": "vendor", "vendor": "barecommerce",
                     "secretName": "securestack/dev/api-keys/barecommerce", "deployed": True, "ageDays": 0,
                     "stages": {"current": keys.old, "pending": keys.new}, "rotationDays": 90, "daysLeft": 90,
                     "compromised": keys.old}


def test_status_shows_no_pending_value_when_awspending_is_on_awscurrent(aws, secrets_cli, vendor_server, leak_guard):
    """The rotators end a rotation with AWSPENDING on the new AWSCURRENT, as AWS's template does (RotateSecret API
    reference: an accepted end state): that is a finished rotation, not a value waiting to be promoted."""
    keys = rotated(aws, vendor_server, leak_guard, service=False)
    aws.sm.update_secret_version_stage(SecretId=keys.arn, VersionStage="AWSCURRENT", MoveToVersionId=keys.new,
                                       RemoveFromVersionId=keys.old)
    [entry] = [s for s in json.loads(secrets_cli("status", "dev", "--json").stdout)["secrets"]
               if s["name"] == "barecommerce"]
    assert entry["stages"] == {"current": keys.new, "previous": keys.old}


def test_status_when_aws_refuses_is_one_line(aws, secrets_cli, fault_proxy):
    fault_proxy.fail(SECRETS + "DescribeSecret")
    assert_refused(secrets_cli("status", "dev"), "securestack/dev/api-keys/storefront-read", "AccessDeniedException",
                   code=1)


# ---------------------------------------------------------------------------------------------------------------
# What every command refuses the same way
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["stage", "promote", "retire", "revoke"])
def test_an_unknown_name_is_refused_listing_the_stacks_names(aws, secrets_cli, command):
    assert_refused(secrets_cli(command, "dev", "barecomerce", stdin=""), "no API key or webhook named 'barecomerce'",
                   "barecommerce")


@pytest.mark.parametrize("command", [("stage", "dev", "barecommerce"), ("promote", "dev", "barecommerce"),
                                     ("retire", "dev", "barecommerce"), ("status", "dev"),
                                     ("revoke", "dev", "barecommerce")], ids=lambda c: c[0])
def test_no_credentials_is_refused(aws, secrets_cli, command):
    assert_refused(secrets_cli(*command, stdin="", credentials=False), "no AWS credentials found")


def test_the_value_is_never_taken_from_argv(aws, secrets_cli):
    assert_refused(secrets_cli("stage", "dev", "barecommerce", "sk_test_" + "n" * 40), "unrecognized arguments")


# ---------------------------------------------------------------------------------------------------------------
# At a terminal: the no-echo prompt, the confirmation
# ---------------------------------------------------------------------------------------------------------------

@pytest.fixture
def at_terminal(project, fault_proxy, leak_guard):
    def run(*args, answers):
        env = {"PYTHONPATH": project.python_path, "SSL_CERT_FILE": project.ca_file}
        code, shown = run_at_terminal(project.root, args, fault_proxy.url, answers, extra_env=env)
        leak_guard.observe(f"the terminal of {' '.join(args)}", shown)
        return code, shown
    return run


def test_stage_at_a_terminal_asks_twice_without_echo(aws, at_terminal, vendor_server, leak_guard):
    arn = deployed(aws)
    key = leak_guard.register(vendor_server.issue())  # the guard fails the test if the terminal ever showed it
    code, shown = at_terminal("stage", "dev", "barecommerce",
                              answers=[("new API key (not shown): ", key), ("the same API key again: ", key)])
    assert code == 0, shown
    assert "staged a new value of securestack/dev/api-keys/barecommerce" in shown
    assert current_value(aws, arn) == key


def test_stage_at_a_terminal_refuses_two_different_entries(aws, at_terminal, vendor_server, leak_guard):
    arn = deployed(aws)
    before = state(aws, arn)
    first, second = leak_guard.register(vendor_server.issue()), leak_guard.register(vendor_server.issue())
    code, shown = at_terminal("stage", "dev", "barecommerce",
                              answers=[("new API key (not shown): ", first), ("the same API key again: ", second)])
    assert code == 2 and "error: the two entries of the API key differ: nothing staged" in shown, shown
    assert state(aws, arn) == before


@pytest.mark.parametrize("answer,code", [("y", 0), ("n", 2)])
def test_retire_at_a_terminal_asks_for_confirmation(aws, at_terminal, vendor_server, leak_guard, answer, code):
    keys = promoted(aws, vendor_server, leak_guard)
    exit_code, shown = at_terminal("retire", "dev", "barecommerce",
                                   answers=[(f"is the old API key (version {keys.old}) deleted in barecommerce's "
                                             "dashboard? [y/N] ", answer)])
    assert exit_code == code, shown
    assert (version_of(aws, keys.arn, "AWSPREVIOUS") is None) == (answer == "y")


# ---------------------------------------------------------------------------------------------------------------
# The parts on their own: the prompt, the step runner
# ---------------------------------------------------------------------------------------------------------------

class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_prompt_asks_twice_and_refuses_two_different_entries():
    from securestack.infra.secrets.common import Refused
    from securestack.infra.secrets.values import read_value

    answers = iter(["sk_test_" + "o" * 40, "sk_test_" + "o" * 40])
    assert read_value("API key", _Terminal(), prompt=lambda _: next(answers)) == "sk_test_" + "o" * 40
    answers = iter(["sk_test_" + "o" * 40, "sk_test_" + "p" * 40])
    with pytest.raises(Refused, match="the two entries of the API key differ"):
        read_value("API key", _Terminal(), prompt=lambda _: next(answers))


def test_standard_input_loses_only_its_final_line_break():
    from securestack.infra.secrets.values import read_value

    assert read_value("API key", io.StringIO("abc\r\n")) == "abc"
    assert read_value("API key", io.StringIO("abc\n")) == "abc"
    assert read_value("API key", io.StringIO("abc\n\n")) == "abc\n"  # then refused: a line break is whitespace


def test_bytes_that_are_not_utf8_are_refused_as_non_ascii_without_an_error_quoting_them():
    from securestack.infra.secrets.values import read_value, shape_problem

    value = read_value("API key", io.TextIOWrapper(io.BytesIO(b"sk_test_" + b"r" * 20 + b"\xe9" + b"s" * 20)))
    assert shape_problem(value, "API key", "sk_test_", False) == (
        "the API key contains whitespace, control or non-ASCII characters: a vendor-issued value is printable ASCII "
        "only (a stray space or line break in the paste?)")


def test_the_step_runner_undoes_newest_first_and_names_the_failed_step():
    from botocore.exceptions import ClientError

    from securestack.infra.secrets.common import Refused, Step, run_steps

    log: list[str] = []

    def refused() -> None:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "UpdateService")

    steps = [Step("one", lambda: log.append("do one"), lambda: log.append("undo one"), "fix one"),
             Step("two", lambda: log.append("do two"), None),
             Step("three", lambda: log.append("do three"), lambda: log.append("undo three"), "fix three"),
             Step("four", refused)]
    with pytest.raises(Refused, match="failed at 'four' .AccessDeniedException: no.; the steps before it were undone"):
        run_steps("test", steps)
    assert log == ["do one", "do two", "do three", "undo three", "undo one"]


def test_ctrl_c_at_a_step_undoes_the_steps_before_it():
    from securestack.components.cli import EXIT_INTERRUPTED
    from securestack.infra.secrets.common import Refused, Step, run_steps

    log: list[str] = []

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(Refused, match="interrupted at 'wait'; the steps before it were undone") as refusal:
        run_steps("test", [Step("move", lambda: log.append("do"), lambda: log.append("undo"), "fix"),
                           Step("wait", interrupted)])
    assert refusal.value.exit_code == EXIT_INTERRUPTED and log == ["do", "undo"]


def test_the_leak_guard_finds_a_value_or_a_piece_of_it_and_never_quotes_it():
    from tests.support.leaks import LeakGuard

    guard = LeakGuard()
    value = guard.register("sk_test_" + "q1w2e3r4t5y6u7i8o9p0" * 2)
    guard.observe("stderr of stage", f"error: the key {value[20:32]}... is wrong")
    guard.observe("stdout of status", "nothing to see")
    found = guard.leaks([("the test's logs", "the whole " + value)])
    assert found == ["registered value #1 in stderr of stage", "registered value #1 in the test's logs"]
    assert not any(value[8:20] in line for line in found)
    assert LeakGuard(values=[value]).leaks([("stdout", "sk_test_ is the prefix, 44 characters")]) == []


class _Ecs:
    """DescribeServices answers in turn, as ECS gives them while a deployment rolls out."""

    def __init__(self, *answers):
        self.answers = list(answers)

    def describe_services(self, **_):
        deployments, running, desired = self.answers.pop(0)
        return {"services": [{"status": "ACTIVE", "deployments": deployments, "runningCount": running,
                              "desiredCount": desired}]}


@pytest.mark.parametrize("answers,message", [
    ([([{"id": "new", "status": "PRIMARY", "rolloutState": "FAILED", "rolloutStateReason": "tasks failed to start"},
        {"id": "old", "status": "ACTIVE"}], 1, 2)], "the new deployment failed: tasks failed to start"),
    ([([{"id": "rollback", "status": "PRIMARY", "rolloutState": "IN_PROGRESS"}], 1, 2)],
     "the new deployment new was replaced by another one"),
])
def test_a_deployment_the_circuit_breaker_stops_fails_the_wait_at_once(answers, message):
    from securestack.infra.secrets.common import StepFailed
    from securestack.infra.secrets.promote import _Deployment

    deployment = _Deployment(_Ecs(*answers), CLUSTER, SERVICE, wait_seconds=3600)
    deployment.deployment_id = "new"
    with pytest.raises(StepFailed, match=message):
        deployment._wait_steady()


def test_the_wait_ends_once_only_the_new_deployment_runs_every_task(monkeypatch):
    from securestack.infra.secrets import promote

    monkeypatch.setattr(promote.time, "sleep", lambda _: None)
    both = [{"id": "new", "status": "PRIMARY", "rolloutState": "IN_PROGRESS"}, {"id": "old", "status": "ACTIVE"}]
    ecs = _Ecs((both, 2, 2), ([{"id": "new", "status": "PRIMARY", "rolloutState": "IN_PROGRESS"}], 1, 2),
               ([{"id": "new", "status": "PRIMARY", "rolloutState": "COMPLETED"}], 2, 2))
    deployment = promote._Deployment(ecs, CLUSTER, SERVICE, wait_seconds=3600)
    deployment.deployment_id = "new"
    deployment._wait_steady()
    assert ecs.answers == [] and deployment.running == "2 of 2 task(s) running"
