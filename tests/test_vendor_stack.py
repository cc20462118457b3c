"""Issue 15 on the recorded stacks: the shipped stacks' vendor-issued StackBE key (its secret, tags, operators-only
writers, no rotation, injected into the app by valueFrom, a readiness check before the app), a stack whose keys and
webhooks are all vendor-issued (no api-key or webhook rotator), and a vendor webhook the app verifies."""
from __future__ import annotations

import json
from dataclasses import replace as replaced_config

import pytest

from securestack.infra.preview import run_stack
from securestack.infra.stack_config import read_stack_config
from securestack.policy.harness import evaluate
from tests.support.shipped_fixtures import key_arn, recording, settings, stack  # noqa: F401 (fixtures)
from tests.support.stacks import edited, policy_statements, replaced, shipped_config

SECRET, SECRET_POLICY = "aws:secretsmanager/secret:Secret", "aws:secretsmanager/secretPolicy:SecretPolicy"
ROTATION, FUNCTION = "aws:secretsmanager/secretRotation:SecretRotation", "aws:lambda/function:Function"
READINESS = "pulumi-python:dynamic/securestack:SecretReadiness"
TASK, SERVICE = "aws:ecs/taskDefinition:TaskDefinition", "aws:ecs/service:Service"
ROLE, ROLE_POLICY = "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"
METRIC_FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
VENDOR_WEBHOOK = {"name": "barecommerce-orders", "issuer": "vendor", "vendor": "barecommerce", "consumers": ["app"],
                  "previousGraceDays": 3, "description": "BareCommerce's order webhooks the app verifies"}


def secret_named(recording, name):
    return next(r for r in recording.of_type(SECRET) if r.inputs["name"] == name)


def policy_of(recording, secret) -> dict:
    [policy] = [p for p in recording.of_type(SECRET_POLICY) if p.inputs["secretArn"] == secret.outputs["arn"]]
    return {s["Sid"]: s for s in policy_statements(policy.inputs["policy"])}


def role_arn(recording, name):
    return next(r.outputs["arn"] for r in recording.of_type(ROLE) if r.inputs.get("name") == name)


def container(recording) -> dict:
    [definition] = json.loads(recording.one(TASK).inputs["containerDefinitions"])
    return definition


def task_role_statements(recording) -> dict:
    task_role = next(r for r in recording.of_type(ROLE) if r.outputs["arn"] == recording.one(TASK).inputs["taskRoleArn"])
    [policy] = [p for p in recording.of_type(ROLE_POLICY) if p.inputs["role"] == task_role.id]
    return {s["Sid"]: s for s in policy_statements(policy.inputs["policy"])}


def test_stackbe_key_is_a_vendor_secret_under_the_contract_name_key_and_tags(recording, settings):
    env = settings.environment
    secret = secret_named(recording, f"securestack/{env}/api-keys/stackbe")
    assert secret.inputs["kmsKeyId"] == key_arn(recording, "secrets")
    assert secret.inputs["recoveryWindowInDays"] == settings.secrets.recovery_window_days
    assert secret.options["protect"] is secret.options["retainOnDelete"] is settings.is_production
    tags = secret.inputs["tags"]
    cluster, service = recording.one("aws:ecs/cluster:Cluster"), recording.one(SERVICE)
    assert {key: tags[key] for key in tags if key.startswith("securestack:") and key != "securestack:project"} == {
        "securestack:env": env, "securestack:name": "stackbe", "securestack:kind": "api-key",
        "securestack:issuer": "vendor", "securestack:rotation-days": "90", "securestack:vendor": "stackbe",
        "securestack:scopes": "app:read",
        # StackBE marks its keys' tier: what `infra.secrets stage` checks a staged value against
        "securestack:key-prefix": "sk_live_" if settings.is_production else "sk_test_",
        # what `infra.secrets promote` redeploys: the names the engine really creates
        "securestack:ecs-service": f"{cluster.inputs['name']}/{service.inputs['name']}"}
    assert "securestack:verifier-secret" not in tags  # the vendor verifies its keys, not this stack
    assert not [r for r in recording.of_type(SECRET) if r.inputs["name"].endswith("/api-key-verifiers/stackbe")]


