"""Scoped API keys (with their verifier records), webhook secrets and the app's database login: settings, and what
both shipped stacks send to the engine (secrets, tags, resource policies, rotations), and that no secret value ever
enters the program."""
from __future__ import annotations

import base64
import json
import re

import pytest

from securestack.infra.recording import Secret
from securestack.infra.settings import SettingsError, build_settings
from securestack.infra.settings.base import AWS_TAG_VALUE
from securestack.infra.settings.secrets import DEFAULT_API_KEYS, MAX_ROTATION_DAYS
from tests.support.shipped_fixtures import key_arn, recording, settings, stack  # noqa: F401 (fixtures)
from tests.support.stacks import (SHIPPED_STACKS, account_of, by_output, children_of, contains_secret, edited,
                                  policy_statements, record_config, replaced, section, settings_of, shipped_config,
                                  shipped_recording, walk)

SECRET, SECRET_POLICY = "aws:secretsmanager/secret:Secret", "aws:secretsmanager/secretPolicy:SecretPolicy"
ROTATION, FUNCTION = "aws:secretsmanager/secretRotation:SecretRotation", "aws:lambda/function:Function"
PERMISSION, ROLE, KMS_KEY = "aws:lambda/permission:Permission", "aws:iam/role:Role", "aws:kms/key:Key"
READINESS = "pulumi-python:dynamic/securestack:SecretReadiness"
ROTATOR_OF_KIND = {"api-key": "api_key_rotation", "webhook-secret": "webhook_secret_rotation",
                   "postgres-user": "postgres_user_rotation"}
# What a generated value looks like: API keys, webhook secrets, RDS/JSON passwords.
VALUE_SHAPES = re.compile(r"sk_(live|test)_[A-Za-z0-9_-]{16,}|whsec_[A-Za-z0-9+/=]{16,}|\"password\"\s*:")


CONFIGURED_SECRET_INPUTS = {("aws:sns/topicSubscription:TopicSubscription", "endpoint")}


