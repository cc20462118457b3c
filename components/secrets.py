"""Secrets Manager entries rotated by a RotationFunction: scoped API keys (each with its verifier record), webhook
signing secrets and the app's PostgreSQL login.

The three components share one file on purpose: their type tokens name the module (`securestack:secrets:...`)
and they are one concern, a rotated secret, differing only in the metadata they tag. What they share (secret,
resource policy, rotation) is written once in `RotatedSecrets`.

No value ever passes through Pulumi: a secret is created empty and gets its first value from its rotator, which
reads what it needs from the non-secret `securestack:*` tags. The first rotation is started, and waited for, by
the secret's `SecretReadiness` (components/secret_readiness.py): the SecretRotation itself never rotates at once,
since its provider would rotate again on every change of the schedule or rotator.

Each API key has a *verifier record* beside it (`securestack/<env>/api-key-verifiers/<name>`, named by the key's
`securestack:verifier-secret` tag): the SHA-256 digests of its current, pending and previous values, which the key's
rotator writes at every step that changes what is valid. The app verifies keys from it and never reads a key's
value. The record has no rotation and no value from Pulumi; its key's first rotation writes its first version.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from securestack.infra.settings.secrets import ApiKeySettings, WebhookSettings, scope_tag

from .common import policy_json, renamed_from, stateful_options
from .rotation import RotationFunction
from .secret_readiness import SecretReadiness, SecretReadinessArgs

KIND_API_KEY = "api-key"
KIND_WEBHOOK = "webhook-secret"
KIND_POSTGRES_USER = "postgres-user"
KIND_API_KEY_VERIFIER = "api-key-verifier"
# Secret names are securestack/<env>/<path>/<name>; each rotator may touch only its own path (the api-key rotator
# also writes the verifier records).
SECRET_PATHS = {KIND_API_KEY: "api-keys", KIND_WEBHOOK: "webhooks", KIND_POSTGRES_USER: "database",
                KIND_API_KEY_VERIFIER: "api-key-verifiers"}
# The contract with the rotators and securestack_runtime (tag values: letters, digits, spaces, _ . : / = + - @).
VERIFIER_SECRET_TAG = "securestack:verifier-secret"  # on a key: its verifier record's name (a name: no cycle)
PREVIOUS_GRACE_DAYS_TAG = "securestack:previous-grace-days"  # on a key or webhook: 0..30
KEY_SECRET_TAG = "securestack:key-secret"  # on a verifier record: its key's name
# Tag values allow only letters, digits, spaces and _ . : / = + - @, but every RDS-managed secret is named
# `rds!...`: the master-secret-arn tag spells '!' as `@21` (as the wildcard scope is spelled ALL_SCOPES), and the
# rotator reads it back with `tag_arn.replace("@21", "!")`.
TAG_SAFE_BANG = "@21"
READ_ACTIONS = ["secretsmanager:GetSecretValue"]
WRITE_ACTIONS = ["secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"]


def tag_safe_arn(arn: str) -> str:
    return arn.replace("!", TAG_SAFE_BANG)


def secret_name(environment: str, kind: str, name: str) -> str:
    return f"securestack/{environment}/{SECRET_PATHS[kind]}/{name}"


def secret_resource_policy(secret_arn: pulumi.Input[str], reader_arns: Sequence[pulumi.Input[str]],
                           rotator_role_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """Deny-only: nobody but the consumers and the rotator reads, nobody but the rotator writes, nothing
    without TLS. Allows come from the principals' own IAM policies (same account)."""
    everyone = {"AWS": "*"}
    return policy_json([
        {"Sid": "DenyReadsExceptConsumersAndRotator", "Effect": "Deny", "Principal": everyone,
         "Action": READ_ACTIONS, "Resource": secret_arn,
         "Condition": {"StringNotEquals": {"aws:PrincipalArn": [*reader_arns, rotator_role_arn]}}},
        {"Sid": "DenyValueChangesExceptRotator", "Effect": "Deny", "Principal": everyone,
         "Action": WRITE_ACTIONS, "Resource": secret_arn,
         "Condition": {"StringNotEquals": {"aws:PrincipalArn": [rotator_role_arn]}}},
        # A Deny: the wider the action set, the stricter.
        {"Sid": "DenyWithoutTls", "Effect": "Deny", "Principal": everyone, "Action": "secretsmanager:*",
         "Resource": secret_arn, "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ])


@dataclass
class SecretStoreArgs:
    """What every rotated secret of the environment shares."""

    environment: str
    production: bool
    secrets_key_arn: pulumi.Input[str]
    recovery_window_days: int
    rotator: RotationFunction
    # consumer name -> IAM role ARN that reads the value (`app`: the app's execution role for what ECS injects,
    # its task role for what its code reads at run time)
    consumer_role_arns: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # `<cluster>/<service>` the rotator redeploys after rotating a secret the app's tasks get injected at start
    app_ecs_service: Optional[str] = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SecretSpec:
    name: str
    description: str
    consumers: Sequence[str]
    rotation_days: int
    metadata: Mapping[str, pulumi.Input[str]]
    # Roles that read the secret's verifier record (the app's task role); None: the secret has no record.
    verifier_reader_arns: Optional[Sequence[pulumi.Input[str]]] = None


class RotatedSecrets(pulumi.ComponentResource):
    """Base of the components below: one secret + resource policy + rotation per spec."""

    kind = ""

    def __init__(self, type_token: str, name: str, store: SecretStoreArgs, specs: Sequence[SecretSpec],
                 opts: Optional[pulumi.ResourceOptions]):
        super().__init__(type_token, name, None, renamed_from(f"securestack:secrets:{type(self).__name__}", opts))
        self._name, self._store = name, store
        self.secrets: dict[str, aws.secretsmanager.Secret] = {}
        self.rotations: list[aws.secretsmanager.SecretRotation] = []
        # name -> the resource that exists once that secret has a value (what a consumer waits for)
        self.readiness: dict[str, SecretReadiness] = {}
        self.rotation_days: dict[str, int] = {}
        # name -> the verifier record of that key (API keys only)
        self.verifier_records: dict[str, aws.secretsmanager.Secret] = {}
        for spec in specs:
            self.secrets[spec.name] = self._rotated_secret(spec)
            self.rotation_days[spec.name] = spec.rotation_days
        self.arns = {name: secret.arn for name, secret in self.secrets.items()}
        self.verifier_arns = {name: record.arn for name, record in self.verifier_records.items()}
        self.register_outputs({"arns": self.arns, "verifier_arns": self.verifier_arns})

    def _tags(self, spec: SecretSpec) -> dict[str, pulumi.Input[str]]:
        store = self._store
        tags: dict[str, pulumi.Input[str]] = {**store.tags, "securestack:env": store.environment,
                                              "securestack:name": spec.name, "securestack:kind": self.kind,
                                              **spec.metadata}
        if store.app_ecs_service is not None and "app" in spec.consumers:
            tags["securestack:ecs-service"] = store.app_ecs_service
        if spec.verifier_reader_arns is not None:
            tags[VERIFIER_SECRET_TAG] = secret_name(store.environment, KIND_API_KEY_VERIFIER, spec.name)
        return tags

    def _reader_arns(self, spec: SecretSpec) -> list[pulumi.Input[str]]:
        # A consumer without a role here (the app when this stack runs none) simply reads nothing.
        return [self._store.consumer_role_arns[c] for c in spec.consumers if c in self._store.consumer_role_arns]

    def _verifier_record(self, spec: SecretSpec, resource: str) -> aws.secretsmanager.SecretPolicy:
        """The key's verifier record, locked down like the key: read by its verifiers and the key's rotator,
        written by that rotator only. Returns its policy: the key's rotation (which writes it) waits for it."""
        store = self._store
        key_secret = secret_name(store.environment, self.kind, spec.name)
        record = aws.secretsmanager.Secret(
            f"{resource}-verifier", name=secret_name(store.environment, KIND_API_KEY_VERIFIER, spec.name),
            description=f"securestack {store.environment} verifier record of API key '{spec.name}': SHA-256 digests "
                        "of its current, pending and previous values, never a key value; written by the key's "
                        "rotator only",
            kms_key_id=store.secrets_key_arn, recovery_window_in_days=store.recovery_window_days,
            tags={**store.tags, "securestack:env": store.environment, "securestack:name": spec.name,
                  "securestack:kind": KIND_API_KEY_VERIFIER, KEY_SECRET_TAG: key_secret},
            opts=stateful_options(self, store.production))
        self.verifier_records[spec.name] = record
        return aws.secretsmanager.SecretPolicy(
            f"{resource}-verifier-policy", secret_arn=record.arn, block_public_policy=True,
            policy=secret_resource_policy(record.arn, list(spec.verifier_reader_arns or []), store.rotator.role_arn),
            opts=pulumi.ResourceOptions(parent=self))

    def _rotated_secret(self, spec: SecretSpec) -> aws.secretsmanager.Secret:
        store, resource = self._store, f"{self._name}-{spec.name}"
        secret = aws.secretsmanager.Secret(
            resource, name=secret_name(store.environment, self.kind, spec.name), description=spec.description,
            kms_key_id=store.secrets_key_arn, recovery_window_in_days=store.recovery_window_days,
            tags=self._tags(spec), opts=stateful_options(self, store.production))
        policy = aws.secretsmanager.SecretPolicy(
            f"{resource}-policy", secret_arn=secret.arn, block_public_policy=True,
            policy=secret_resource_policy(secret.arn, self._reader_arns(spec), store.rotator.role_arn),
            opts=pulumi.ResourceOptions(parent=self))
        # The first rotation's setSecret writes the verifier record: it must exist, locked down, before.
        locked_down = [policy] if spec.verifier_reader_arns is None else [policy, self._verifier_record(spec, resource)]
        # Explicit: AWS refuses the rotation until the invoke permission exists, and the first value must land in
        # a secret that is already locked down.
        # rotate_immediately=False: the provider sends it again on every update of the rotation (a schedule or
        # rotator change would rotate at once); the first rotation comes from the readiness resource below.
        rotation = aws.secretsmanager.SecretRotation(
            f"{resource}-rotation", secret_id=secret.id, rotation_lambda_arn=store.rotator.arn,
            rotation_rules={"automatically_after_days": spec.rotation_days}, rotate_immediately=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*store.rotator.rotation_dependencies, *locked_down]))
        self.rotations.append(rotation)
        self.readiness[spec.name] = SecretReadiness(
            f"{resource}-ready", SecretReadinessArgs(secret_arn=secret.arn, rotation_lambda_arn=store.rotator.arn,
                                                     rotation_days=spec.rotation_days),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[rotation]))
        return secret


