"""Secrets Manager entries rotated by a RotationFunction: scoped API keys (each with its verifier record), webhook
signing secrets and the app's PostgreSQL login.

The three components share one file on purpose: their old type tokens named the module (`securestack:secrets:...`,
kept as aliases) and they are one concern, a rotated secret, differing only in the metadata they tag. What they share (secret,
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
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Final, Mapping, Optional, Sequence, cast

import pulumi
import pulumi_aws as aws

from .args import ArgsError, as_args
from .common import policy_json, renamed_from, stateful_options, waiting_for
from .declaration_queue import DECLARATIONS
from .secret_readiness import SecretReadiness, SecretReadinessArgs

KIND_API_KEY = "api-key"
KIND_WEBHOOK = "webhook-secret"
KIND_POSTGRES_USER = "postgres-user"
KIND_API_KEY_VERIFIER = "api-key-verifier"
# Who makes a key's or webhook secret's values: its rotator (`self`, the stack is the API business issuing them) or
# an outside vendor (`vendor`: StackBE, BareCommerce), whose values an operator stages (infra/secrets).
ISSUER_SELF: Final = "self"  # Final: mypy reads it as the literal, which settings' Literal field accepts
ISSUER_VENDOR: Final = "vendor"
ISSUERS = (ISSUER_SELF, ISSUER_VENDOR)
# Secret names are securestack/<env>/<path>/<name>; each rotator may touch only its own path (the api-key rotator
# also writes the verifier records).
SECRET_PATHS = {KIND_API_KEY: "api-keys", KIND_WEBHOOK: "webhooks", KIND_POSTGRES_USER: "database",
                KIND_API_KEY_VERIFIER: "api-key-verifiers"}
# The contract with the rotators and securestack_runtime (tag values: letters, digits, spaces, _ . : / = + - @).
VERIFIER_SECRET_TAG = "securestack:verifier-secret"  # on a key: its verifier record's name (a name: no cycle)
PREVIOUS_GRACE_DAYS_TAG = "securestack:previous-grace-days"  # on a key or webhook: 0..30
# Contract 15: who issues a key's or webhook's values (ISSUERS above) and how old its value may get (what the age
# alarms compare with; a rotated secret's schedule).
ISSUER_TAG = "securestack:issuer"
ROTATION_DAYS_TAG = "securestack:rotation-days"
KEY_SECRET_TAG = "securestack:key-secret"  # on a verifier record: its key's name
# Tag values allow only letters, digits, spaces and _ . : / = + - @, but every RDS-managed secret is named
# `rds!...`: the master-secret-arn tag spells '!' as `@21` (as the wildcard scope is spelled ALL_SCOPES), and the
# rotator reads it back with `tag_arn.replace("@21", "!")`.
TAG_SAFE_BANG = "@21"
# The rotators' contract (lambdas/rotation_common/metadata.py decodes it): scopes space-separated in the
# `securestack:scopes` tag, `*` spelled ALL_SCOPES (AWS tag values refuse '*').
WILDCARD_SCOPE = "*"
WILDCARD_SCOPE_TAG = "ALL_SCOPES"
MAX_ROTATION_DAYS = 90  # the guides: every key rotated at least every 90 days
# Days the previous value keeps working after a rotation (tag `securestack:previous-grace-days`, 0..30, the
# rotators' contract); 0: it stops the moment the new one is current.
DEFAULT_PREVIOUS_GRACE_DAYS, MAX_PREVIOUS_GRACE_DAYS = 7, 30
MAX_RECOVERY_WINDOW_DAYS, MIN_RECOVERY_WINDOW_DAYS = 30, 7  # Secrets Manager's range
# Entry names become secret paths, Pulumi names and tag values.
SECRET_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
SECRET_NAME_MAX = 40
SCOPE = re.compile(r"^[a-z][a-z0-9_-]*:[a-z][a-z0-9_-]*$")
KEY_PREFIX = re.compile(r"^[a-z][a-z0-9]*_([a-z0-9]+_)?$")
TAG_VALUE_MAX = 256
DESCRIPTION_MAX = 200
READ_ACTIONS = ["secretsmanager:GetSecretValue"]
WRITE_ACTIONS = ["secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"]


def scope_tag(scopes: Sequence[str]) -> str:
    """The `securestack:scopes` tag value the rotators decode (space-separated, `*` as ALL_SCOPES)."""
    return " ".join(WILDCARD_SCOPE_TAG if scope == WILDCARD_SCOPE else scope for scope in scopes)


def _check_entry(owner: str, name: str, rotation_days: int, previous_grace_days: int,
                 description: Optional[str]) -> None:
    """What an API key and a webhook secret share: a path-safe name, rotation <= 90 days, a bounded grace."""
    if len(name) > SECRET_NAME_MAX or not SECRET_NAME.match(name):
        raise ArgsError(f"{owner}.name: {name!r} must be 1-{SECRET_NAME_MAX} lowercase letters, digits or single "
                        "'-' between them, starting with a letter")
    if not 1 <= rotation_days <= MAX_ROTATION_DAYS:
        raise ArgsError(f"{owner}.rotation_days: must be 1..{MAX_ROTATION_DAYS}")
    if not 0 <= previous_grace_days <= MAX_PREVIOUS_GRACE_DAYS:
        raise ArgsError(f"{owner}.previous_grace_days: must be 0..{MAX_PREVIOUS_GRACE_DAYS}")
    if description is not None and len(description) > DESCRIPTION_MAX:
        raise ArgsError(f"{owner}.description: must be at most {DESCRIPTION_MAX} characters")


def tag_safe_arn(arn: str) -> str:
    return arn.replace("!", TAG_SAFE_BANG)


def secret_name(environment: str, kind: str, name: str) -> str:
    return f"securestack/{environment}/{SECRET_PATHS[kind]}/{name}"


def secret_resource_policy(secret_arn: pulumi.Input[str], reader_arns: Sequence[pulumi.Input[str]],
                           writer_arns: Sequence[pulumi.Input[str]], writers: str = "Rotator",
                           writers_read: bool = True) -> pulumi.Output[str]:
    """Deny-only: nobody but the readers (and, with `writers_read`, the writers) reads, nobody but the writers
    writes, nothing without TLS. Allows come from the principals' own IAM policies (same account).

    `writers` names them in the statement ids: a rotated secret's one writer is its rotator, which also reads
    (`DenyReadsExceptConsumersAndRotator`); a vendor-issued secret's writers are the operators, who never read."""
    everyone = {"AWS": "*"}
    readers = [*reader_arns, *writer_arns] if writers_read else list(reader_arns)
    read_sid = f"DenyReadsExceptConsumersAnd{writers}" if writers_read else "DenyReadsExceptConsumers"
    # Nobody to exempt: every read is denied (IAM has no empty condition list to exempt no one with).
    read_condition = {"Condition": {"StringNotEquals": {"aws:PrincipalArn": readers}}} if readers else {}
    return policy_json([
        {"Sid": read_sid, "Effect": "Deny", "Principal": everyone, "Action": READ_ACTIONS, "Resource": secret_arn,
         **read_condition},
        {"Sid": f"DenyValueChangesExcept{writers}", "Effect": "Deny", "Principal": everyone,
         "Action": WRITE_ACTIONS, "Resource": secret_arn,
         "Condition": {"StringNotEquals": {"aws:PrincipalArn": list(writer_arns)}}},
        # A Deny: the wider the action set, the stricter.
        {"Sid": "DenyWithoutTls", "Effect": "Deny", "Principal": everyone, "Action": "secretsmanager:*",
         "Resource": secret_arn, "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ])


@dataclass
class SecretStoreArgs:
    """What every rotated secret of one component shares: environment, key, rotator and readers."""

    environment: str
    """Environment name; secrets are named `securestack/<environment>/<kind path>/<name>`. Required."""
    secrets_key_arn: pulumi.Input[str]
    """KMS key ARN the secrets are encrypted with. Required."""
    rotator_arn: pulumi.Input[str]
    """ARN of the rotation Lambda (RotationFunction.arn). Required."""
    rotator_role_arn: pulumi.Input[str]
    """ARN of the rotation Lambda's role, the only writer (RotationFunction.role_arn). Required."""
    rotator_ready: Optional[pulumi.Input[str]] = None
    """A value known once the rotator can rotate (RotationFunction.ready_arn: its invoke permission and secrets
    policy exist); the rotations wait for the resources behind it. Default: nothing to wait for."""
    production: bool = True
    """Production: the secrets are protected and retained on delete. Default true."""
    recovery_window_days: int = MAX_RECOVERY_WINDOW_DAYS
    """Days a deleted secret stays recoverable, 7..30. Default 30."""
    consumer_role_arns: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    """Consumer name -> IAM role ARN that reads the value (`app`: the app's execution role for what ECS injects,
    its task role for what its code reads at run time); a consumer without a role reads nothing. Default none."""
    app_ecs_service: Optional[str] = None
    """`<cluster>/<service>` the rotator redeploys after rotating a secret that names `app` (tag
    `securestack:ecs-service`). Default none."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource. Default none."""

    def __post_init__(self) -> None:
        if not MIN_RECOVERY_WINDOW_DAYS <= self.recovery_window_days <= MAX_RECOVERY_WINDOW_DAYS:
            raise ArgsError(f"SecretStoreArgs.recovery_window_days: must be "
                            f"{MIN_RECOVERY_WINDOW_DAYS}..{MAX_RECOVERY_WINDOW_DAYS}")


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
    """Base of the components below: one secret + resource policy + rotation per spec.

    A component whose count grows with config (`queues_declarations`: API keys, webhooks) declares each secret (and
    verifier record) at once, since callers use `secrets`, `arns_by_name` and `verifier_arns_by_name` right away,
    and hands the rest of each entry (policies, rotation, readiness) and then its `register_outputs` to the
    program's declaration queue (components/declaration_queue.py): unarmed, that declares them at once too.
    Armed, `rotations` and `readiness` are complete only once the program drained the queue, and a `depends_on` on
    the component taken before then would not cover the queued children: nothing the program declares synchronously
    uses either (the app waits for the database login's readiness, which is never queued)."""

    kind = ""
    queues_declarations = False

    def __init__(self, type_token: str, name: str, store: SecretStoreArgs, specs: Sequence[SecretSpec],
                 opts: Optional[pulumi.ResourceOptions]):
        super().__init__(type_token, name, None, renamed_from(f"securestack:secrets:{type(self).__name__}", opts))
        self._name, self._store = name, as_args(SecretStoreArgs, store)
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
        # name -> ARN, for the stack program (the `arns` output is the same as one map)
        self.arns_by_name = {name: secret.arn for name, secret in self.secrets.items()}
        self.verifier_arns_by_name = {name: record.arn for name, record in self.verifier_records.items()}

    def _tags(self, spec: SecretSpec) -> dict[str, pulumi.Input[str]]:
        store = self._store
        tags: dict[str, pulumi.Input[str]] = {**store.tags, "securestack:env": store.environment,
                                              "securestack:name": spec.name, "securestack:kind": self.kind,
                                              ROTATION_DAYS_TAG: str(spec.rotation_days), **spec.metadata}
        if self.kind in (KIND_API_KEY, KIND_WEBHOOK):
            tags[ISSUER_TAG] = ISSUER_SELF  # its rotator makes every value
        if store.app_ecs_service is not None and "app" in spec.consumers:
            tags["securestack:ecs-service"] = store.app_ecs_service
        if spec.verifier_reader_arns is not None:
            tags[VERIFIER_SECRET_TAG] = secret_name(store.environment, KIND_API_KEY_VERIFIER, spec.name)
        return tags

    def _reader_arns(self, spec: SecretSpec) -> list[pulumi.Input[str]]:
        # A consumer without a role here (the app when this stack runs none) simply reads nothing.
        return [self._store.consumer_role_arns[c] for c in spec.consumers if c in self._store.consumer_role_arns]

    def _later(self, what: str, declare: Callable[[], Any]) -> None:
        if self.queues_declarations:
            DECLARATIONS.defer(what, declare)
        else:
            declare()

    def _finish(self, outputs: dict[str, Any]) -> None:
        """`register_outputs` once every child is declared: queued after the children when they are."""
        self._later(f"{self._name} outputs", lambda: self.register_outputs(outputs))

    def _verifier_record(self, spec: SecretSpec, resource: str) -> aws.secretsmanager.Secret:
        """The key's verifier record: no rotation and no value from Pulumi; its key's first rotation writes it."""
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
        return record

    def _verifier_policy(self, spec: SecretSpec, resource: str,
                         record: aws.secretsmanager.Secret) -> aws.secretsmanager.SecretPolicy:
        """The verifier record locked down like the key: read by its verifiers and the key's rotator, written by
        that rotator only. The key's rotation (which writes the record) waits for it."""
        return aws.secretsmanager.SecretPolicy(
            f"{resource}-verifier-policy", secret_arn=record.arn, block_public_policy=True,
            policy=secret_resource_policy(record.arn, list(spec.verifier_reader_arns or []),
                                          [self._store.rotator_role_arn]),
            opts=pulumi.ResourceOptions(parent=self))

    def _rotated_secret(self, spec: SecretSpec) -> aws.secretsmanager.Secret:
        """The secret (and its verifier record) now; its policies, rotation and readiness now or queued."""
        store, resource = self._store, f"{self._name}-{spec.name}"
        secret = aws.secretsmanager.Secret(
            resource, name=secret_name(store.environment, self.kind, spec.name), description=spec.description,
            kms_key_id=store.secrets_key_arn, recovery_window_in_days=store.recovery_window_days,
            tags=self._tags(spec), opts=stateful_options(self, store.production))
        record = None if spec.verifier_reader_arns is None else self._verifier_record(spec, resource)
        self._later(f"{resource}-policy", lambda: self._lock_down_and_rotate(spec, resource, secret, record))
        return secret

    def _lock_down_and_rotate(self, spec: SecretSpec, resource: str, secret: aws.secretsmanager.Secret,
                              record: Optional[aws.secretsmanager.Secret]) -> None:
        store = self._store
        policy = aws.secretsmanager.SecretPolicy(
            f"{resource}-policy", secret_arn=secret.arn, block_public_policy=True,
            policy=secret_resource_policy(secret.arn, self._reader_arns(spec), [store.rotator_role_arn]),
            opts=pulumi.ResourceOptions(parent=self))
        # The first rotation's setSecret writes the verifier record: it must exist, locked down, before.
        locked_down = [policy] if record is None else [policy, self._verifier_policy(spec, resource, record)]
        # Explicit: AWS refuses the rotation until the invoke permission exists, and the first value must land in
        # a secret that is already locked down.
        # rotate_immediately=False: the provider sends it again on every update of the rotation (a schedule or
        # rotator change would rotate at once); the first rotation comes from the readiness resource below.
        rotation = aws.secretsmanager.SecretRotation(
            f"{resource}-rotation", secret_id=secret.id, rotation_lambda_arn=store.rotator_arn,
            rotation_rules={"automatically_after_days": spec.rotation_days}, rotate_immediately=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*waiting_for(store.rotator_ready), *locked_down]))
        self.rotations.append(rotation)
        self.readiness[spec.name] = SecretReadiness(
            f"{resource}-ready", SecretReadinessArgs(secret_arn=secret.arn, rotation_lambda_arn=store.rotator_arn,
                                                     rotation_days=spec.rotation_days),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[rotation]))


