"""VendorSecrets (components/vendor_secrets.py, issue 15) from its own Args on the mock engine: the secrets of
vendor-issued keys and webhooks, their operators-only writes, no rotation, the app's readiness check; a bad field is
one ArgsError line naming it. The shipped stacks' vendor entries are tested in tests/test_vendor_stack.py."""
import json

import pulumi
import pulumi_aws as aws
import pytest

from securestack.components.args import ArgsError
from securestack.components.secrets import secret_resource_policy
from securestack.components.vendor_secrets import VendorApiKey, VendorSecrets, VendorSecretsArgs, VendorWebhook
from securestack.infra.recording import Recording, record
from tests.support.stacks import policy_statements

CONFIG = {"aws:region": "us-east-1", "aws:allowedAccountIds": '["111111111111"]'}
SECRETS_KEY = "arn:aws:kms:us-east-1:111111111111:key/00000000-0000-0000-0000-000000000001"
OPERATOR = "arn:aws:iam::111111111111:role/securestack-team-secrets-operator"
EXECUTION = "arn:aws:iam::111111111111:role/securestack-team-app-execution"
TASK = "arn:aws:iam::111111111111:role/securestack-team-app-task"
WAREHOUSE = "arn:aws:iam::111111111111:role/securestack-team-warehouse-sync"
SECRET, POLICY = "aws:secretsmanager/secret:Secret", "aws:secretsmanager/secretPolicy:SecretPolicy"
READINESS = "pulumi-python:dynamic/securestack:SecretReadiness"


def args(**overrides) -> VendorSecretsArgs:
    fields = dict(
        environment="team", secrets_key_arn=SECRETS_KEY, operator_role_arns=[OPERATOR], production=False,
        recovery_window_days=7, consumer_role_arns={"warehouse-sync": WAREHOUSE},
        app_execution_role_arn=EXECUTION, app_task_role_arn=TASK, app_ecs_service="securestack-team/securestack-team-app",
        keys=[VendorApiKey(name="stackbe", vendor="stackbe", scopes=["app:read"], consumers=["app"],
                           rotation_days=60, key_prefix="sk_test_"),
              VendorApiKey(name="barecommerce-sync", vendor="barecommerce", scopes=["products:read"],
                           consumers=["warehouse-sync"])],
        webhooks=[VendorWebhook(name="barecommerce-orders", vendor="barecommerce", consumers=["app"],
                                previous_grace_days=3)])
    fields.update(overrides)
    return VendorSecretsArgs(**fields)


def on_mock_engine(component_args) -> Recording:
    def program() -> None:
        VendorSecrets("vendor-secrets", component_args,
                      pulumi.ResourceOptions(providers=[aws.Provider("aws", region="us-east-1")]))
    return record(program, stack="team", config=CONFIG)


@pytest.fixture(scope="module")
def recording() -> Recording:
    return on_mock_engine(args())


def secrets(recording) -> dict:
    return {r.inputs["name"]: r for r in recording.of_type(SECRET)}


def policy_of(recording, secret) -> list[dict]:
    [policy] = [p for p in recording.of_type(POLICY) if p.inputs["secretArn"] == secret.outputs["arn"]]
    return policy_statements(policy.inputs["policy"])


def test_one_secret_per_entry_under_the_contract_names_key_and_window(recording):
    found = secrets(recording)
    assert set(found) == {"securestack/team/api-keys/stackbe", "securestack/team/api-keys/barecommerce-sync",
                          "securestack/team/webhooks/barecommerce-orders"}
    for secret in found.values():
        assert secret.inputs["kmsKeyId"] == SECRETS_KEY and secret.inputs["recoveryWindowInDays"] == 7
        assert "never rotated" in secret.inputs["description"]


def test_tags_carry_issuer_vendor_age_bound_and_what_promote_redeploys(recording):
    found = secrets(recording)
    stackbe = found["securestack/team/api-keys/stackbe"].inputs["tags"]
    assert stackbe == {"securestack:env": "team", "securestack:name": "stackbe", "securestack:kind": "api-key",
                       "securestack:issuer": "vendor", "securestack:rotation-days": "60",
                       "securestack:vendor": "stackbe", "securestack:scopes": "app:read",
                       "securestack:key-prefix": "sk_test_",
                       "securestack:ecs-service": "securestack-team/securestack-team-app"}
    sync = found["securestack/team/api-keys/barecommerce-sync"].inputs["tags"]
    assert "securestack:key-prefix" not in sync and "securestack:ecs-service" not in sync  # no prefix, no app
    assert sync["securestack:rotation-days"] == "90"
    hook = found["securestack/team/webhooks/barecommerce-orders"].inputs["tags"]
    assert hook["securestack:kind"] == "webhook-secret" and hook["securestack:previous-grace-days"] == "3"
    assert hook["securestack:issuer"] == "vendor" and "securestack:scopes" not in hook


