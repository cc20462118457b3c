"""AppService and the app config output on both shipped stacks: Fargate behind the load balancer, secrets only by
reference, an execution role that reads exactly the consumed secrets."""
from __future__ import annotations

import json
import re

import pytest

from infra.settings import SettingsError, build_settings
from tests.support.shipped_fixtures import key_arn, recording, settings, stack  # noqa: F401 (fixtures)
from tests.support.stacks import by_output_id, edited, policy_statements, shipped_config, walk

SERVICE, TASK, CLUSTER = "aws:ecs/service:Service", "aws:ecs/taskDefinition:TaskDefinition", "aws:ecs/cluster:Cluster"
ROLE, ROLE_POLICY, SECRET = "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:secretsmanager/secret:Secret"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
READINESS = "pulumi-python:dynamic/securestack:SecretReadiness"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
VALUE_FROM = re.compile(r"^(?P<arn>arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+):"
                        r"(?P<key>[a-z_]+)::$")
JSON_KEYS = {"key", "secret", "username", "password"}  # the fields the rotators write


def container(recording) -> dict:
    [definition] = json.loads(recording.one(TASK).inputs["containerDefinitions"])
    return definition


def consumed_secret_arns(recording, settings) -> set[str]:
    env, app = settings.environment, settings.app
    names = ({f"securestack/{env}/api-keys/{n}" for n in app.api_keys}
             | {f"securestack/{env}/webhooks/{n}" for n in app.webhooks}
             | {f"securestack/{env}/database/{settings.database.app_username}"})
    return {s.outputs["arn"] for s in recording.of_type(SECRET) if s.inputs["name"] in names}


def test_cluster_and_service_names_come_from_settings(recording, settings):
    env = settings.environment
    cluster, service = recording.one(CLUSTER), recording.one(SERVICE)
    assert cluster.inputs["name"] == settings.app.cluster_name(env) == f"securestack-{env}"
    assert service.inputs["name"] == settings.app.service_name(env)
    assert {"name": "containerInsights", "value": "enabled"} in cluster.inputs["settings"]
    assert service.inputs["cluster"] == cluster.outputs["arn"]


def test_service_runs_privately_behind_the_target_group(recording, settings):
    service = recording.one(SERVICE).inputs
    network = recording.one("securestack:network:Network")
    private = sorted(s.id for s in recording.of_type("aws:ec2/subnet:Subnet")
                     if s.parent == network.urn and "private" in s.name)
    assert service["launchType"] == "FARGATE" and service["desiredCount"] == settings.app.desired_count
    assert sorted(service["networkConfiguration"]["subnets"]) == private
    assert service["networkConfiguration"]["assignPublicIp"] is False
    target_group = recording.one("aws:lb/targetGroup:TargetGroup")
    assert target_group.inputs["targetType"] == "ip"  # what awsvpc tasks register as
    assert service["loadBalancers"] == [{"targetGroupArn": target_group.outputs["arn"],
                                         "containerName": settings.app.name,
                                         "containerPort": settings.app.container_port}]
    assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert service["deploymentMinimumHealthyPercent"] == 100 and service["enableExecuteCommand"] is False


def test_service_starts_after_the_listener_and_its_secrets_have_values(recording):
    """Issue 11 item 6: tasks start only once every secret they inject is ready, and `pulumi up` waits for them."""
    service = recording.one(SERVICE)
    # Depending on the load balancer component waits for all of its children, the HTTPS listener included.
    https_listener = next(r for r in recording.of_type("aws:lb/listener:Listener") if r.inputs.get("protocol") == "HTTPS")
    assert https_listener.urn in service.options["dependsOn"]
    injected = {VALUE_FROM.match(item["valueFrom"])["arn"] for item in container(recording)["secrets"]}
    readiness = {r.inputs["secretArn"]: r.urn for r in recording.of_type(READINESS)}
    assert injected and injected <= set(readiness)
    assert {readiness[name] for name in injected} <= set(service.options["dependsOn"])
    assert service.inputs["waitForSteadyState"] is True


def test_container_is_locked_down(recording, settings):
    definition = container(recording)
    assert definition["image"] == settings.app.image
    assert definition["readonlyRootFilesystem"] is True and definition["privileged"] is False
    assert not definition["user"].startswith("0") and definition["user"] == settings.app.user
    assert definition["linuxParameters"]["capabilities"]["drop"] == ["ALL"]
    assert definition["portMappings"] == [{"containerPort": settings.app.container_port, "protocol": "tcp"}]


