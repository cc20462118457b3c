"""Issue 15 item 3 on the recorded stacks: the secret age function (signed, private, never reading a value), its
daily schedule, and its alarms on the audit topic; its Args refuse a bad field in one line."""
from __future__ import annotations

import json

import pytest

from securestack.components.args import ArgsError
from securestack.components.code_signing import CodeSigningTarget
from securestack.components.rotation import build_archive
from securestack.components.secret_age_alarms import COUNT_ALARMS, NAMESPACE, SecretAgeAlarmsArgs
from securestack.infra.program import stack_private_code
from tests.support.shipped_fixtures import key_arn, recording, settings, stack  # noqa: F401 (fixtures)
from tests.support.stacks import by_output, policy_statements

FUNCTION, ROLE, ROLE_POLICY = "aws:lambda/function:Function", "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"
RULE, TARGET = "aws:cloudwatch/eventRule:EventRule", "aws:cloudwatch/eventTarget:EventTarget"
PERMISSION, ALARM = "aws:lambda/permission:Permission", "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC, SG, LOG_GROUP = "aws:sns/topic:Topic", "aws:ec2/securityGroup:SecurityGroup", "aws:cloudwatch/logGroup:LogGroup"


def age_function(recording):
    return recording.one(FUNCTION, "secret-age-function")


def audit_topic_arn(recording):
    return recording.stack_outputs["audit"]["alarmTopicArn"]


def age_statements(recording):
    role = recording.one(ROLE, "secret-age-role")
    policies = [p for p in recording.of_type(ROLE_POLICY) if p.inputs["role"] == role.outputs["id"]]
    assert {p.name for p in policies} == {"secret-age-runtime", "secret-age-check"}
    return [s for p in policies for s in policy_statements(p.inputs["policy"])]


def actions(statement):
    action = statement["Action"]
    return [action] if isinstance(action, str) else action