def test_only_operators_write_and_only_consumers_read(recording):
    found = secrets(recording)
    expected_readers = {"securestack/team/api-keys/stackbe": [EXECUTION],  # ECS injects it
                        "securestack/team/api-keys/barecommerce-sync": [WAREHOUSE],
                        "securestack/team/webhooks/barecommerce-orders": [TASK]}  # the app's code verifies
    for name, secret in found.items():
        reads, writes, tls = policy_of(recording, secret)
        assert all(s["Effect"] == "Deny" and s["Principal"] == {"AWS": "*"} for s in (reads, writes, tls))
        assert reads["Action"] == ["secretsmanager:GetSecretValue"]
        assert reads["Condition"]["StringNotEquals"]["aws:PrincipalArn"] == expected_readers[name]
        assert OPERATOR not in reads["Condition"]["StringNotEquals"]["aws:PrincipalArn"]  # operators never read
        assert writes["Action"] == ["secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"]
        assert writes["Condition"]["StringNotEquals"]["aws:PrincipalArn"] == [OPERATOR]
        assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert all(p.inputs["blockPublicPolicy"] is True for p in recording.of_type(POLICY))


def test_nothing_rotates_and_no_value_comes_from_pulumi(recording):
    types = {r.type for r in recording.resources}
    assert "aws:secretsmanager/secretRotation:SecretRotation" not in types
    assert "aws:secretsmanager/secretVersion:SecretVersion" not in types
    assert "aws:lambda/function:Function" not in types


def test_readiness_only_for_the_keys_the_app_injects_in_vendor_mode(recording):
    [check] = recording.of_type(READINESS)
    stackbe = secrets(recording)["securestack/team/api-keys/stackbe"]
    assert check.inputs["secretArn"] == stackbe.outputs["arn"]
    assert check.inputs.get("rotationLambdaArn") is None  # vendor mode: never RotateSecret
    assert stackbe.urn in check.dependencies


def test_production_protects_and_retains_the_secrets():
    recorded = on_mock_engine(args(production=True, recovery_window_days=30))
    for secret in recorded.of_type(SECRET):
        assert secret.options.get("protect") is True and secret.options.get("retainOnDelete") is True, secret.name


def test_the_component_provider_dict_gives_the_same_resources(recording):
    as_dict = {"environment": "team", "secrets_key_arn": SECRETS_KEY, "operator_role_arns": [OPERATOR],
               "production": False, "recovery_window_days": 7, "consumer_role_arns": {"warehouse-sync": WAREHOUSE},
               "app_execution_role_arn": EXECUTION, "app_task_role_arn": TASK,
               "app_ecs_service": "securestack-team/securestack-team-app",
               "keys": [{"name": "stackbe", "vendor": "stackbe", "scopes": ["app:read"], "consumers": ["app"],
                         "rotation_days": 60, "key_prefix": "sk_test_"},
                        {"name": "barecommerce-sync", "vendor": "barecommerce", "scopes": ["products:read"],
                         "consumers": ["warehouse-sync"]}],
               "webhooks": [{"name": "barecommerce-orders", "vendor": "barecommerce", "consumers": ["app"],
                             "previous_grace_days": 3}]}
    recorded = on_mock_engine(as_dict)
    def shape(recorded):  # registration order is the engine's (asynchronous), so compared sorted
        return sorted((r.type, r.name, json.dumps(r.inputs.get("tags"), sort_keys=True)) for r in recorded.resources)
    assert shape(recorded) == shape(recording)


ROTATED_POLICY = (  # main's document before contract 15, as the engine recorded it for a rotated secret
    '{"Version": "2012-10-17", "Statement": [{"Sid": "DenyReadsExceptConsumersAndRotator", "Effect": "Deny", '
    '"Principal": {"AWS": "*"}, "Action": ["secretsmanager:GetSecretValue"], "Resource": "arn:secret", '
    '"Condition": {"StringNotEquals": {"aws:PrincipalArn": ["arn:reader", "arn:rotator"]}}}, '
    '{"Sid": "DenyValueChangesExceptRotator", "Effect": "Deny", "Principal": {"AWS": "*"}, '
    '"Action": ["secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"], '
    '"Resource": "arn:secret", "Condition": {"StringNotEquals": {"aws:PrincipalArn": ["arn:rotator"]}}}, '
    '{"Sid": "DenyWithoutTls", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "secretsmanager:*", '
    '"Resource": "arn:secret", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}')


