"""AppService and the app config output on both shipped stacks: Fargate behind the load balancer, only the database
login and the vendor keys the app calls its vendors with injected (by reference), an execution role that reads
exactly those, and a task role that reads exactly the verifier records of the keys the app verifies and the webhook
secrets it signs with (never the value of a key this stack issues)."""
from __future__ import annotations

import json
import re

import pytest

from securestack.infra.settings import SettingsError, build_settings
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


def secret_arns(recording, *names) -> set[str]:
    return {s.outputs["arn"] for s in recording.of_type(SECRET) if s.inputs["name"] in names}


def vendor_keys_of_app(settings) -> list:
    """Issue 15: the vendor-issued keys the app calls its vendors with (ECS injects them into appVariable)."""
    return [key for key in settings.api_keys.vendor_issued() if "app" in key.consumers]


def consumed_secret_arns(recording, settings) -> set[str]:
    """What ECS injects: the database login and the vendor keys the app consumes."""
    env = settings.environment
    return secret_arns(recording, f"securestack/{env}/database/{settings.database.app_username}",
                       *(f"securestack/{env}/api-keys/{key.name}" for key in vendor_keys_of_app(settings)))


def verified(settings) -> list[str]:
    return settings.app.verified_keys(settings.api_keys)


def key_arns(recording, settings, path="api-keys") -> set[str]:
    return secret_arns(recording, *(f"securestack/{settings.environment}/{path}/{n}" for n in verified(settings)))


def signing_arns(recording, settings) -> set[str]:
    """The self-issued webhook secrets the app signs with (a vendor's ones it verifies with: tests/test_vendor_stack)."""
    vendor = {hook.name for hook in settings.webhooks.vendor_issued()}
    return secret_arns(recording, *(f"securestack/{settings.environment}/webhooks/{n}" for n in settings.app.webhooks
                                    if n not in vendor))


def test_cluster_and_service_names_come_from_settings(recording, settings):
    env = settings.environment
    cluster, service = recording.one(CLUSTER), recording.one(SERVICE)
    assert cluster.inputs["name"] == settings.app.cluster_name(env) == f"securestack-{env}"
    assert service.inputs["name"] == settings.app.service_name(env)
    assert {"name": "containerInsights", "value": "enabled"} in cluster.inputs["settings"]
    assert service.inputs["cluster"] == cluster.outputs["arn"]


def test_service_runs_privately_behind_the_target_group(recording, settings):
    service = recording.one(SERVICE).inputs
    network = recording.one("securestack:index:Network")
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
    # Issue 12: keys and webhooks are read at run time (and reloaded), so tasks wait for what ECS injects only: the
    # database login and (issue 15) the vendor keys.
    waited = {arn for arn, urn in readiness.items() if urn in service.options["dependsOn"]}
    assert waited == injected
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
    # Issue 12: no key this stack issues or signing secret injected; issue 15: the vendor keys the app calls with.
    assert names == {"DB_USERNAME", "DB_PASSWORD", *(key.app_variable for key in vendor_keys_of_app(settings))}
    assert [r for r in references if r["name"] == "STACKBE_API_KEY"][0]["valueFrom"].endswith(":key::")
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


