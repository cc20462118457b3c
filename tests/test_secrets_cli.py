"""Issue 12 item 3: `python -m infra.secrets rotate <stack> <name> [--revoke-previous]`, run as the operator runs it
(its entry point in-process with exactly the operator's environment, one case as a real subprocess; the boto3 default
chain) against a moto server on 127.0.0.1.

moto: RotateSecret without a function ARN (as the command calls it, relying on the configured one) forgets the
configured function and makes the new, empty version AWSCURRENT at once; the tests therefore only look at what
the command did (the call, its version, the tags), never at what a rotation function would do after it.
"""
from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pytest

from tests.support.stacks import STACK_FILES, absent_stack, settings_of

from tests.support.moto_server import moto_url, reset_account  # noqa: F401 (moto_url: a fixture)
from tests.support.operator_cli import credentials_env, no_aws_config, run_secrets_cli

ROOT = Path(__file__).resolve().parents[1]
STACK = "dev"
REVOKE_TAG = "securestack:revoke-previous"
KEY_NAME = "securestack/dev/api-keys/checkout"
WEBHOOK_NAME = "securestack/dev/webhooks/order-events"
VALUE = "sk_test_" + "v" * 43  # what the secret holds: must never be printed


@pytest.fixture
def aws(moto_url, monkeypatch):
    """A fresh moto account, and a client on it in the stack's region."""
    reset_account(moto_url)
    for name, value in credentials_env().items():
        monkeypatch.setenv(name, value)
    return boto3.client("secretsmanager", region_name=settings_of(STACK).region, endpoint_url=moto_url)


def cli(moto_url, *args, credentials=True, endpoint=True):
    """The command's entry point in-process, with exactly the operator's environment (tests/support/operator_cli.py:
    a fresh interpreter costs about 3 s of imports); the missing-profile test below runs a real subprocess."""
    return run_secrets_cli(ROOT, args, moto_url if endpoint else None, credentials=credentials)