def test_the_role_never_reads_a_value_and_describes_only_this_environments_secrets(recording, settings):
    statements = age_statements(recording)
    granted = {a for s in statements for a in actions(s)}
    assert not {a for a in granted if a.startswith("secretsmanager:") and "Value" in a}
    assert not [a for a in granted if a.endswith(":*") or a == "*"]
    by_sid = {s["Sid"]: s for s in statements}
    describe = by_sid["DescribeThisEnvironmentsSecrets"]
    assert actions(describe) == ["secretsmanager:DescribeSecret", "secretsmanager:ListSecretVersionIds"]
    assert describe["Resource"].endswith(f":secret:securestack/{settings.environment}/*")
    assert by_sid["ListSecretsInThisRegion"]["Condition"] == {
        "StringEquals": {"aws:RequestedRegion": settings.region}}
    assert by_sid["PublishSecretMetricsOnly"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": NAMESPACE}}


def test_the_function_runs_signed_code_privately_like_the_rotators(recording, settings):
    function = age_function(recording)
    inputs = function.inputs
    assert inputs["name"] == f"securestack-{settings.environment}-secret-age"
    assert inputs["runtime"] == "python3.13" and inputs["architectures"] == ["arm64"]
    assert inputs["handler"] == "handler.lambda_handler"
    assert inputs["environment"]["variables"] == {"SECURESTACK_ENVIRONMENT": settings.environment}
    assert inputs["kmsKeyArn"] == key_arn(recording, "secrets")
    assert inputs["tracingConfig"] == {"mode": "Active"}
    assert sorted(inputs["vpcConfig"]["subnetIds"]) == sorted(recording.stack_outputs["privateSubnetIds"])
    # The rotators' code-signing configuration, and the object its signing job produced.
    rotator = recording.one(FUNCTION, "webhook-rotator-function")
    assert inputs["codeSigningConfigArn"] == rotator.inputs["codeSigningConfigArn"]
    job = recording.one("aws:signer/signingJob:SigningJob", "secret-age-code-signing")
    assert inputs["s3Key"] == job.outputs["signedObjects"][0]["s3s"][0]["key"]
    assert inputs["sourceCodeHash"] == build_archive("secret_age").source_code_hash
    (group,) = [g for g in recording.of_type(LOG_GROUP) if g.inputs["name"] == f"/aws/lambda/{inputs['name']}"]
    assert group.inputs["kmsKeyId"] == key_arn(recording, "logs")
    assert group.inputs["retentionInDays"] == settings.logs.retention_days
    sg = recording.one(SG, "secret-age-sg")
    assert sg.inputs.get("ingress") in (None, [])
    assert [(r["protocol"], r["fromPort"], r["toPort"], r["cidrBlocks"]) for r in sg.inputs["egress"]] == \
        [("tcp", 443, 443, [settings.network.vpc_cidr])]


def test_eventbridge_invokes_it_daily_and_is_the_only_invoker(recording):
    function = age_function(recording)
    rule = recording.one(RULE, "secret-age-schedule")
    assert rule.inputs["scheduleExpression"] == "rate(1 day)"
    target = recording.one(TARGET, "secret-age-target")
    assert target.inputs["rule"] == rule.outputs["name"] and target.inputs["arn"] == function.outputs["arn"]
    (permission,) = [p for p in recording.of_type(PERMISSION) if p.inputs["function"] == function.outputs["name"]]
    assert permission.inputs["principal"] == "events.amazonaws.com"
    assert permission.inputs["sourceArn"] == rule.outputs["arn"]


def test_the_three_count_alarms_watch_this_environment_and_notify_the_audit_topic(recording, settings):
    alarms = {a.inputs["metricName"]: a for a in recording.of_type(ALARM) if a.inputs.get("namespace") == NAMESPACE}
    assert set(alarms) == {"OverdueSecrets", "SecretsWithoutCurrentValue", "CompromisedSecrets"}
    topic = audit_topic_arn(recording)
    assert topic in by_output(recording, "arn", TOPIC)
    for spec in COUNT_ALARMS:
        alarm = alarms[spec.metric].inputs
        assert alarm["name"] == f"securestack-{settings.environment}-{spec.slug}"
        assert alarm["dimensions"] == {"Environment": settings.environment}
        assert (alarm["comparisonOperator"], alarm["threshold"], alarm["statistic"]) == \
            ("GreaterThanThreshold", 0, "Maximum")
        assert alarm["period"] == 86400 and alarm["evaluationPeriods"] == 1
        assert alarm["treatMissingData"] == "breaching"  # a function that stopped reporting raises them
        assert alarm["alarmActions"] == alarm["okActions"] == [topic] and alarm["actionsEnabled"] is True
        assert "First:" in alarm["alarmDescription"]


def test_the_functions_own_errors_raise_an_alarm_on_the_audit_topic(recording, settings):
    alarm = recording.one(ALARM, "secret-age-secret-age-errors-alarm").inputs
    assert (alarm["namespace"], alarm["metricName"], alarm["statistic"]) == ("AWS/Lambda", "Errors", "Sum")
    assert alarm["dimensions"] == {"FunctionName": age_function(recording).outputs["name"]}
    assert alarm["alarmActions"] == alarm["okActions"] == [audit_topic_arn(recording)]


def test_the_stack_has_the_monitoring_endpoint_the_function_publishes_through(recording, settings):
    assert "monitoring" in stack_private_code(settings).interface_endpoints()
    endpoints = [e for e in recording.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
                 if e.inputs["serviceName"] == f"com.amazonaws.{settings.region}.monitoring"]
    assert len(endpoints) == 1 and endpoints[0].inputs["privateDnsEnabled"] is True
    assert sorted(endpoints[0].inputs["subnetIds"]) == sorted(recording.stack_outputs["privateSubnetIds"])


# -- Args ------------------------------------------------------------------------------------------------------

def valid_args(**changes):
    target = CodeSigningTarget(bucket="code", profile_name="profile",
                               config_arn="arn:aws:lambda:us-east-1:111111111111:code-signing-config:csc-0123",
                               encryption_key_arn="arn:aws:kms:us-east-1:111111111111:key/k")
    fields = dict(environment="dev", secrets_key_arn="arn:aws:kms:us-east-1:111111111111:key/s",
                  logs_key_arn="arn:aws:kms:us-east-1:111111111111:key/l", vpc_id="vpc-0a1b2c3d4e5f60718",
                  vpc_cidr="10.20.0.0/16", private_subnet_ids=["subnet-a", "subnet-b"], code_signing=target,
                  alarm_topic_arn="arn:aws:sns:us-east-1:111111111111:alarms")
    return {**fields, **changes}


@pytest.mark.parametrize(("change", "field"), [
    ({"environment": "Dev"}, "environment"), ({"log_retention_days": 10}, "log_retention_days"),
    ({"tags": {"aws:owner": "x"}}, "tags"), ({"code_signing": "arn:aws:lambda:..."}, "code_signing"),
])
def test_a_bad_field_is_one_line_naming_it(change, field):
    with pytest.raises(ArgsError) as raised:
        SecretAgeAlarmsArgs(**valid_args(**change))
    assert str(raised.value).startswith(f"SecretAgeAlarmsArgs.{field}: ") and "\n" not in str(raised.value)


def test_valid_args_keep_their_defaults():
    args = SecretAgeAlarmsArgs(**valid_args())
    assert args.log_retention_days == 365 and args.tags == {}
    assert json.dumps(args.private_subnet_ids) == '["subnet-a", "subnet-b"]'