def test_rotated_secrets_keep_their_resource_policy_byte_for_byte():
    """Generalizing the writers kept today's document for the rotated secrets (one rotator reads and writes)."""
    def program() -> None:
        aws.secretsmanager.SecretPolicy("probe", secret_arn="arn:secret", policy=secret_resource_policy(
            "arn:secret", ["arn:reader"], ["arn:rotator"]), opts=pulumi.ResourceOptions(
                providers=[aws.Provider("aws", region="us-east-1")]))
    [policy] = record(program, stack="team", config=CONFIG).of_type(POLICY)
    assert policy.inputs["policy"] == ROTATED_POLICY


def test_a_vendor_secret_nobody_reads_denies_every_read():
    recorded = on_mock_engine(args(keys=[VendorApiKey(name="unused", vendor="stackbe", scopes=["app:read"])],
                                   webhooks=[]))
    [secret] = recorded.of_type(SECRET)
    reads = policy_of(recorded, secret)[0]
    assert reads["Sid"] == "DenyReadsExceptConsumers" and "Condition" not in reads


@pytest.mark.parametrize("build, message", [
    (lambda: args(operator_role_arns=[]), "VendorSecretsArgs.operator_role_arns: at least one operator role"),
    (lambda: args(operator_role_arns=["securestack-team-secrets-operator"]),
     "VendorSecretsArgs.operator_role_arns: 'securestack-team-secrets-operator' is not an IAM role ARN"),
    (lambda: args(environment="Team"), "VendorSecretsArgs.environment: 'Team' is not an environment name"),
    (lambda: args(recovery_window_days=3), "VendorSecretsArgs.recovery_window_days: must be 7..30"),
    (lambda: args(consumer_role_arns={"app": TASK}), "VendorSecretsArgs.consumer_role_arns: 'app' reads through"),
    (lambda: args(keys=[VendorApiKey(name="a", vendor="stackbe", scopes=["x:y"])] * 2),
     "VendorSecretsArgs.keys: a name is listed twice"),
    (lambda: args(app_ecs_service="securestack-team"),
     "VendorSecretsArgs.app_ecs_service: 'securestack-team' is not <cluster>/<service>"),
    (lambda: VendorApiKey(name="Stack_BE", vendor="stackbe", scopes=["app:read"]), "VendorApiKey.name: 'Stack_BE'"),
    (lambda: VendorApiKey(name="stackbe", vendor="Stack BE", scopes=["app:read"]), "VendorApiKey.vendor: 'Stack BE'"),
    (lambda: VendorApiKey(name="stackbe", vendor="stackbe", scopes=[]), "VendorApiKey.scopes: at least one scope"),
    (lambda: VendorApiKey(name="stackbe", vendor="stackbe", scopes=["read"]), "VendorApiKey.scopes: 'read' is not"),
    (lambda: VendorApiKey(name="stackbe", vendor="stackbe", scopes=["*"]), "VendorApiKey.scopes: '*' grants every"),
    (lambda: VendorApiKey(name="stackbe", vendor="stackbe", scopes=["app:read"], rotation_days=91),
     "VendorApiKey.rotation_days: must be 1..90"),
    (lambda: VendorApiKey(name="stackbe", vendor="stackbe", scopes=["app:read"], key_prefix="sk-test"),
     "VendorApiKey.key_prefix: 'sk-test' must be"),
    (lambda: VendorWebhook(name="orders", vendor="barecommerce", previous_grace_days=31),
     "VendorWebhook.previous_grace_days: must be 0..30"),
    (lambda: VendorWebhook(name="orders", vendor="barecommerce", rotation_days=0),
     "VendorWebhook.rotation_days: must be 1..90"),
])
def test_a_bad_field_is_one_line_naming_it(build, message):
    with pytest.raises(ArgsError) as raised:
        build()
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


def test_a_bad_nested_field_from_the_provider_dict_names_it():
    with pytest.raises(ArgsError, match=r"^VendorApiKey\.vendor: "):
        on_mock_engine({"environment": "team", "secrets_key_arn": SECRETS_KEY, "operator_role_arns": [OPERATOR],
                        "keys": [{"name": "stackbe", "vendor": "", "scopes": ["app:read"]}]})