def task_role_statements(recording) -> dict:
    task_role = roles(recording)[recording.one(TASK).inputs["taskRoleArn"]]
    attached = [p for p in recording.of_type(ROLE_POLICY, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if p.inputs["role"] in (task_role.id, task_role.inputs["name"])]
    assert [p.type for p in attached] == [ROLE_POLICY], "one inline policy, nothing attached"
    assert not task_role.inputs.get("inlinePolicies") and not task_role.inputs.get("managedPolicyArns")
    return {s["Sid"]: s for s in policy_statements(attached[0].inputs["policy"])}


def test_task_role_reads_exactly_its_verifier_records_and_signing_secrets(recording, settings):
    """Issue 12 item 2: the app's code reads the verifier records of the keys it verifies and the webhook secrets
    it signs with (GetSecretValue), finds the records from DescribeSecret on the keys, and nothing else."""
    statements = task_role_statements(recording)
    assert set(statements) == {"FindVerifierRecordsOfVerifiedKeys", "ReadVerifierRecords",
                               "ReadWebhookSigningSecrets", "SecretsKeyThroughSecretsManager"}
    assert all(s["Effect"] == "Allow" and "Condition" not in s for sid, s in statements.items()
               if sid != "SecretsKeyThroughSecretsManager")
    find = statements["FindVerifierRecordsOfVerifiedKeys"]
    assert find["Action"] == "secretsmanager:DescribeSecret" and set(find["Resource"]) == key_arns(recording, settings)
    records = statements["ReadVerifierRecords"]
    assert records["Action"] == "secretsmanager:GetSecretValue"
    assert set(records["Resource"]) == key_arns(recording, settings, "api-key-verifiers")
    signing = statements["ReadWebhookSigningSecrets"]
    assert signing["Action"] == "secretsmanager:GetSecretValue"
    assert set(signing["Resource"]) == signing_arns(recording, settings)
    key = statements["SecretsKeyThroughSecretsManager"]
    assert (key["Action"], key["Resource"]) == ("kms:Decrypt", key_arn(recording, "secrets"))
    assert key["Condition"] == {"StringEquals": {"kms:ViaService": f"secretsmanager.{settings.region}.amazonaws.com"}}
    # Never a key's value: no GetSecretValue on any API key secret.
    value_reads = {arn for s in statements.values() if s["Action"] == "secretsmanager:GetSecretValue"
                   for arn in s["Resource"]}
    assert not value_reads & key_arns(recording, settings)
    task_role = roles(recording)[recording.one(TASK).inputs["taskRoleArn"]]
    [trust] = policy_statements(task_role.inputs["assumeRolePolicy"])
    assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"} and "aws:SourceAccount" in str(trust)


def reads_admitted(recording) -> dict[str, set]:
    """secret ARN -> the principals its resource policy lets read the value."""
    admitted = {}
    for policy in recording.of_type("aws:secretsmanager/secretPolicy:SecretPolicy"):
        # A vendor-issued secret's writers (the operators) do not read: its Sid says consumers only.
        reads = next(s for s in policy_statements(policy.inputs["policy"])
                     if s["Sid"] in ("DenyReadsExceptConsumersAndRotator", "DenyReadsExceptConsumers"))
        assert reads["Action"] == ["secretsmanager:GetSecretValue"]
        admitted[policy.inputs["secretArn"]] = set(reads["Condition"]["StringNotEquals"]["aws:PrincipalArn"])
    return admitted


def test_resource_policies_admit_the_app_roles_to_exactly_their_secrets(recording, settings):
    """Each secret's deny-only policy lets the execution role read the database login only, the task role the
    verifier records and signing secrets only; no policy denies DescribeSecret (the app finds records that way)."""
    task = recording.one(TASK).inputs
    admitted = reads_admitted(recording)
    assert {arn for arn, readers in admitted.items() if task["executionRoleArn"] in readers} == \
        consumed_secret_arns(recording, settings)
    assert {arn for arn, readers in admitted.items() if task["taskRoleArn"] in readers} == \
        key_arns(recording, settings, "api-key-verifiers") | signing_arns(recording, settings)
    for policy in recording.of_type("aws:secretsmanager/secretPolicy:SecretPolicy"):
        for statement in policy_statements(policy.inputs["policy"]):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if statement["Effect"] == "Deny" and statement["Sid"] != "DenyWithoutTls":
                assert "secretsmanager:DescribeSecret" not in actions


def test_no_key_value_reaches_the_app(recording, settings):
    """Issue 12: not injected, not readable by either app role, not in the environment."""
    keys = key_arns(recording, settings) | secret_arns(recording, *(
        f"securestack/{settings.environment}/api-keys/{k.name}" for k in settings.api_keys.self_issued()))
    task = recording.one(TASK).inputs
    admitted = reads_admitted(recording)
    assert not any(task[role] in admitted[arn] for arn in keys for role in ("executionRoleArn", "taskRoleArn"))
    definition = container(recording)
    assert not {VALUE_FROM.match(r["valueFrom"])["arn"] for r in definition["secrets"]} & keys


def test_app_gets_the_arns_it_verifies_and_signs_with_as_configuration(recording, settings):
    """The contract with securestack_runtime: JSON of ARNs (never a value), exactly what the task role may use."""
    plain = {e["name"]: e["value"] for e in container(recording)["environment"]}
    verifiers = json.loads(plain["SECURESTACK_API_KEY_VERIFIERS"])
    assert isinstance(verifiers, list) and set(verifiers) == key_arns(recording, settings) and len(verifiers) == 4
    signing = json.loads(plain["SECURESTACK_WEBHOOK_SECRETS"])
    assert set(signing) == set(settings.app.webhooks)
    assert set(signing.values()) == signing_arns(recording, settings)


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
    assert set(config["secrets"]["apiKeys"]) == {k.name for k in settings.api_keys.self_issued()}
    assert set(config["secrets"]["vendorApiKeys"]) == {k.name for k in settings.api_keys.vendor_issued()} == {"stackbe"}
    assert set(config["secrets"]["vendorWebhooks"]) == {w.name for w in settings.webhooks.vendor_issued()}
    assert config["endpoints"]["secretsManager"] == f"https://secretsmanager.{settings.region}.amazonaws.com"
    assert config["urls"]["public"].startswith("https://")
    assert config["session"] == {"ttlSeconds": 604800, "magicLinkTtlSeconds": 900}
    assert config["ecs"] == {"cluster": recording.one(CLUSTER).inputs["name"],
                             "service": recording.one(SERVICE).inputs["name"]}
    functions = {f.outputs["arn"]: f for f in recording.of_type("aws:lambda/function:Function")
                 if "securestack:rotator" in f.inputs["tags"]}  # the secret age function is no rotator
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
    ({"apiKeys": ["storefront-read"]}, "securestack:app.apiKeys"),
    ({"verifiesApiKeys": ["storefront-read", "partner"]}, "securestack:app.verifiesApiKeys[1]"),
    ({"webhooks": ["order-events", "refunds"]}, "securestack:app.webhooks[1]"),
    ({"webhooks": []}, "securestack:webhooks[0].consumers"),
    ({"image": "222222222222.dkr.ecr.us-east-1.amazonaws.com/securestack-app:latest"}, "securestack:app.image"),
], ids=["root user", "secret-looking name", "secret-looking value", "port differs from target group",
        "no Fargate size", "session longer than 7 days", "magic link longer than 15 minutes",
        "holds keys (refused: it verifies them)", "verifies an unknown key", "signs with an unknown webhook",
        "granted a webhook it does not sign with", "prod image not pinned"])
def test_invalid_app_settings(fields, key):
    with pytest.raises(SettingsError) as raised:
        build_settings(edited(shipped_config("prod"), "securestack:app", **fields), "prod")
    assert [p.split(": ", 1)[0] for p in raised.value.problems] == [key], raised.value.problems