@dataclass
class ApiKey:
    """One scoped API key: its own secret and verifier record, rotated by the api-key rotator."""

    name: str
    """Key name, 1-40 lowercase letters, digits and single '-'; the secret is `.../api-keys/<name>`. Required."""
    scopes: list[str]
    """Scopes `resource:action` (e.g. products:read), or `*` alone on an `internal` key. Required."""
    consumers: list[str] = field(default_factory=list)
    """Names (keys of SecretStoreArgs.consumer_role_arns) of the callers that read the key's value. Default none
    (only its rotator)."""
    internal: bool = False
    """Marks a key for internal tools only: the one kind that may carry the `*` scope. Default false."""
    rotation_days: int = MAX_ROTATION_DAYS
    """Days between rotations, 1..90. Default 90."""
    previous_grace_days: int = DEFAULT_PREVIOUS_GRACE_DAYS
    """Days the previous value keeps verifying after a rotation, 0..30. Default 7."""
    description: Optional[str] = None
    """What the key is for (at most 200 characters). Default none."""

    def __post_init__(self) -> None:
        _check_entry("ApiKey", self.name, self.rotation_days, self.previous_grace_days, self.description)
        if not self.scopes:
            raise ArgsError("ApiKey.scopes: at least one scope")
        for scope in self.scopes:
            if scope != WILDCARD_SCOPE and not SCOPE.match(scope):
                raise ArgsError(f"ApiKey.scopes: {scope!r} is not a scope: use resource:action (e.g. products:read) "
                                "or '*'")
        if WILDCARD_SCOPE in self.scopes and (len(self.scopes) > 1 or not self.internal):
            raise ArgsError("ApiKey.scopes: '*' grants every scope: list it alone, on a key with internal true")
        if len(set(self.scopes)) != len(self.scopes):
            raise ArgsError("ApiKey.scopes: a scope is listed twice")
        if len(scope_tag(self.scopes)) > TAG_VALUE_MAX:
            raise ArgsError(f"ApiKey.scopes: too many scopes: their tag value would exceed {TAG_VALUE_MAX} characters")