def test_stackbe_key_is_written_by_the_operators_only_and_read_by_the_app_execution_role_only(recording, settings):
    env, app = settings.environment, settings.app.name
    statements = policy_of(recording, secret_named(recording, f"securestack/{env}/api-keys/stackbe"))
    assert set(statements) == {"DenyReadsExceptConsumers", "DenyValueChangesExceptOperators", "DenyWithoutTls"}
    assert all(s["Effect"] == "Deny" and s["Principal"] == {"AWS": "*"} for s in statements.values())
    operators = list(settings.secrets.operators)
    assert operators == [f"arn:aws:iam::{settings.allowed_account_ids[0]}:role/securestack-{env}-secrets-operator"]
    assert statements["DenyValueChangesExceptOperators"]["Condition"]["StringNotEquals"]["aws:PrincipalArn"] == operators
    assert statements["DenyReadsExceptConsumers"]["Condition"]["StringNotEquals"]["aws:PrincipalArn"] == [
        role_arn(recording, f"securestack-{env}-{app}-execution")]


def test_stackbe_key_has_no_rotation_and_no_value_from_pulumi(recording, settings):
    secret = secret_named(recording, f"securestack/{settings.environment}/api-keys/stackbe")
    assert not [r for r in recording.of_type(ROTATION) if r.inputs["secretId"] == secret.id]
    assert not recording.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert "never rotated" in secret.inputs["description"]
    exported = recording.stack_outputs["secrets"][secret.inputs["name"]]
    assert exported == {"arn": secret.outputs["arn"], "issuer": "vendor", "rotationDays": 90}


def test_app_gets_stackbe_injected_by_reference_and_waits_for_its_value(recording, settings):
    secret = secret_named(recording, f"securestack/{settings.environment}/api-keys/stackbe")
    injected = {r["name"]: r["valueFrom"] for r in container(recording)["secrets"]}
    assert injected["STACKBE_API_KEY"] == f"{secret.outputs['arn']}:key::"  # contract 15's value JSON field
    assert "STACKBE_API_KEY" not in {e["name"] for e in container(recording)["environment"]}
    [check] = [r for r in recording.of_type(READINESS) if r.inputs["secretArn"] == secret.outputs["arn"]]
    assert "rotationLambdaArn" not in check.inputs  # vendor mode: checks once, never rotates
    assert check.urn in recording.one(SERVICE).options["dependsOn"]
    execution = next(r for r in recording.of_type(ROLE) if r.outputs["arn"] == recording.one(TASK).inputs[
        "executionRoleArn"])
    [policy] = [p for p in recording.of_type(ROLE_POLICY) if p.inputs["role"] == execution.id]
    inject = next(s for s in policy_statements(policy.inputs["policy"]) if s["Sid"] == "InjectConsumedSecrets")
    assert secret.outputs["arn"] in inject["Resource"]
    assert recording.stack_outputs["appConfig"]["secrets"]["vendorApiKeys"] == {"stackbe": secret.outputs["arn"]}


def test_the_audit_expects_the_operators(recording, settings):
    """They write vendor values by design: secrets-unexpected-principal must not fire for them."""
    [pattern] = [f.inputs["pattern"] for f in recording.of_type(METRIC_FILTER)
                 if f.inputs["name"].endswith("secrets-unexpected-principal")]
    for operator in settings.secrets.operators:
        role = operator.split(":role/", 1)[1]  # CloudTrail names the session: assumed-role/<role>/<session>
        assert f'$.userIdentity.arn != "*:assumed-role/{role}/*"' in pattern


@pytest.fixture(scope="module")
def vendor_only_stack():
    """dev with every key and webhook vendor-issued: the app verifies no key and signs nothing."""
    config = shipped_config("dev")
    keys = [{"name": "stackbe", "issuer": "vendor", "vendor": "stackbe", "scopes": ["app:read"], "consumers": ["app"]},
            {"name": "barecommerce-sync", "issuer": "vendor", "vendor": "barecommerce", "scopes": ["products:read"],
             "consumers": ["warehouse-sync"], "rotationDays": 30}]
    config = replaced(replaced(config, "securestack:apiKeys", keys), "securestack:webhooks", [VENDOR_WEBHOOK])
    stack_config = replaced_config(read_stack_config("dev"), config=edited(config, "securestack:app",
                                                                           webhooks=["barecommerce-orders"]))
    return stack_config, run_stack(stack_config)