def revealed(value):
    if isinstance(value, Secret):
        return revealed(value.reveal())
    if isinstance(value, dict):
        return {k: revealed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [revealed(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------------------------

def problems(config, stack="dev") -> list[str]:
    with pytest.raises(SettingsError) as raised:
        build_settings(config, stack)
    return raised.value.problems


def api_keys(config) -> list[dict]:
    return json.loads(config["securestack:apiKeys"])


def with_key(config, index, **fields):
    keys = api_keys(config)
    keys[index] = {**keys[index], **fields}
    return replaced(config, "securestack:apiKeys", keys)


def test_default_catalog_is_barecommerce_key_table():
    config = {k: v for k, v in shipped_config("dev").items()
              if k not in ("securestack:apiKeys", "securestack:webhooks", "securestack:app", "securestack:secrets")}
    settings = build_settings(config, "dev")
    keys = {key.name: key for key in settings.api_keys.root}
    assert {name: key.scopes for name, key in keys.items()} == {
        "storefront-read": ["products:read", "categories:read"], "checkout": ["orders:write", "customers:write"],
        "inventory-sync": ["products:read", "products:write"], "admin-full": ["*"]}
    assert keys["admin-full"].internal and not any(k.internal for n, k in keys.items() if n != "admin-full")
    assert "app" not in keys["admin-full"].consumers
    assert all(key.rotation_days == MAX_ROTATION_DAYS for key in keys.values())
    assert settings.secrets.recovery_window_days == 30
    assert not settings.app.enabled  # no image: no app service, the keys exist all the same


INVALID_KEYS = [
    # (case, index, fields, the key path the problem is reported under)
    ("scope without action", 1, {"scopes": ["orders"]}, "securestack:apiKeys[1].scopes"),
    ("scope with a dot", 0, {"scopes": ["products.read"]}, "securestack:apiKeys[0].scopes"),
    ("wildcard mixed with scopes", 3, {"scopes": ["*", "orders:read"]}, "securestack:apiKeys[3].scopes"),
    ("wildcard on a non-internal key", 3, {"internal": False}, "securestack:apiKeys[3].scopes"),
    ("unknown consumer", 2, {"consumers": ["warehouse"]}, "securestack:apiKeys[2].consumers[0]"),
    ("duplicate name", 3, {"name": "checkout", "scopes": ["orders:read"], "internal": False},
     "securestack:apiKeys[3].name"),
    ("rotation over 90 days", 0, {"rotationDays": 91}, "securestack:apiKeys[0].rotationDays"),
    ("rotation under a day", 2, {"rotationDays": 0}, "securestack:apiKeys[2].rotationDays"),
    ("bad name", 2, {"name": "Inventory_Sync"}, "securestack:apiKeys[2].name"),
    ("no scopes", 2, {"scopes": []}, "securestack:apiKeys[2].scopes"),
]


@pytest.mark.parametrize("case, index, fields, key", INVALID_KEYS, ids=[c[0] for c in INVALID_KEYS])
def test_invalid_api_key_is_reported_under_its_key(case, index, fields, key):
    found = problems(with_key(shipped_config("dev"), index, **fields))
    assert [p.split(": ", 1)[0] for p in found] == [key], found


def test_cross_key_problems_name_the_key_in_the_message():
    duplicate = problems(with_key(shipped_config("dev"), 3, name="checkout", scopes=["orders:read"], internal=False))
    assert "'checkout'" in duplicate[0] and "apiKeys[1]" in duplicate[0]
    unknown = problems(with_key(shipped_config("dev"), 2, consumers=["warehouse"]))
    assert "'inventory-sync'" in unknown[0] and "'warehouse'" in unknown[0]


def test_internet_facing_caller_never_gets_a_wildcard_key():
    config = with_key(shipped_config("prod"), 3, consumers=["internal-tools", "storefront"])
    found = problems(config, "prod")
    assert [p.split(": ", 1)[0] for p in found] == ["securestack:apiKeys[3].consumers[1]"], found
    assert "internet-facing" in found[0] and "'admin-full'" in found[0]
    with pytest.raises(SettingsError):  # the stack program stops before registering anything
        record_config(config, "prod")


@pytest.mark.parametrize("index", [0, 3])
def test_app_is_never_a_consumer_of_a_self_issued_key(index):
    """Issue 12 item 2: the app verifies keys from their digests; settings refuse it as a key's consumer, saying why."""
    keys = api_keys(shipped_config("prod"))
    found = problems(with_key(shipped_config("prod"), index, consumers=[*keys[index]["consumers"], "app"]), "prod")
    assert [p.split(": ", 1)[0] for p in found] == [f"securestack:apiKeys[{index}].consumers"], found
    assert "digests" in found[0] and "never holds a key value" in found[0]


def test_app_api_keys_setting_is_refused_with_the_reason():
    found = problems(edited(shipped_config("dev"), "securestack:app", apiKeys=["checkout"]))
    assert [p.split(": ", 1)[0] for p in found] == ["securestack:app.apiKeys"], found
    assert "verifies them from their digests" in found[0] and "verifiesApiKeys" in found[0]


def test_app_verifies_only_configured_keys():
    found = problems(edited(shipped_config("dev"), "securestack:app", verifiesApiKeys=["checkout", "partner"]))
    assert [p.split(": ", 1)[0] for p in found] == ["securestack:app.verifiesApiKeys[1]"], found
    assert "'partner'" in found[0]


@pytest.mark.parametrize("days, stack, ok", [(0, "prod", True), (30, "prod", True), (31, "prod", False),
                                             (-1, "dev", False), (31, "dev", False)])
def test_previous_grace_days_bounds(days, stack, ok):
    """Issue 12 item 3: default 7, 0 allowed, at most 30 (the rotators' tag contract: 0..30)."""
    config = with_key(shipped_config(stack), 1, previousGraceDays=days)
    hooks = json.loads(config["securestack:webhooks"])
    config = replaced(config, "securestack:webhooks", [{**hooks[0], "previousGraceDays": days}])
    if ok:
        settings = build_settings(config, stack)
        assert settings.api_keys.by_name("checkout").previous_grace_days == days
        assert settings.webhooks.root[0].previous_grace_days == days
    else:
        assert sorted(p.split(": ", 1)[0] for p in problems(config, stack)) == [
            "securestack:apiKeys[1].previousGraceDays", "securestack:webhooks[0].previousGraceDays"]


def test_previous_grace_defaults_to_seven_days():
    settings = settings_of("dev")
    assert {k.previous_grace_days for k in settings.api_keys.root} == {7}
    assert {w.previous_grace_days for w in settings.webhooks.root} == {7}


def test_shipped_catalog_names_each_keys_callers():
    """Issue 12 item 2: the guides' table, each key read by its callers (roles of the stack's account) only."""
    for stack in SHIPPED_STACKS:
        settings, account = settings_of(stack), account_of(stack)
        assert {k.name: k.consumers for k in settings.api_keys.self_issued()} == {
            "storefront-read": ["storefront"], "checkout": ["checkout-service"],
            "inventory-sync": ["warehouse-sync"], "admin-full": ["internal-tools"]}
        # Issue 15: StackBE's key, which the app calls StackBE with (ECS injects it as STACKBE_API_KEY).
        assert [(k.name, k.vendor, k.consumers, k.app_variable) for k in settings.api_keys.vendor_issued()] == [
            ("stackbe", "stackbe", ["app"], "STACKBE_API_KEY")]
        for name, consumer in settings.secrets.consumers.items():
            assert consumer.role_arn == f"arn:aws:iam::{account}:role/securestack-{stack}-{name}"
        assert settings.secrets.consumers["internal-tools"].internet_facing is False
        assert settings.app.verified_keys(settings.api_keys) == [k.name for k in settings.api_keys.self_issued()]


def test_consumer_counts_as_internet_facing_unless_declared_otherwise():
    config = shipped_config("dev")
    consumers = section(config, "securestack:secrets")["consumers"]
    consumers["internal-tools"].pop("internetFacing")
    config = edited(config, "securestack:secrets", consumers=consumers)
    assert [p.split(": ", 1)[0] for p in problems(config)] == ["securestack:apiKeys[3].consumers[0]"]


@pytest.mark.parametrize("key, fields, expected", [
    ("securestack:secrets", {"consumers": {"app": {"roleArn": "arn:aws:iam::111111111111:role/x"}}},
     "securestack:secrets.consumers"),
    ("securestack:secrets", {"consumers": {"ops": {"roleArn": "arn:aws:iam::999999999999:role/ops"}}},
     "securestack:secrets.consumers.ops.roleArn"),
    ("securestack:secrets", {"consumers": {"ops": {"roleArn": "arn:aws:iam::111111111111:user/ops"}}},
     "securestack:secrets.consumers.ops.roleArn"),
    ("securestack:secrets", {"recoveryWindowDays": 31}, "securestack:secrets.recoveryWindowDays"),
], ids=["consumer named app", "role of another account", "user instead of role", "recovery window"])
def test_invalid_secrets_section(key, fields, expected):
    found = problems(edited(shipped_config("dev"), key, **fields))
    assert expected in [p.split(": ", 1)[0] for p in found], found


def test_invalid_webhooks():
    config = shipped_config("dev")
    hooks = json.loads(config["securestack:webhooks"])
    too_long = replaced(config, "securestack:webhooks", [{**hooks[0], "rotationDays": 120}])
    assert [p.split(": ", 1)[0] for p in problems(too_long)] == ["securestack:webhooks[0].rotationDays"]
    duplicate = replaced(config, "securestack:webhooks", [hooks[0], {**hooks[0], "consumers": []}])
    assert [p.split(": ", 1)[0] for p in problems(duplicate)] == ["securestack:webhooks[1].name"]
    stranger = replaced(config, "securestack:webhooks", [{**hooks[0], "consumers": ["app", "partner"]}])
    assert [p.split(": ", 1)[0] for p in problems(stranger)] == ["securestack:webhooks[0].consumers[1]"]
    not_a_list = replaced(config, "securestack:webhooks", {"name": "order-events"})
    assert [p.split(": ", 1)[0] for p in problems(not_a_list)] == ["securestack:webhooks"]


def test_production_keeps_deleted_secrets_recoverable_30_days():
    found = problems(edited(shipped_config("prod"), "securestack:secrets", recoveryWindowDays=7), "prod")
    assert [p.split(": ", 1)[0] for p in found] == ["securestack:secrets.recoveryWindowDays"]


def test_default_catalog_validates_without_any_config():
    assert [k["name"] for k in DEFAULT_API_KEYS] == ["storefront-read", "checkout", "inventory-sync", "admin-full"]


# ---------------------------------------------------------------------------------------------------------------
# Mock engine, both shipped stacks
# ---------------------------------------------------------------------------------------------------------------

def expected_secret_names(settings) -> set[str]:
    """The rotated secrets: self-issued keys and webhooks and the database login (vendor-issued ones:
    tests/test_vendor_stack.py)."""
    env = settings.environment
    return ({f"securestack/{env}/api-keys/{k.name}" for k in settings.api_keys.self_issued()}
            | {f"securestack/{env}/webhooks/{w.name}" for w in settings.webhooks.self_issued()}
            | {f"securestack/{env}/database/{settings.database.app_username}"})


def secrets_by_name(recording) -> dict:
    """The rotated secrets (self-issued keys, webhooks, database login), verifier records and vendor-issued secrets
    left out."""
    return {r.inputs["name"]: r for r in recording.of_type(SECRET) if r.inputs["name"].startswith("securestack/")
            and "/api-key-verifiers/" not in r.inputs["name"]
            and r.inputs["tags"].get("securestack:issuer") != "vendor"}


def test_vendor_issued_entries_are_not_among_the_rotated_secrets(recording, settings):
    """What secrets_by_name leaves out is exactly the vendor-issued entries (the shipped stacks have StackBE's key)."""
    env = settings.environment
    vendor = {r.inputs["name"] for r in recording.of_type(SECRET)
              if r.inputs["tags"].get("securestack:issuer") == "vendor"}
    assert vendor == {f"securestack/{env}/api-keys/{k.name}" for k in settings.api_keys.vendor_issued()} | \
        {f"securestack/{env}/webhooks/{w.name}" for w in settings.webhooks.vendor_issued()}
    assert vendor and not vendor & set(secrets_by_name(recording))


def verifier_records(recording) -> dict:
    return {r.inputs["name"]: r for r in recording.of_type(SECRET) if "/api-key-verifiers/" in r.inputs["name"]}


def test_one_secret_per_configured_key_webhook_and_database_user(recording, settings):
    assert set(secrets_by_name(recording)) == expected_secret_names(settings)


def test_secrets_use_the_secrets_key_recovery_window_and_protection(recording, settings):
    for secret in secrets_by_name(recording).values():
        assert secret.inputs["kmsKeyId"] == key_arn(recording, "secrets")
        assert secret.inputs["recoveryWindowInDays"] == settings.secrets.recovery_window_days
        assert secret.options["protect"] is settings.is_production
        assert secret.options["retainOnDelete"] is settings.is_production
        assert "rotator" in secret.inputs["description"]


def test_api_key_tags_carry_the_rotators_metadata(recording, settings):
    prefix = "sk_live_" if settings.is_production else "sk_test_"
    secrets = secrets_by_name(recording)
    for key in settings.api_keys.self_issued():
        tags = secrets[f"securestack/{settings.environment}/api-keys/{key.name}"].inputs["tags"]
        assert tags["securestack:issuer"] == "self" and tags["securestack:rotation-days"] == str(key.rotation_days)
        assert tags["securestack:env"] == settings.environment
        assert tags["securestack:name"] == key.name
        assert tags["securestack:kind"] == "api-key"
        assert tags["securestack:key-prefix"] == prefix
        assert tags["securestack:scopes"].split(" ") == ["ALL_SCOPES" if s == "*" else s for s in key.scopes]
    for hook in settings.webhooks.self_issued():
        tags = secrets[f"securestack/{settings.environment}/webhooks/{hook.name}"].inputs["tags"]
        assert (tags["securestack:kind"], tags["securestack:name"]) == ("webhook-secret", hook.name)
        assert tags["securestack:issuer"] == "self" and tags["securestack:rotation-days"] == str(hook.rotation_days)
    login = secrets[f"securestack/{settings.environment}/database/{settings.database.app_username}"].inputs["tags"]
    assert login["securestack:rotation-days"] == str(settings.secrets.database_user_rotation_days)


def test_every_secret_tag_is_valid_aws_tag_text(recording):
    for secret in [*secrets_by_name(recording).values(), *verifier_records(recording).values()]:
        for key, value in secret.inputs["tags"].items():
            # IAM's tag value pattern (letters, digits, spaces and _ . : / = + - @): the contract every tag follows.
            assert isinstance(value, str) and len(value) <= 256 and AWS_TAG_VALUE.match(value), (secret.name, key)
            assert "*" not in value and "," not in value


def test_ecs_service_tag_only_on_the_injected_database_login(recording, settings):
    """Only a value injected at task start needs the forced redeploy: API keys and webhooks are read at run time."""
    env = settings.environment
    consumed = {f"securestack/{env}/database/{settings.database.app_username}"}
    service = recording.one("aws:ecs/service:Service")
    cluster = recording.one("aws:ecs/cluster:Cluster")
    for name, secret in secrets_by_name(recording).items():
        tag = secret.inputs["tags"].get("securestack:ecs-service")
        if name in consumed:
            # The names the rotator redeploys are the ones the engine really creates.
            assert tag == f"{cluster.inputs['name']}/{service.inputs['name']}", name
        else:
            assert tag is None, name


def test_keys_and_webhooks_carry_their_grace(recording, settings):
    secrets, env = secrets_by_name(recording), settings.environment
    for key in settings.api_keys.self_issued():
        tags = secrets[f"securestack/{env}/api-keys/{key.name}"].inputs["tags"]
        assert tags["securestack:previous-grace-days"] == str(key.previous_grace_days)
    for hook in settings.webhooks.self_issued():
        tags = secrets[f"securestack/{env}/webhooks/{hook.name}"].inputs["tags"]
        assert tags["securestack:previous-grace-days"] == str(hook.previous_grace_days)
    database = secrets[f"securestack/{env}/database/{settings.database.app_username}"].inputs["tags"]
    assert "securestack:previous-grace-days" not in database and "securestack:verifier-secret" not in database


def test_every_api_key_has_its_verifier_record(recording, settings):
    """Issue 12: a record per self-issued key, named by the key's tag, with the key's CMK, recovery window and
    protection, tagged for the rotator and the runtime library, with no rotation and no value of its own."""
    env, keys, records = settings.environment, secrets_by_name(recording), verifier_records(recording)
    assert set(records) == {f"securestack/{env}/api-key-verifiers/{k.name}" for k in settings.api_keys.self_issued()}
    rotated = {r.inputs["secretId"] for r in recording.of_type(ROTATION)}
    for key in settings.api_keys.self_issued():
        secret = keys[f"securestack/{env}/api-keys/{key.name}"]
        record = records[secret.inputs["tags"]["securestack:verifier-secret"]]
        assert record.inputs["kmsKeyId"] == secret.inputs["kmsKeyId"] == key_arn(recording, "secrets")
        assert record.inputs["recoveryWindowInDays"] == settings.secrets.recovery_window_days
        assert record.options["protect"] is record.options["retainOnDelete"] is settings.is_production
        tags = record.inputs["tags"]
        assert (tags["securestack:env"], tags["securestack:name"], tags["securestack:kind"],
                tags["securestack:key-secret"]) == (env, key.name, "api-key-verifier", secret.inputs["name"])
        assert "digests" in record.inputs["description"] and record.id not in rotated
        assert record.parent == secret.parent
    assert not recording.of_type("aws:secretsmanager/secretVersion:SecretVersion")


def test_verifier_records_are_read_by_the_app_and_written_by_the_key_rotator_only(recording, settings):
    policies = {p.inputs["secretArn"]: p for p in recording.of_type(SECRET_POLICY)}
    rotator_role = role_arn(recording, rotator_function(recording, "api_key_rotation").inputs["name"] + "-role")
    task_role = role_arn(recording, f"securestack-{settings.environment}-{settings.app.name}-task")
    for record in verifier_records(recording).values():
        statements = {s["Sid"]: s for s in policy_statements(policies[record.outputs["arn"]].inputs["policy"])}
        assert all(s["Effect"] == "Deny" for s in statements.values())
        reads = statements["DenyReadsExceptConsumersAndRotator"]
        assert set(reads["Condition"]["StringNotEquals"]["aws:PrincipalArn"]) == {task_role, rotator_role}
        writes = statements["DenyValueChangesExceptRotator"]
        assert "secretsmanager:PutSecretValue" in writes["Action"]
        assert writes["Condition"]["StringNotEquals"]["aws:PrincipalArn"] == [rotator_role]


def test_key_rotation_waits_for_its_locked_down_verifier_record(recording):
    """The first rotation's setSecret writes the record: it exists with its policy before the key rotates."""
    policies = {p.inputs["secretArn"]: p for p in recording.of_type(SECRET_POLICY)}
    rotations = {r.inputs["secretId"]: r for r in recording.of_type(ROTATION)}
    records = verifier_records(recording)
    for key in (s for s in secrets_by_name(recording).values() if s.inputs["tags"]["securestack:kind"] == "api-key"):
        record = records[key.inputs["tags"]["securestack:verifier-secret"]]
        assert policies[record.outputs["arn"]].urn in rotations[key.id].options["dependsOn"], key.name


def test_app_verifies_only_the_keys_it_is_configured_to():
    config = edited(shipped_config("dev"), "securestack:app", verifiesApiKeys=["checkout"])
    recording = record_config(config, "dev")
    task_role = role_arn(recording, "securestack-dev-app-task")
    readers = {}
    for policy in recording.of_type(SECRET_POLICY):
        reads = next((s for s in policy_statements(policy.inputs["policy"])
                      if s["Sid"] == "DenyReadsExceptConsumersAndRotator"), None)
        if reads is None:
            continue  # a vendor-issued secret (no rotator): tests/test_vendor_stack.py
        readers[policy.inputs["secretArn"]] = task_role in reads["Condition"]["StringNotEquals"]["aws:PrincipalArn"]
    records = verifier_records(recording)
    assert {name for name, record in records.items() if readers[record.outputs["arn"]]} == {
        "securestack/dev/api-key-verifiers/checkout"}
    assert not any(readers[s.outputs["arn"]] for s in secrets_by_name(recording).values()
                   if s.inputs["tags"]["securestack:kind"] == "api-key")


def test_database_user_secret_carries_connection_metadata(recording, settings):
    env, username = settings.environment, settings.database.app_username
    tags = secrets_by_name(recording)[f"securestack/{env}/database/{username}"].inputs["tags"]
    instance = recording.one("aws:rds/instance:Instance")
    master_arn = instance.outputs["masterUserSecrets"][0]["secretArn"]
    assert tags["securestack:kind"] == "postgres-user"
    assert tags["securestack:db-host"] == instance.outputs["address"]
    assert tags["securestack:db-port"] == str(instance.outputs["port"])
    assert tags["securestack:db-name"] == settings.database.database_name
    assert tags["securestack:db-username"] == username
    assert tags["securestack:db-owner-role"] == f"{username}_owner"
    # '!' (rds!db-...) is spelled @21 in the tag: the rotator reads it back.
    assert tags["securestack:master-secret-arn"].replace("@21", "!") == master_arn


def role_arn(recording, name: str) -> str:
    return next(r.outputs["arn"] for r in recording.of_type(ROLE) if r.inputs.get("name") == name)


def readers_of(settings, secret_consumers, recording, kind="") -> set[str]:
    """The app reads the database login through ECS (execution role), webhook secrets itself (task role)."""
    arns = set()
    for consumer in secret_consumers:
        if consumer == "app":
            role = "execution" if kind == "postgres-user" else "task"
            arns.add(role_arn(recording, f"securestack-{settings.environment}-{settings.app.name}-{role}"))
        else:
            arns.add(settings.secrets.consumers[consumer].role_arn)
    return arns


def consumers_by_secret(settings) -> dict[str, list[str]]:
    env = settings.environment
    consumers = {f"securestack/{env}/api-keys/{k.name}": k.consumers for k in settings.api_keys.self_issued()}
    consumers.update({f"securestack/{env}/webhooks/{w.name}": w.consumers for w in settings.webhooks.self_issued()})
    consumers[f"securestack/{env}/database/{settings.database.app_username}"] = \
        ["app"] if settings.app.database_user else []
    return consumers


def rotator_function(recording, kind: str):
    return next(f for f in recording.of_type(FUNCTION) if f.inputs["name"].endswith(kind.replace("_", "-")))


def test_resource_policy_denies_all_but_consumers_and_rotator(recording, settings):
    policies = {p.inputs["secretArn"]: p for p in recording.of_type(SECRET_POLICY)}
    for name, consumers in consumers_by_secret(settings).items():
        secret = secrets_by_name(recording)[name]
        policy = policies[secret.outputs["arn"]]
        assert policy.inputs["blockPublicPolicy"] is True
        statements = {s["Sid"]: s for s in policy_statements(policy.inputs["policy"])}
        assert all(s["Effect"] == "Deny" for s in statements.values()), "allows come from the readers' IAM"
        rotator_role = role_arn(recording, rotator_function(recording, ROTATOR_OF_KIND[
            secret.inputs["tags"]["securestack:kind"]]).inputs["name"] + "-role")
        reads = statements["DenyReadsExceptConsumersAndRotator"]
        assert reads["Action"] == ["secretsmanager:GetSecretValue"] and reads["Resource"] == secret.outputs["arn"]
        assert set(reads["Condition"]["StringNotEquals"]["aws:PrincipalArn"]) == \
            readers_of(settings, consumers, recording, secret.inputs["tags"]["securestack:kind"]) | {rotator_role}
        writes = statements["DenyValueChangesExceptRotator"]
        assert writes["Condition"]["StringNotEquals"]["aws:PrincipalArn"] == [rotator_role]
        assert statements["DenyWithoutTls"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_each_secret_rotates_within_90_days_by_its_kinds_function(recording, settings):
    rotations = {r.inputs["secretId"]: r for r in recording.of_type(ROTATION)}
    configured = {f"securestack/{settings.environment}/api-keys/{k.name}": k.rotation_days
                  for k in settings.api_keys.root}
    configured.update({f"securestack/{settings.environment}/webhooks/{w.name}": w.rotation_days
                       for w in settings.webhooks.root})
    for name, secret in secrets_by_name(recording).items():
        rotation = rotations[secret.id]
        days = rotation.inputs["rotationRules"]["automaticallyAfterDays"]
        assert 1 <= days <= 90 and days == configured.get(name, settings.secrets.database_user_rotation_days)
        kind = ROTATOR_OF_KIND[secret.inputs["tags"]["securestack:kind"]]
        assert rotation.inputs["rotationLambdaArn"] == rotator_function(recording, kind).outputs["arn"]


def test_a_rotation_settings_change_never_rotates_at_once(recording):
    """Issue 11 item 10: the provider re-sends RotateImmediately with every update of a SecretRotation, so it is
    false; a secret's first (immediate) rotation is its readiness resource's, which starts one only for a secret
    without AWSCURRENT (tests/test_secret_readiness.py)."""
    rotations = recording.of_type(ROTATION)
    assert rotations
    for rotation in rotations:
        assert rotation.inputs["rotateImmediately"] is False, rotation.name


def test_each_secret_has_a_readiness_check_after_its_rotation(recording):
    """Issue 11 item 6: `pulumi up` waits, per secret, until it has a value (and starts its first rotation)."""
    rotations = {r.inputs["secretId"]: r for r in recording.of_type(ROTATION)}
    # Those of vendor-issued keys have no rotation function (vendor mode): tests/test_vendor_stack.py.
    rotated_checks = [r for r in recording.of_type(READINESS) if "rotationLambdaArn" in r.inputs]
    readiness = {r.inputs["secretArn"]: r for r in rotated_checks}
    secrets = secrets_by_name(recording)
    assert len(readiness) == len(secrets) == len(rotated_checks)
    for name, secret in secrets.items():
        ready, rotation = readiness[secret.outputs["arn"]], rotations[secret.id]
        assert ready.parent == secret.parent and rotation.urn in ready.options["dependsOn"], name
        assert ready.inputs["rotationLambdaArn"] == rotation.inputs["rotationLambdaArn"]
        assert ready.inputs["rotationDays"] == rotation.inputs["rotationRules"]["automaticallyAfterDays"]
        assert 60 <= ready.inputs["timeoutSeconds"] <= 3600
    # `pulumi up` ends only after each of them: `infra.verify` right after reads every exported secret ready.
    assert {entry["arn"] for entry in recording.stack_outputs["secrets"].values()
            if entry["issuer"] == "self"} == set(readiness)


def test_every_rotation_depends_explicitly_on_its_functions_permission(recording):
    permissions = {p.inputs["function"]: p for p in recording.of_type(PERMISSION)}
    functions = by_output(recording, "arn", FUNCTION)
    rotations = recording.of_type(ROTATION)
    assert rotations
    for rotation in rotations:
        function = functions[rotation.inputs["rotationLambdaArn"]]
        permission = permissions[function.outputs["name"]]
        assert permission.urn in rotation.options["dependsOn"], rotation.name
        policy = next(r for r in recording.of_type(SECRET_POLICY) if r.parent == rotation.parent
                      and rotation.name.removesuffix("-rotation") + "-policy" == r.name)
        assert policy.urn in rotation.options["dependsOn"], "first value only into a locked-down secret"


def test_no_secret_version_or_generated_value_in_the_program(recording):
    assert not recording.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert not [r for r in recording.resources if r.type.startswith("random:") and "assword" in r.type]
    for resource in recording.resources:
        for name, value in resource.inputs.items():
            if contains_secret(value):
                # Marked secret by the provider's schema, set from config (an alert URL may carry a token):
                # not a value Pulumi generates; everything else stays unmarked because nothing secret is there.
                assert (resource.type, name) in CONFIGURED_SECRET_INPUTS, f"{resource.name}.{name} is a secret input"
        for value in walk(revealed(resource.inputs)):
            if isinstance(value, str):
                assert not VALUE_SHAPES.search(value), f"{resource.name}: {value[:80]}"
    assert not contains_secret(recording.stack_outputs)
    assert not any(isinstance(v, str) and VALUE_SHAPES.search(v) for v in walk(recording.stack_outputs))


def test_value_scan_recognises_generated_values():
    # The scan above is only worth something if it would catch what the rotators generate.
    assert VALUE_SHAPES.search("sk_live_" + "A" * 43) and VALUE_SHAPES.search("whsec_" + "b" * 44)
    assert VALUE_SHAPES.search(json.dumps({"username": "app", "password": "x"}))
    assert contains_secret({"a": [Secret("x")]})


def test_secrets_export_lists_every_secret_with_its_rotation(recording, settings):
    exported = {name: entry for name, entry in recording.stack_outputs["secrets"].items() if entry["issuer"] == "self"}
    secrets = secrets_by_name(recording)
    assert set(exported) == set(secrets)
    for name, entry in exported.items():
        assert entry["arn"] == secrets[name].outputs["arn"] and 1 <= entry["rotationDays"] <= 90


def test_components_own_their_secrets(recording):
    for token, kind in (("securestack:index:ScopedApiKeys", "api-key"),
                        ("securestack:index:WebhookSecrets", "webhook-secret"),
                        ("securestack:index:DatabaseUserSecret", "postgres-user")):
        component = recording.one(token)
        owned = [r for r in children_of(recording, component) if r.type == SECRET]
        kinds = {kind, "api-key-verifier"} if kind == "api-key" else {kind}
        assert owned and {r.inputs["tags"]["securestack:kind"] for r in owned} == kinds


# ---------------------------------------------------------------------------------------------------------------
# Contract with the rotators: the tags the stack writes are what they read
# ---------------------------------------------------------------------------------------------------------------

@pytest.fixture
def rotation_service(monkeypatch):
    """Secrets Manager on moto playing its part of a rotation (the rotators' own test harness)."""
    import boto3
    from moto import mock_aws

    from tests.lambdas.harness import LAMBDAS_DIR, REGION, AwsCalls, RotationService, patch_moto_first_value

    monkeypatch.syspath_prepend(str(LAMBDAS_DIR))  # as in the archive: rotation_common at the top level
    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SECRETS_MANAGER_ENDPOINT", raising=False)
    # moto cannot attach AWSCURRENT to the first value of a secret created empty; the harness does it.
    patch_moto_first_value(monkeypatch, first_value_becomes_current=False)
    with mock_aws():
        boto3.setup_default_session(region_name=REGION)
        service = RotationService()
        service.calls = AwsCalls(boto3.DEFAULT_SESSION)
        yield service
    boto3.DEFAULT_SESSION = None


@pytest.mark.parametrize("secret_path, module, field, prefix", [
    ("api-keys/checkout", "api_key_rotation.handler", "key", "sk_live_"),
    ("webhooks/order-events", "webhook_secret_rotation.handler", "secret", "whsec_"),
])
def test_rotator_bootstraps_the_first_value_from_the_stacks_tags(rotation_service, secret_path, module, field,
                                                                 prefix):
    import importlib

    recorded = secrets_by_name(shipped_recording("prod"))[f"securestack/prod/{secret_path}"]
    record_name = recorded.inputs["tags"].get("securestack:verifier-secret")
    if record_name:  # deployed beside the key, empty: the key's rotator writes it
        record = verifier_records(shipped_recording("prod"))[record_name]
        rotation_service.create_secret(record_name, record.inputs["tags"], rotation=False)
    arn = rotation_service.create_secret(recorded.inputs["name"], recorded.inputs["tags"])  # no value, as deployed
    rotation_service.rotate(importlib.import_module(module), arn)
    value = rotation_service.value(arn, "AWSCURRENT")
    assert value[field].startswith(prefix)
    assert (value["env"], value["name"]) == ("prod", secret_path.split("/")[1])
    if field == "key":
        assert value["scopes"] == settings_of("prod").api_keys.by_name("checkout").scopes
    # Read at run time by its callers and the app's verifier, not injected: no redeploy after the rotation.
    assert "securestack:ecs-service" not in recorded.inputs["tags"]
    assert rotation_service.calls.params("UpdateService") == []


def test_postgres_rotator_reads_the_master_secret_arn_the_stack_tags(rotation_service):
    """The tag spells RDS's `rds!db-...` with @21 (IAM tag values refuse '!'); the rotator reads it back."""
    import importlib

    recorded = secrets_by_name(shipped_recording("prod"))["securestack/prod/database/app"]
    master_arn = shipped_recording("prod").one("aws:rds/instance:Instance").outputs["masterUserSecrets"][0][
        "secretArn"]
    assert "!" in master_arn and "!" not in recorded.inputs["tags"]["securestack:master-secret-arn"]
    arn = rotation_service.create_secret(recorded.inputs["name"], recorded.inputs["tags"])
    token = rotation_service.start(arn)
    # createSecret builds the first value from the tags alone (no database involved yet).
    rotation_service.step(importlib.import_module("postgres_user_rotation.handler"), arn, token, "createSecret")
    assert rotation_service.value(arn, "AWSPENDING")["masterarn"] == master_arn


def test_readiness_check_is_recorded_with_its_code_only(recording):
    """The dynamic resource's serialized provider (`__provider`) is what the engine stores in state: plain code
    (pickled by value; tests/lambdas/test_secret_readiness.py loads it where this repository is not importable),
    the same for every secret, with no credential, client or value in it."""
    from pulumi.dynamic.dynamic import serialize_provider

    from securestack.components.secret_readiness import SecretReadinessProvider

    serialized = {r.inputs["__provider"] for r in recording.of_type(READINESS)}
    assert serialized == {serialize_provider(SecretReadinessProvider())}
    raw = base64.b64decode(serialized.pop())
    assert b"botocore.client" not in raw and b"AKIA" not in raw and not VALUE_SHAPES.search(raw.decode("latin-1"))
    for ready in recording.of_type(READINESS):
        # A vendor-issued key's check has no rotation function (None is not sent): it never rotates.
        assert set(ready.inputs) - {"rotationLambdaArn"} == {"__provider", "secretArn", "rotationDays",
                                                              "timeoutSeconds"}
        assert ready.id == ready.inputs["secretArn"]
