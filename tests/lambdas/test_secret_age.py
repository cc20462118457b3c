"""The secret age function (lambdas/secret_age) on moto: each alarm condition raised and cleared, read back from
moto's CloudWatch; only the environment's secrets; a secret it cannot read, a bad event, a refused publish; and
never a value (it never calls GetSecretValue; the autouse fixture checks no value reaches a log line)."""

import datetime
import json
import logging
import secrets
import time

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.secretsmanager.models import SecretsManagerBackend

import secret_age.handler as age
from tests.lambdas.harness import REGION, moto_secret

ENV = "dev"
SCHEDULED_EVENT = {"version": "0", "id": "5b0f0a24-8a2c-4d38-9c6e-3a5b1c2d3e4f", "detail-type": "Scheduled Event",
                   "source": "aws.events", "account": "123456789012", "time": "2026-12-01T06:00:00Z",
                   "region": REGION, "resources": [f"arn:aws:events:{REGION}:123456789012:rule/securestack-dev-secret-age"],
                   "detail": {}}
DAY = 86400


def tags(name, kind, issuer="self", **extra):
    return {"securestack:env": ENV, "securestack:name": name, "securestack:kind": kind, "securestack:issuer": issuer,
            **extra}


def vendor_key_tags(name="stackbe", rotation_days="90", **extra):
    return tags(name, "api-key", "vendor", **{"securestack:vendor": "stackbe", "securestack:scopes": "app:read",
                                              "securestack:rotation-days": rotation_days, **extra})


@pytest.fixture
def moto_aws(rotation, monkeypatch):
    """moto, with ListSecretVersionIds reporting each version's CreatedDate as AWS does (moto reports the time of
    the call for every version, which would make every secret zero days old)."""
    monkeypatch.setenv(age.ENVIRONMENT_VARIABLE, ENV)
    original = SecretsManagerBackend.list_secret_version_ids

    def list_secret_version_ids(self, secret_id):
        listed = json.loads(original(self, secret_id))
        versions = self.secrets[secret_id].versions
        for entry in listed["Versions"]:
            entry["CreatedDate"] = versions[entry["VersionId"]]["createdate"]
        return json.dumps(listed)

    monkeypatch.setattr(SecretsManagerBackend, "list_secret_version_ids", list_secret_version_ids)
    return rotation


@pytest.fixture
def age_log_lines(secret_values):
    """The function's JSON lines of the test so far, parsed; the autouse fixture also checks them for values."""
    logger = logging.getLogger(age.LOGGER_NAME)
    logger.addHandler(secret_values)
    yield lambda: [json.loads(text.split(" ", 2)[2]) for name, text in secret_values.lines if name == age.LOGGER_NAME]
    logger.removeHandler(secret_values)


class Clock:
    """The handler's clock: each run a minute later, so each run's datapoints can be read back alone."""

    def __init__(self):
        self.now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)

    def advance(self):
        self.now += datetime.timedelta(minutes=1)
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(age, "utc_now", lambda: clock.now)
    return clock


def run(clock, event=SCHEDULED_EVENT):
    clock.advance()
    return age.lambda_handler(event, None)


def published(clock, metric, secret=None):
    """The value the last run published for `metric` (an environment count, or one secret's metric)."""
    dimensions = [{"Name": "Environment", "Value": ENV}] + ([{"Name": "Secret", "Value": secret}] if secret else [])
    points = boto3.client("cloudwatch", region_name=REGION).get_metric_statistics(
        Namespace=age.NAMESPACE, MetricName=metric, Dimensions=dimensions, Statistics=["Maximum"], Period=60,
        StartTime=clock.now - datetime.timedelta(seconds=30), EndTime=clock.now + datetime.timedelta(seconds=30),
    )["Datapoints"]
    assert len(points) <= 1, points
    return points[0]["Maximum"] if points else None


def value(secret_values, field="key"):
    text = f"sk_test_{secrets.token_hex(16)}" if field == "key" else f"whsec_{secrets.token_hex(16)}"
    secret_values.add(text)
    return json.dumps({field: text, "env": ENV, "name": "stackbe", "vendor": "stackbe"})