@pytest.fixture(scope="module")
def vendor_only(vendor_only_stack):
    return vendor_only_stack[1]


def test_a_stack_with_only_vendor_entries_passes_the_policy_pack(vendor_only_stack):
    stack_config, recorded = vendor_only_stack
    assert evaluate(recorded, stack_config) == []


def test_a_stack_with_only_vendor_entries_has_no_key_or_webhook_rotator(vendor_only):
    functions = {f.inputs["name"] for f in vendor_only.of_type(FUNCTION)}
    # Besides the database login's rotator, only the daily age check, which vendor keys need most (nothing rotates them).
    assert functions == {"securestack-dev-postgres-user-rotation", "securestack-dev-secret-age"}
    assert set(vendor_only.stack_outputs["rotationFunctions"]) == {"postgres_user_rotation"}
    assert [r.inputs["secretId"] for r in vendor_only.of_type(ROTATION)] == [
        secret_named(vendor_only, "securestack/dev/database/app").id]
    assert not vendor_only.of_type("securestack:index:ScopedApiKeys", "securestack:index:WebhookSecrets")
    names = {r.inputs["name"] for r in vendor_only.of_type(SECRET)}
    assert {"securestack/dev/api-keys/stackbe", "securestack/dev/api-keys/barecommerce-sync",
            "securestack/dev/webhooks/barecommerce-orders"} <= names
    assert not [n for n in names if "/api-key-verifiers/" in n]
    sync = secret_named(vendor_only, "securestack/dev/api-keys/barecommerce-sync").inputs["tags"]
    assert sync["securestack:rotation-days"] == "30" and sync["securestack:key-prefix"] == "sk_test_"
    assert "securestack:ecs-service" not in sync  # the app does not consume it


def test_app_verifies_a_vendor_webhook_with_its_task_role_at_run_time(vendor_only):
    hook = secret_named(vendor_only, "securestack/dev/webhooks/barecommerce-orders")
    assert hook.inputs["tags"]["securestack:previous-grace-days"] == "3"
    assert hook.inputs["tags"]["securestack:issuer"] == "vendor"
    statements = task_role_statements(vendor_only)
    verify = statements["VerifyVendorWebhooks"]
    assert verify["Action"] == ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret",
                                "secretsmanager:ListSecretVersionIds"] and verify["Resource"] == [hook.outputs["arn"]]
    assert set(statements) == {"VerifyVendorWebhooks", "SecretsKeyThroughSecretsManager"}  # no key, nothing signed
    plain = {e["name"]: e["value"] for e in container(vendor_only)["environment"]}
    assert json.loads(plain["SECURESTACK_VENDOR_WEBHOOK_SECRETS"]) == {"barecommerce-orders": hook.outputs["arn"]}
    assert json.loads(plain["SECURESTACK_WEBHOOK_SECRETS"]) == {}
    reads = policy_of(vendor_only, hook)["DenyReadsExceptConsumers"]
    assert reads["Condition"]["StringNotEquals"]["aws:PrincipalArn"] == [role_arn(vendor_only, "securestack-dev-app-task")]
    # Read at run time and reloaded: the tasks do not wait for it, only for what ECS injects.
    checks = {r.inputs["secretArn"] for r in vendor_only.of_type(READINESS)}
    assert hook.outputs["arn"] not in checks


def test_the_shipped_stacks_do_not_set_the_vendor_webhook_variable(recording):
    """Only a stack whose app verifies a vendor's webhooks gets SECURESTACK_VENDOR_WEBHOOK_SECRETS."""
    assert "SECURESTACK_VENDOR_WEBHOOK_SECRETS" not in {e["name"] for e in container(recording)["environment"]}