@dataclass
class ScopedApiKeysArgs:
    store: SecretStoreArgs
    keys: Sequence[ApiKeySettings]
    key_prefix: str  # sk_live_ (production) / sk_test_
    # key name -> roles that read its verifier record (the app's task role, for the keys it verifies)
    verifier_reader_arns: Mapping[str, Sequence[pulumi.Input[str]]] = field(default_factory=dict)


class ScopedApiKeys(RotatedSecrets):
    """One secret per scoped API key, read by its callers only; the rotator makes `<prefix><256 random bits>` with
    the tagged scopes and keeps the key's verifier record (digests) in step, which is all the app reads."""

    kind = KIND_API_KEY

    def __init__(self, name: str, args: ScopedApiKeysArgs, opts: Optional[pulumi.ResourceOptions] = None):
        env = args.store.environment
        specs = [SecretSpec(
            name=key.name, consumers=key.consumers, rotation_days=key.rotation_days,
            description=f"securestack {env} API key '{key.name}' ({' '.join(key.scopes)})"
                        f"{': ' + key.description if key.description else ''}; value set by its rotator only",
            metadata={"securestack:scopes": scope_tag(key.scopes), "securestack:key-prefix": args.key_prefix,
                      "securestack:internal": "true" if key.internal else "false",
                      PREVIOUS_GRACE_DAYS_TAG: str(key.previous_grace_days)},
            verifier_reader_arns=list(args.verifier_reader_arns.get(key.name, ())))
            for key in args.keys]
        super().__init__("securestack:index:ScopedApiKeys", name, args.store, specs, opts)