def created_days_ago(secret_id, days):
    """Backdates the AWSCURRENT version (moto keeps CreatedDate as epoch seconds)."""
    secret = moto_secret(secret_id)
    for version in secret.versions.values():
        if "AWSCURRENT" in version["version_stages"]:
            version["createdate"] = int(time.time() - days * DAY)


def stage_and_promote(client, secret_id, text):
    """What `stage` then `promote` do (contract 15): a new AWSPENDING version, then AWSCURRENT moved to it."""
    old = next(v["VersionId"] for v in client.list_secret_version_ids(SecretId=secret_id)["Versions"]
               if "AWSCURRENT" in v["VersionStages"])
    new = client.put_secret_value(SecretId=secret_id, SecretString=text, VersionStages=["AWSPENDING"])["VersionId"]
    client.update_secret_version_stage(SecretId=secret_id, VersionStage="AWSCURRENT", MoveToVersionId=new,
                                       RemoveFromVersionId=old)
    client.update_secret_version_stage(SecretId=secret_id, VersionStage="AWSPENDING", RemoveFromVersionId=new)
    return new


def attention_lines(age_log_lines):
    return [line for line in age_log_lines() if line.get("outcome") == "attention"]


# -- each alarm condition, raised and cleared ------------------------------------------------------------------

def test_vendor_key_older_than_its_rotation_days_is_overdue_until_a_new_value_is_promoted(moto_aws, clock,
                                                                                            secret_values,
                                                                                            age_log_lines):
    name = "securestack/dev/api-keys/stackbe"
    arn = moto_aws.create_secret(name, vendor_key_tags(), value(secret_values), rotation=False)
    created_days_ago(arn, 91)
    summary = run(clock)
    assert summary["overdue"] == [name]
    assert published(clock, age.OVERDUE_METRIC) == 1
    assert 90.9 < published(clock, age.AGE_METRIC, name) < 91.1
    (line,) = attention_lines(age_log_lines)
    assert line["secret_name"] == name and line["problems"] == ["overdue"] and line["issuer"] == "vendor"
    assert line["rotation_days"] == 90

    stage_and_promote(moto_aws.client, arn, value(secret_values))
    assert run(clock)["overdue"] == []
    assert published(clock, age.OVERDUE_METRIC) == 0
    assert published(clock, age.AGE_METRIC, name) < 0.01


def test_a_vendor_key_gets_no_rotation_window_a_self_issued_one_gets_a_day(moto_aws, clock, secret_values):
    vendor = moto_aws.create_secret("securestack/dev/api-keys/stackbe", vendor_key_tags(), value(secret_values),
                                    rotation=False)
    own = moto_aws.create_secret("securestack/dev/api-keys/checkout", tags("checkout", "api-key",
                                                                            **{"securestack:rotation-days": "90"}),
                                 value(secret_values))  # rotation enabled, every 90 days (harness)
    created_days_ago(vendor, 90.5)
    created_days_ago(own, 90.5)
    assert run(clock)["overdue"] == ["securestack/dev/api-keys/stackbe"]
    assert published(clock, age.OVERDUE_METRIC) == 1


def test_self_issued_secret_whose_rotation_stopped_is_overdue_until_it_rotates_again(moto_aws, clock, secret_values,
                                                                                    age_log_lines):
    name = "securestack/dev/webhooks/order-events"
    arn = moto_aws.create_secret(name, tags("order-events", "webhook-secret"), value(secret_values, "secret"))
    created_days_ago(arn, 92)  # rotation every 90 days, last one 92 days ago: it stopped working
    assert run(clock)["overdue"] == [name]
    assert published(clock, age.OVERDUE_METRIC) == 1
    (line,) = attention_lines(age_log_lines)
    assert line["issuer"] == "self" and line["rotation_days"] == 90 and line["age_days"] == 92.0

    stage_and_promote(moto_aws.client, arn, value(secret_values, "secret"))  # the next rotation's finishSecret
    assert run(clock)["overdue"] == []
    assert published(clock, age.OVERDUE_METRIC) == 0


def test_rotation_turned_off_falls_back_to_the_rotation_days_tag(moto_aws, clock, secret_values):
    name = "securestack/dev/database/app-user"
    arn = moto_aws.create_secret(name, tags("app-user", "database-user", **{"securestack:rotation-days": "30"}),
                                 value(secret_values, "secret"), rotation=False)
    created_days_ago(arn, 32)
    assert run(clock)["overdue"] == [name]