@dataclass
class ScopedApiKeysArgs:
    """Inputs of ScopedApiKeys."""

    store: SecretStoreArgs
    """Environment, key, rotator and readers the keys share. Required."""
    keys: list[ApiKey]
    """The keys. Required."""
    key_prefix: str = "sk_live_"
    """Prefix of generated key values, so live keys are recognisable (e.g. sk_test_ outside production). Default
    sk_live_."""
    verifier_reader_arns: dict[str, list[pulumi.Input[str]]] = field(default_factory=dict)
    """Key name -> role ARNs that read its verifier record (the app's task role, for the keys it verifies).
    Default none."""

    def __post_init__(self) -> None:
        if not KEY_PREFIX.match(self.key_prefix):
            raise ArgsError(f"ScopedApiKeysArgs.key_prefix: {self.key_prefix!r} must be lowercase letters and digits "
                            "ending in '_', e.g. sk_live_")
        names = [key.name for key in self.keys]
        if len(set(names)) != len(names):
            raise ArgsError("ScopedApiKeysArgs.keys: a key name is listed twice")
        unknown = sorted(set(self.verifier_reader_arns) - set(names))
        if unknown:
            raise ArgsError(f"ScopedApiKeysArgs.verifier_reader_arns: no key named {', '.join(unknown)}")