def rotation_function(moto_url):
    iam = boto3.client("iam", region_name="us-east-1", endpoint_url=moto_url)
    role = iam.create_role(RoleName="rotator", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def lambda_handler(event, context):\n    return None\n")
    function = boto3.client("lambda", region_name=settings_of(STACK).region, endpoint_url=moto_url).create_function(
        FunctionName="securestack-dev-api-key-rotation", Runtime="python3.12", Handler="handler.lambda_handler",
        Role=role, Code={"ZipFile": code.getvalue()})
    return function["FunctionArn"]


def deployed(aws, moto_url, name=KEY_NAME, kind="api-key", tags=None, rotation=True):
    """The secret as the stack leaves it: a value, its tags, rotation configured (and no AWSPENDING left)."""
    all_tags = {"securestack:env": STACK, "securestack:name": name.rsplit("/", 1)[1], "securestack:kind": kind,
                **(tags or {})}
    arn = aws.create_secret(Name=name, SecretString=json.dumps({"key": VALUE}),
                            Tags=[{"Key": k, "Value": v} for k, v in all_tags.items()])["ARN"]
    if rotation:
        # RotateImmediately=False runs only the function's testSecret, as the stack configures rotation.
        aws.rotate_secret(SecretId=arn, RotationLambdaARN=rotation_function(moto_url),
                          RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False)
        pending = [v for v, stages in stages_of(aws, arn).items() if stages == ["AWSPENDING"]]
        for version in pending:
            aws.update_secret_version_stage(SecretId=arn, VersionStage="AWSPENDING", RemoveFromVersionId=version)
    return arn


def stages_of(aws, arn):
    return {v: sorted(s) for v, s in aws.describe_secret(SecretId=arn).get("VersionIdsToStages", {}).items()}


def state(aws, arn):
    """Everything the command may change: versions and their stages, tags."""
    description = aws.describe_secret(SecretId=arn)
    return stages_of(aws, arn), sorted((t["Key"], t["Value"]) for t in description.get("Tags", []))


def assert_refused(result, *fragments, code=2):
    """Refused: 2 before asking AWS (nothing to do, cannot run), 1 when AWS itself refused (README exit codes)."""
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert result.stdout == ""
    assert VALUE not in result.stderr


# Success


def test_rotate_starts_an_immediate_rotation_and_prints_its_version_and_the_grace(aws, moto_url):
    arn = deployed(aws, moto_url, tags={"securestack:previous-grace-days": "3"})
    before = set(stages_of(aws, arn))

    result = cli(moto_url, "rotate", STACK, "checkout")

    assert result.returncode == 0, result.stderr
    [new_version] = set(stages_of(aws, arn)) - before  # RotateSecret ran, at once (moto: already AWSCURRENT)
    assert result.stdout.strip() == (
        f"rotation of {KEY_NAME} (us-east-1) started: new version {new_version}; the previous value keeps working "
        "for 3 day(s) after the new one is current")
    assert result.stderr == "" and VALUE not in result.stdout
    assert REVOKE_TAG not in dict(state(aws, arn)[1])


def test_rotate_revoke_previous_tags_the_secret_for_the_rotator_before_rotating(aws, moto_url):
    arn = deployed(aws, moto_url, name=WEBHOOK_NAME, kind="webhook-secret")
    before = set(stages_of(aws, arn))

    result = cli(moto_url, "rotate", STACK, "order-events", "--revoke-previous")

    assert result.returncode == 0, result.stderr
    assert len(set(stages_of(aws, arn)) - before) == 1
    assert dict(state(aws, arn)[1])[REVOKE_TAG] == "true"  # the rotator's finishSecret removes it
    assert result.stdout.strip().endswith("the previous value stops working as soon as the new one is current")


def test_region_option_overrides_the_stacks_region(aws, moto_url):
    result = cli(moto_url, "rotate", STACK, "checkout", "--region", "eu-west-3")
    assert_refused(result, f"secret {KEY_NAME} not found in eu-west-3")


# Refusals: one line on stderr, exit 2, nothing changed


def test_unknown_stack_is_refused(aws, moto_url):
    stack = absent_stack()
    assert_refused(cli(moto_url, "rotate", stack, "checkout"), f"unknown stack '{stack}'",
                   f"known stacks: {', '.join(STACK_FILES)}")


def test_unknown_name_is_refused_listing_the_stacks_names(aws, moto_url):
    arn = deployed(aws, moto_url)
    before = state(aws, arn)
    assert_refused(cli(moto_url, "rotate", STACK, "checkuot"), "no API key or webhook named 'checkuot'",
                   "checkout", "order-events")
    assert state(aws, arn) == before


def test_no_credentials_is_refused(aws, moto_url):
    arn = deployed(aws, moto_url)
    before = state(aws, arn)
    assert_refused(cli(moto_url, "rotate", STACK, "checkout", "--revoke-previous", credentials=False),
                   "no AWS credentials found")
    assert state(aws, arn) == before


def test_secret_not_deployed_is_refused(aws, moto_url):
    assert_refused(cli(moto_url, "rotate", STACK, "checkout"), f"secret {KEY_NAME} not found in us-east-1")


def test_secret_without_rotation_is_refused(aws, moto_url):
    arn = deployed(aws, moto_url, rotation=False)
    before = state(aws, arn)
    assert_refused(cli(moto_url, "rotate", STACK, "checkout"), "has no rotation configured")
    assert state(aws, arn) == before


@pytest.mark.parametrize("revoke", [False, True], ids=["plain", "revoke-previous"])
def test_a_rotation_already_running_is_refused_and_nothing_is_tagged(aws, moto_url, revoke):
    arn = deployed(aws, moto_url)
    rotating = aws.put_secret_value(SecretId=arn, SecretString=json.dumps({"key": VALUE + "x"}),
                                    VersionStages=["AWSPENDING"])["VersionId"]
    before = state(aws, arn)
    flags = ["--revoke-previous"] if revoke else []
    assert_refused(cli(moto_url, "rotate", STACK, "checkout", *flags), "already running",
                   f"AWSPENDING on version {rotating}")
    assert state(aws, arn) == before


def test_rotate_secrets_refusal_removes_the_revoke_tag_it_set(aws, moto_url):
    """RotateSecret's own InvalidRequestException (moto raises it when AWSPENDING sits on AWSCURRENT: the check
    the command makes first lets that state through, so the refusal comes from Secrets Manager itself)."""
    arn = deployed(aws, moto_url)
    current = next(v for v, s in stages_of(aws, arn).items() if "AWSCURRENT" in s)
    aws.update_secret_version_stage(SecretId=arn, VersionStage="AWSPENDING", MoveToVersionId=current)
    before = state(aws, arn)
    assert_refused(cli(moto_url, "rotate", STACK, "checkout", "--revoke-previous"),
                   "Secrets Manager refused to rotate", "in progress", code=1)
    assert state(aws, arn) == before  # the tag it set is gone again


def test_a_leftover_revoke_tag_is_refused_without_the_flag(aws, moto_url):
    arn = deployed(aws, moto_url, tags={REVOKE_TAG: "true"})
    before = state(aws, arn)
    assert_refused(cli(moto_url, "rotate", STACK, "checkout"), f"still carries {REVOKE_TAG}")
    assert state(aws, arn) == before


def test_a_secret_of_another_kind_under_the_name_is_refused(aws, moto_url):
    arn = deployed(aws, moto_url, kind="webhook-secret")
    before = state(aws, arn)
    assert_refused(cli(moto_url, "rotate", STACK, "checkout"), "securestack:kind='webhook-secret'")
    assert state(aws, arn) == before


def test_unreachable_endpoint_is_one_line(aws, moto_url):
    result = cli("http://127.0.0.1:9", "rotate", STACK, "checkout")
    assert_refused(result, KEY_NAME, "Could not connect")


class _UnclearRotateSecret:
    """A client whose RotateSecret times out after the revoke tag was set: the outcome on AWS is unknown."""

    def __init__(self, error):
        self.error, self.calls = error, []

    def tag_resource(self, **request):
        self.calls.append(("tag_resource", request))

    def untag_resource(self, **request):
        self.calls.append(("untag_resource", request))

    def rotate_secret(self, **request):
        self.calls.append(("rotate_secret", request))
        raise self.error


def test_an_unclear_rotate_secret_keeps_the_revoke_tag_and_says_so():
    from botocore.exceptions import ReadTimeoutError

    from securestack.infra.secrets.common import Refused
    from securestack.infra.secrets.rotate import _rotate

    client = _UnclearRotateSecret(ReadTimeoutError(endpoint_url="https://secretsmanager.us-east-1.amazonaws.com"))
    with pytest.raises(Refused, match="may have started.*tag stays"):
        _rotate(client, {"ARN": "arn:aws:secretsmanager:us-east-1:111111111111:secret:k-AbCdEf", "Tags": []}, True)
    assert [name for name, _ in client.calls] == ["tag_resource", "rotate_secret"]  # never untagged


def test_a_refused_rotate_secret_removes_the_revoke_tag_it_set():
    from botocore.exceptions import ClientError

    from securestack.infra.secrets.rotate import _rotate

    refusal = ClientError({"Error": {"Code": "InvalidRequestException", "Message": "previous rotation isn't complete"},
                           "ResponseMetadata": {"HTTPStatusCode": 400}}, "RotateSecret")
    client = _UnclearRotateSecret(refusal)
    with pytest.raises(ClientError):
        _rotate(client, {"ARN": "arn:aws:secretsmanager:us-east-1:111111111111:secret:k-AbCdEf", "Tags": []}, True)
    assert [name for name, _ in client.calls] == ["tag_resource", "rotate_secret", "untag_resource"]


def test_a_missing_profile_is_one_line(aws, moto_url):
    arn = deployed(aws, moto_url)
    before = state(aws, arn)
    env = {**no_aws_config(), "AWS_PROFILE": "no-such-profile"}
    command = [sys.executable, "-m", "infra.secrets", "rotate", STACK, "checkout", "--endpoint-url", moto_url]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert_refused(result, "no-such-profile")
    assert state(aws, arn) == before