def test_secrets_are_injected_by_reference_only(recording, settings):
    definition = container(recording)
    arns = {s.outputs["arn"] for s in recording.of_type(SECRET)}
    references = definition["secrets"]
    assert references
    for reference in references:
        match = VALUE_FROM.match(reference["valueFrom"])
        assert match, reference
        assert match["arn"] in arns and match["key"] in JSON_KEYS
    assert {VALUE_FROM.match(r["valueFrom"])["arn"] for r in references} == consumed_secret_arns(recording, settings)
    names = {r["name"] for r in references}
    assert {"DB_USERNAME", "DB_PASSWORD"} <= names
    assert {f"API_KEY_{n.upper().replace('-', '_')}" for n in settings.app.api_keys} <= names
    # Nothing the rotators generate travels as a plain variable.
    plain = {e["name"]: e["value"] for e in definition["environment"]}
    assert not names & set(plain)
    assert not any(re.search(r"sk_(live|test)_|whsec_", value) for value in plain.values())


def test_non_secret_settings_are_plain_environment(recording, settings):
    plain = {e["name"]: e["value"] for e in container(recording)["environment"]}
    assert plain["SESSION_TTL_SECONDS"] == str(7 * 24 * 3600) == str(settings.app.session_ttl_seconds)
    assert plain["MAGIC_LINK_TTL_SECONDS"] == str(15 * 60) == str(settings.app.magic_link_ttl_seconds)
    assert plain["SECRETS_MANAGER_ENDPOINT"] == f"https://secretsmanager.{settings.region}.amazonaws.com"
    assert plain["DB_HOST"] == recording.one("aws:rds/instance:Instance").outputs["address"]
    assert plain["PUBLIC_URL"].startswith("https://")


def test_logs_go_to_the_apps_encrypted_log_group(recording, settings):
    logs_key = key_arn(recording, "logs")
    options = container(recording)["logConfiguration"]
    assert options["logDriver"] == "awslogs"
    group = next(g for g in recording.of_type("aws:cloudwatch/logGroup:LogGroup")
                 if g.inputs["name"] == options["options"]["awslogs-group"])
    assert group.inputs["kmsKeyId"] == logs_key and group.inputs["retentionInDays"] == settings.logs.retention_days
    assert options["options"]["awslogs-region"] == settings.region


def roles(recording) -> dict:
    return {r.outputs["arn"]: r for r in recording.of_type(ROLE)}


def test_execution_role_reads_exactly_the_consumed_secrets(recording, settings):
    task = recording.one(TASK).inputs
    assert task["executionRoleArn"] != task["taskRoleArn"]
    execution = roles(recording)[task["executionRoleArn"]]
    policy = next(p for p in recording.of_type(ROLE_POLICY) if p.inputs["role"] == execution.id)
    statements = {s["Sid"]: s for s in policy_statements(policy.inputs["policy"])}
    inject = statements["InjectConsumedSecrets"]
    assert inject["Action"] == "secretsmanager:GetSecretValue"
    assert set(inject["Resource"]) == consumed_secret_arns(recording, settings)
    key = statements["SecretsKeyThroughSecretsManager"]
    assert key["Action"] == "kms:Decrypt" and key["Condition"] == {
        "StringEquals": {"kms:ViaService": f"secretsmanager.{settings.region}.amazonaws.com"}}
    reads = [s for s in statements.values() if "secretsmanager:GetSecretValue" in str(s.get("Action"))]
    assert reads == [inject]