class ScopedApiKeys(RotatedSecrets):
    """One secret per scoped API key, read by its callers only; the rotator makes `<prefix><256 random bits>` with
    the tagged scopes and keeps the key's verifier record (digests) in step, which is all the app reads."""

    arns: pulumi.Output[dict[str, str]]
    """Key name -> ARN of its secret."""
    verifier_arns: pulumi.Output[dict[str, str]]
    """Key name -> ARN of its verifier record."""

    kind = KIND_API_KEY
    queues_declarations = True  # thousands of keys in one stack (issue 16)

    def __init__(self, name: str, args: ScopedApiKeysArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = as_args(ScopedApiKeysArgs, args)
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
        # from_input resolves the Outputs inside the dict (pulumi/output.py); its signature cannot say so.
        self.arns = cast("pulumi.Output[dict[str, str]]", pulumi.Output.from_input(self.arns_by_name))
        self.verifier_arns = cast("pulumi.Output[dict[str, str]]",
                                  pulumi.Output.from_input(self.verifier_arns_by_name))
        self._finish({"arns": self.arns, "verifier_arns": self.verifier_arns})


@dataclass
class Webhook:
    """One webhook signing secret, rotated by the webhook rotator."""

    name: str
    """Webhook name, 1-40 lowercase letters, digits and single '-'; the secret is `.../webhooks/<name>`.
    Required."""
    consumers: list[str] = field(default_factory=list)
    """Names (keys of SecretStoreArgs.consumer_role_arns) that read the value: the signer (`app`) and the
    receivers. Default none (only its rotator)."""
    rotation_days: int = MAX_ROTATION_DAYS
    """Days between rotations, 1..90. Default 90."""
    previous_grace_days: int = DEFAULT_PREVIOUS_GRACE_DAYS
    """Days receivers keep accepting the previous value after a rotation, 0..30. Default 7."""
    description: Optional[str] = None
    """What the webhook signs (at most 200 characters). Default none."""

    def __post_init__(self) -> None:
        _check_entry("Webhook", self.name, self.rotation_days, self.previous_grace_days, self.description)


@dataclass
class WebhookSecretsArgs:
    """Inputs of WebhookSecrets."""

    store: SecretStoreArgs
    """Environment, key, rotator and readers the secrets share. Required."""
    webhooks: list[Webhook]
    """The webhooks. Required."""

    def __post_init__(self) -> None:
        names = [hook.name for hook in self.webhooks]
        if len(set(names)) != len(names):
            raise ArgsError("WebhookSecretsArgs.webhooks: a webhook name is listed twice")


class WebhookSecrets(RotatedSecrets):
    """One signing secret per webhook, read by its signer (the app) and receivers; receivers accept AWSCURRENT,
    AWSPENDING and, for `previous_grace_days` after a rotation, AWSPREVIOUS."""

    arns: pulumi.Output[dict[str, str]]
    """Webhook name -> ARN of its signing secret."""

    kind = KIND_WEBHOOK
    queues_declarations = True

    def __init__(self, name: str, args: WebhookSecretsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = as_args(WebhookSecretsArgs, args)
        env = args.store.environment
        specs = [SecretSpec(
            name=hook.name, consumers=hook.consumers, rotation_days=hook.rotation_days,
            metadata={PREVIOUS_GRACE_DAYS_TAG: str(hook.previous_grace_days)},
            description=f"securestack {env} webhook signing secret '{hook.name}'"
                        f"{': ' + hook.description if hook.description else ''}; value set by its rotator only")
            for hook in args.webhooks]
        super().__init__("securestack:index:WebhookSecrets", name, args.store, specs, opts)
        self.arns = cast("pulumi.Output[dict[str, str]]", pulumi.Output.from_input(self.arns_by_name))
        self._finish({"arns": self.arns})


@dataclass
class DatabaseUserSecretArgs:
    """Inputs of DatabaseUserSecret."""

    store: SecretStoreArgs
    """Environment, key, rotator (the Postgres user rotator) and readers. Required."""
    username: str
    """The login's base user name (the rotator alternates `<username>` and `<username>_clone`). Required."""
    database_name: str
    """Database the login owns its objects in. Required."""
    host: pulumi.Input[str]
    """Database host name. Required."""
    port: pulumi.Input[int]
    """Database port. Required."""
    master_secret_arn: pulumi.Input[str]
    """ARN of the RDS-managed master secret the rotator creates and alters the users with. Required."""
    consumers: list[str] = field(default_factory=lambda: ["app"])
    """Names (keys of SecretStoreArgs.consumer_role_arns) that read the login. Default ["app"]."""
    rotation_days: int = 30
    """Days between rotations, 1..90. Default 30."""

    def __post_init__(self) -> None:
        if not 1 <= self.rotation_days <= MAX_ROTATION_DAYS:
            raise ArgsError(f"DatabaseUserSecretArgs.rotation_days: must be 1..{MAX_ROTATION_DAYS}")


def owner_role(username: str) -> str:
    """The role both alternating users act as, so either sees and owns the same objects."""
    return f"{username}_owner"


class DatabaseUserSecret(RotatedSecrets):
    """The app's PostgreSQL login (alternating users), rotated with the master credentials of `master_secret_arn`."""

    arn: pulumi.Output[str]
    """ARN of the login's secret."""

    kind = KIND_POSTGRES_USER

    def __init__(self, name: str, args: DatabaseUserSecretArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = as_args(DatabaseUserSecretArgs, args)
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
        self.arn = self.arns_by_name[args.username]
        self.register_outputs({"arn": self.arn})