def test_secret_without_current_value_is_counted_until_it_gets_one(moto_aws, clock, secret_values,
                                                                   age_log_lines):
    name = "securestack/dev/webhooks/barecommerce"
    arn = moto_aws.create_secret(name, tags("barecommerce", "webhook-secret", "vendor",
                                            **{"securestack:rotation-days": "90"}), rotation=False)
    summary = run(clock)
    assert summary["withoutCurrentValue"] == [name] and summary["overdue"] == []
    assert published(clock, age.WITHOUT_CURRENT_METRIC) == 1
    assert published(clock, age.HAS_CURRENT_METRIC, name) == 0
    assert published(clock, age.AGE_METRIC, name) is None  # no age without a current version
    (line,) = attention_lines(age_log_lines)
    assert line["problems"] == ["no-current-value"]

    moto_aws.client.put_secret_value(SecretId=arn, SecretString=value(secret_values, "secret"))
    assert run(clock)["withoutCurrentValue"] == []
    assert published(clock, age.WITHOUT_CURRENT_METRIC) == 0
    assert published(clock, age.HAS_CURRENT_METRIC, name) == 1


def test_compromised_tag_raises_until_removed(moto_aws, clock, secret_values):
    name = "securestack/dev/api-keys/stackbe"
    arn = moto_aws.create_secret(name, vendor_key_tags(), value(secret_values), rotation=False)
    current = moto_aws.client.describe_secret(SecretId=arn)["VersionIdsToStages"]
    moto_aws.client.tag_resource(SecretId=arn, Tags=[{"Key": "securestack:compromised", "Value": next(iter(current))}])
    assert run(clock)["compromised"] == [name]
    assert published(clock, age.COMPROMISED_METRIC) == 1

    moto_aws.client.untag_resource(SecretId=arn, TagKeys=["securestack:compromised"])  # what promote does
    assert run(clock)["compromised"] == []
    assert published(clock, age.COMPROMISED_METRIC) == 0


def test_vendor_secret_without_rotation_days_counts_as_overdue(moto_aws, clock, secret_values, age_log_lines):
    name = "securestack/dev/api-keys/stackbe"
    untagged = {k: v for k, v in vendor_key_tags().items() if k != "securestack:rotation-days"}
    moto_aws.create_secret(name, untagged, value(secret_values), rotation=False)
    assert run(clock)["overdue"] == [name]
    (line,) = attention_lines(age_log_lines)
    assert line["problems"] == ["no-rotation-schedule"]


def test_a_healthy_environment_publishes_zeros_every_day(moto_aws, clock, secret_values, age_log_lines):
    """Zeros, not silence: the alarms treat missing data as breaching, so only a function that runs keeps them OK."""
    moto_aws.create_secret("securestack/dev/api-keys/stackbe", vendor_key_tags(), value(secret_values), rotation=False)
    run(clock)
    for metric in (age.OVERDUE_METRIC, age.WITHOUT_CURRENT_METRIC, age.COMPROMISED_METRIC):
        assert published(clock, metric) == 0
    assert attention_lines(age_log_lines) == []


# -- what it checks, and what it never does ----------------------------------------------------------------------

def test_only_the_environments_keys_webhooks_and_database_login_are_checked(moto_aws, clock, secret_values):
    checked = ["securestack/dev/api-keys/stackbe", "securestack/dev/webhooks/orders", "securestack/dev/database/app"]
    for name in checked:
        moto_aws.create_secret(name, vendor_key_tags(), rotation=False)
    moto_aws.create_secret("securestack/dev/api-key-verifiers/checkout", tags("checkout", "api-key-verifier"),
                           rotation=False)
    moto_aws.create_secret("securestack/prod/api-keys/stackbe", {**vendor_key_tags(), "securestack:env": "prod"},
                           rotation=False)
    # Tagged with the value `dev` under another key: the two tag filters match independently.
    moto_aws.create_secret("securestack/prod/webhooks/orders", {"securestack:env": "prod", "team": ENV},
                           rotation=False)
    moto_aws.create_secret("someone-else/dev/api-keys/stackbe", vendor_key_tags(), rotation=False)
    assert run(clock)["withoutCurrentValue"] == sorted(checked)
    assert published(clock, age.WITHOUT_CURRENT_METRIC) == 3