def test_task_role_has_no_permissions(recording):
    task_role = roles(recording)[recording.one(TASK).inputs["taskRoleArn"]]
    assert not [p for p in recording.of_type(ROLE_POLICY, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if p.inputs["role"] in (task_role.id, task_role.inputs["name"])]
    [trust] = policy_statements(task_role.inputs["assumeRolePolicy"])
    assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"} and "aws:SourceAccount" in str(trust)


def test_consumed_secrets_admit_the_execution_role(recording, settings):
    execution_arn = recording.one(TASK).inputs["executionRoleArn"]
    policies = {p.inputs["secretArn"]: p for p in recording.of_type("aws:secretsmanager/secretPolicy:SecretPolicy")}
    for arn, policy in policies.items():
        readers = next(s for s in policy_statements(policy.inputs["policy"])
                       if s["Sid"] == "DenyReadsExceptConsumersAndRotator")["Condition"]["StringNotEquals"]
        assert (execution_arn in readers["aws:PrincipalArn"]) == (arn in consumed_secret_arns(recording, settings))


def test_network_path_load_balancer_app_database(recording, settings):
    groups = by_output_id(recording, SECURITY_GROUP)
    service = recording.one(SERVICE).inputs
    [app_group_id] = service["networkConfiguration"]["securityGroups"]
    app_group = groups[app_group_id].inputs
    edge_group = recording.one(SECURITY_GROUP, "edge-sg")
    port = settings.app.container_port
    assert [(r["fromPort"], r["toPort"], r["securityGroups"]) for r in app_group["ingress"]] == \
        [(port, port, [edge_group.id])]
    to_app = [r for r in recording.of_type(EGRESS_RULE) if r.inputs["securityGroupId"] == edge_group.id
              and r.inputs["referencedSecurityGroupId"] == app_group_id]
    assert [(r.inputs["fromPort"], r.inputs["toPort"]) for r in to_app] == [(port, port)]
    database_group = recording.one(SECURITY_GROUP, "database-sg")
    assert [r for r in recording.of_type(INGRESS_RULE) if r.inputs["securityGroupId"] == database_group.id
            and r.inputs["referencedSecurityGroupId"] == app_group_id]
    assert {(r["fromPort"], r["toPort"]) for r in app_group["egress"]} == {(443, 443), (5432, 5432)}


def test_app_config_export_is_non_secret_and_points_at_real_resources(recording, settings):
    config = recording.stack_outputs["appConfig"]
    arns = {s.outputs["arn"] for s in recording.of_type(SECRET)}
    referenced = [v for v in walk(config["secrets"]) if isinstance(v, str)]
    assert referenced and set(referenced) <= arns
    assert set(config["secrets"]["apiKeys"]) == {k.name for k in settings.api_keys.root}
    assert config["endpoints"]["secretsManager"] == f"https://secretsmanager.{settings.region}.amazonaws.com"
    assert config["urls"]["public"].startswith("https://")
    assert config["session"] == {"ttlSeconds": 604800, "magicLinkTtlSeconds": 900}
    assert config["ecs"] == {"cluster": recording.one(CLUSTER).inputs["name"],
                             "service": recording.one(SERVICE).inputs["name"]}
    functions = {f.outputs["arn"]: f for f in recording.of_type("aws:lambda/function:Function")}
    exported = recording.stack_outputs["rotationFunctions"]
    assert {entry["arn"] for entry in exported.values()} == set(functions)
    assert all(functions[entry["arn"]].inputs["name"] == entry["name"] for entry in exported.values())


def test_names_within_aws_limits(recording):
    for role in recording.of_type(ROLE):
        assert len(role.inputs.get("name") or role.outputs["name"]) <= 64, role.name


@pytest.mark.parametrize("fields, key", [
    ({"user": "0:0"}, "securestack:app.user"),
    ({"environment": {"STRIPE_SECRET": "x"}}, "securestack:app.environment"),
    ({"environment": {"FEATURE_FLAG": "sk_live_abc"}}, "securestack:app.environment"),
    ({"containerPort": 9000}, "securestack:app.containerPort"),
    ({"cpu": 256, "memory": 4096}, "securestack:app"),
    ({"sessionTtlSeconds": 30 * 24 * 3600}, "securestack:app.sessionTtlSeconds"),
    ({"magicLinkTtlSeconds": 3600}, "securestack:app.magicLinkTtlSeconds"),
    ({"apiKeys": ["storefront-read", "checkout", "inventory-sync"]}, "securestack:app.apiKeys[2]"),
    ({"apiKeys": ["storefront-read"]}, "securestack:apiKeys[1].consumers"),
    ({"image": "222222222222.dkr.ecr.us-east-1.amazonaws.com/securestack-app:latest"}, "securestack:app.image"),
], ids=["root user", "secret-looking name", "secret-looking value", "port differs from target group",
        "no Fargate size", "session longer than 7 days", "magic link longer than 15 minutes",
        "consumes a key not granted", "granted a key it does not consume", "prod image not pinned"])
def test_invalid_app_settings(fields, key):
    with pytest.raises(SettingsError) as raised:
        build_settings(edited(shipped_config("prod"), "securestack:app", **fields), "prod")
    assert [p.split(": ", 1)[0] for p in raised.value.problems] == [key], raised.value.problems