@dataclass
class WebhookSecretsArgs:
    store: SecretStoreArgs
    webhooks: Sequence[WebhookSettings]


class WebhookSecrets(RotatedSecrets):
    """One signing secret per webhook, read by its signer (the app) and receivers; receivers accept AWSCURRENT,
    AWSPENDING and, for `previousGraceDays` after a rotation, AWSPREVIOUS."""

    kind = KIND_WEBHOOK

    def __init__(self, name: str, args: WebhookSecretsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        env = args.store.environment
        specs = [SecretSpec(
            name=hook.name, consumers=hook.consumers, rotation_days=hook.rotation_days,
            metadata={PREVIOUS_GRACE_DAYS_TAG: str(hook.previous_grace_days)},
            description=f"securestack {env} webhook signing secret '{hook.name}'"
                        f"{': ' + hook.description if hook.description else ''}; value set by its rotator only")
            for hook in args.webhooks]
        super().__init__("securestack:index:WebhookSecrets", name, args.store, specs, opts)


@dataclass
class DatabaseUserSecretArgs:
    store: SecretStoreArgs
    username: str
    database_name: str
    host: pulumi.Input[str]
    port: pulumi.Input[int]
    master_secret_arn: pulumi.Input[str]
    consumers: Sequence[str] = ("app",)
    rotation_days: int = 30


def owner_role(username: str) -> str:
    """The role both alternating users act as, so either sees and owns the same objects."""
    return f"{username}_owner"


class DatabaseUserSecret(RotatedSecrets):
    """The app's PostgreSQL login (alternating users), rotated with the master credentials of `masterarn`."""

    kind = KIND_POSTGRES_USER

    def __init__(self, name: str, args: DatabaseUserSecretArgs, opts: Optional[pulumi.ResourceOptions] = None):
        spec = SecretSpec(
            name=args.username, consumers=args.consumers, rotation_days=args.rotation_days,
            description=f"securestack {args.store.environment} PostgreSQL login of '{args.username}' "
                        f"(database {args.database_name}); value set by its rotator only",
            metadata={"securestack:db-host": args.host,
                      "securestack:db-port": pulumi.Output.from_input(args.port).apply(str),
                      "securestack:db-name": args.database_name, "securestack:db-username": args.username,
                      "securestack:db-owner-role": owner_role(args.username),
                      "securestack:master-secret-arn": pulumi.Output.from_input(args.master_secret_arn).apply(
                          tag_safe_arn)})
        super().__init__("securestack:index:DatabaseUserSecret", name, args.store, [spec], opts)

    @property
    def arn(self) -> pulumi.Output[str]:
        return next(iter(self.arns.values()))