def test_it_never_reads_a_value_and_logs_only_names(moto_aws, clock, secret_values, aws_calls, age_log_lines):
    arn = moto_aws.create_secret("securestack/dev/api-keys/stackbe", vendor_key_tags(), value(secret_values),
                                 rotation=False)
    created_days_ago(arn, 100)
    run(clock)
    assert aws_calls.count("GetSecretValue") == 0 and aws_calls.count("BatchGetSecretValue") == 0
    assert {name for name, _ in aws_calls.calls} == {"ListSecrets", "DescribeSecret", "ListSecretVersionIds",
                                                     "PutMetricData"}
    assert aws_calls.params("ListSecretVersionIds")[0]["IncludeDeprecated"] is False
    assert attention_lines(age_log_lines)  # the autouse fixture then checks no value is in any line


def test_a_secret_it_cannot_describe_is_counted_without_current_value_and_the_others_still_published(
        moto_aws, clock, secret_values, aws_calls, age_log_lines):
    broken, fine = "securestack/dev/api-keys/broken", "securestack/dev/api-keys/stackbe"
    broken_arn = moto_aws.create_secret(broken, vendor_key_tags("broken"), value(secret_values), rotation=False)
    moto_aws.create_secret(fine, vendor_key_tags(), value(secret_values), rotation=False)
    aws_calls.fail("secrets-manager", "DescribeSecret", code="AccessDeniedException", matching={"SecretId": broken_arn})
    summary = run(clock)
    assert summary["withoutCurrentValue"] == [broken] and summary["secrets"] == 2
    assert published(clock, age.HAS_CURRENT_METRIC, broken) == 0
    assert published(clock, age.HAS_CURRENT_METRIC, fine) == 1
    (line,) = [line for line in age_log_lines() if line.get("outcome") == "unreadable"]
    assert line["secret_name"] == broken and line["error_code"] == "AccessDeniedException"


def test_metrics_go_out_in_requests_within_the_api_limit(moto_aws, clock, secret_values, aws_calls):
    for index in range(12):
        moto_aws.create_secret(f"securestack/dev/api-keys/key-{index}", vendor_key_tags(f"key-{index}"),
                               value(secret_values), rotation=False)
    summary = run(clock)
    requests = aws_calls.params("PutMetricData")
    assert summary["metrics"] == 3 + 12 * 2 == sum(len(r["MetricData"]) for r in requests)
    assert len(requests) == 2 and all(len(r["MetricData"]) <= age.METRICS_PER_REQUEST for r in requests)
    # The counts the alarms watch go in the first request.
    assert [d["MetricName"] for d in requests[0]["MetricData"][:3]] == [
        age.OVERDUE_METRIC, age.WITHOUT_CURRENT_METRIC, age.COMPROMISED_METRIC]


def test_a_refused_publish_fails_the_invocation_after_every_batch_was_tried(moto_aws, clock, secret_values,
                                                                           aws_calls, age_log_lines):
    for index in range(12):
        moto_aws.create_secret(f"securestack/dev/api-keys/key-{index}", vendor_key_tags(f"key-{index}"),
                               value(secret_values), rotation=False)
    aws_calls.fail("cloudwatch", "PutMetricData", code="AccessDenied")
    with pytest.raises(RuntimeError, match="1 of 2 PutMetricData requests failed"):
        run(clock)
    assert aws_calls.count("PutMetricData") == 2
    assert [line["error_code"] for line in age_log_lines() if line.get("outcome") == "publish-failed"] == \
        ["AccessDenied"]


@pytest.mark.parametrize(("event", "field"), [
    (None, "event"), ("rate(1 day)", "event"), ({**SCHEDULED_EVENT, "source": "aws.s3"}, "source"),
    ({k: v for k, v in SCHEDULED_EVENT.items() if k != "detail-type"}, "detail-type"),
])
def test_an_unexpected_event_is_logged_and_the_check_still_runs(moto_aws, clock, secret_values, age_log_lines,
                                                                event, field):
    moto_aws.create_secret("securestack/dev/api-keys/stackbe", vendor_key_tags(), rotation=False)
    summary = run(clock, event)
    assert summary["unexpectedEvent"] == field and summary["withoutCurrentValue"] == ["securestack/dev/api-keys/stackbe"]
    assert published(clock, age.WITHOUT_CURRENT_METRIC) == 1
    (line,) = [line for line in age_log_lines() if line.get("outcome") == "unexpected-event"]
    assert line["event_field"] == field


@pytest.mark.parametrize("setting", [None, "", "  ", "Dev", "dev/prod"])
def test_no_usable_environment_fails_naming_the_variable(moto_aws, clock, monkeypatch, age_log_lines, setting):
    if setting is None:
        monkeypatch.delenv(age.ENVIRONMENT_VARIABLE)
    else:
        monkeypatch.setenv(age.ENVIRONMENT_VARIABLE, setting)
    with pytest.raises(age.ConfigurationError, match="SECURESTACK_ENVIRONMENT"):
        run(clock)
    assert [line["outcome"] for line in age_log_lines()] == ["refused"]


def test_its_log_refuses_any_field_but_names_counts_days_and_codes():
    with pytest.raises(TypeError, match="log fields not allowed: \\['value'\\]"):
        age.LOG.warning("secret needs attention", value="anything")


def test_its_cloudwatch_client_fails_fast_like_the_rotators_clients(moto_aws):
    from rotation_common import clients
    from secret_age.clients import cloudwatch_client

    config = cloudwatch_client().meta.config
    assert (config.connect_timeout, config.read_timeout) == (clients.CONNECT_TIMEOUT_SECONDS,
                                                             clients.READ_TIMEOUT_SECONDS)
    assert config.retries == {"total_max_attempts": clients.TOTAL_MAX_ATTEMPTS, "mode": "standard"}


def test_secrets_it_cannot_list_fail_the_run_with_one_log_line_and_publish_nothing(moto_aws, clock, aws_calls,
                                                                                  age_log_lines):
    aws_calls.fail("secrets-manager", "ListSecrets", code="AccessDeniedException")
    with pytest.raises(ClientError):
        run(clock)
    assert aws_calls.count("PutMetricData") == 0  # missing data: the count alarms treat it as breaching
    assert [(line["outcome"], line["error_code"]) for line in age_log_lines()] == [
        ("list-failed", "AccessDeniedException")]


@pytest.mark.parametrize(("description", "tags", "days"), [
    ({"RotationEnabled": True, "RotationRules": {"AutomaticallyAfterDays": 30}}, {}, 30),
    ({"RotationEnabled": True, "RotationRules": {"ScheduleExpression": "rate(45 days)"}}, {}, 45),
    # A cron schedule says no interval: the tag the stack writes does.
    ({"RotationEnabled": True, "RotationRules": {"ScheduleExpression": "cron(0 4 1 * ? *)"}},
     {"securestack:rotation-days": "31"}, 31),
    # Rotation turned off (a vendor secret, or a self-issued one someone stopped): the tag.
    ({"RotationEnabled": False, "RotationRules": {"AutomaticallyAfterDays": 30}}, {"securestack:rotation-days": "90"},
     90),
    ({}, {"securestack:rotation-days": "0"}, None), ({}, {"securestack:rotation-days": "ninety"}, None), ({}, {}, None),
])
def test_rotation_days_come_from_the_schedule_else_the_tag(description, tags, days):
    assert age.rotation_days_of(description, tags) == days


@pytest.mark.parametrize(("tag", "issuer"), [(None, "self"), ("self", "self"), ("vendor", "vendor"),
                                             ("stackbe", "vendor")])
def test_an_unknown_issuer_gets_the_stricter_vendor_rule(tag, issuer):
    assert age.issuer_of({} if tag is None else {"securestack:issuer": tag}) == issuer


def test_an_operators_on_demand_run_is_expected(moto_aws, clock, age_log_lines):
    """`revoke` and `promote` invoke the function with `{}` (InvocationType Event) so the compromised alarm moves now."""
    summary = run(clock, {})
    assert summary["unexpectedEvent"] is None
    assert [line["outcome"] for line in age_log_lines()] == ["published"]
    assert published(clock, age.COMPROMISED_METRIC) == 0
