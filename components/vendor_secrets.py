"""VendorSecrets: API keys and webhook signing secrets whose values an outside vendor issues (issue 15).

A vendor (StackBE, BareCommerce) issues its keys and webhook signing secrets in its own dashboard; no rotator can
generate one. So each gets the same secret as a self-issued one (name, CMK, recovery window, stateful options,
deny-only resource policy) with no rotation: an operator stages the vendor's value (`infra.secrets stage`, as
`AWSPENDING`), promotes it to `AWSCURRENT` and retires the previous one. Pulumi never holds a value, and the
resource policy lets only the operators write (`PutSecretValue`, `UpdateSecretVersionStage`) and only the
consumers read. The `securestack:rotation-days` tag is how old the value may get before the age alarm fires.

A key the app consumes is injected by ECS when a task starts, so the app waits for a `SecretReadiness` check in
vendor mode (components/secret_readiness.py): it never rotates, and fails the deploy at once, naming the commands
that give the secret its first value, while the secret has no `AWSCURRENT`.
"""
import re
from dataclasses import dataclass, field
from typing import Optional, Sequence, cast

import pulumi
import pulumi_aws as aws

from .args import ArgsError, as_args, check_environment, check_tags
from .common import stateful_options
from .secret_readiness import SecretReadiness, SecretReadinessArgs
from .secrets import (DEFAULT_PREVIOUS_GRACE_DAYS, DESCRIPTION_MAX, ISSUER_TAG, ISSUER_VENDOR, KEY_PREFIX,
                      KIND_API_KEY, KIND_WEBHOOK, MAX_PREVIOUS_GRACE_DAYS, MAX_RECOVERY_WINDOW_DAYS, MAX_ROTATION_DAYS,
                      MIN_RECOVERY_WINDOW_DAYS, PREVIOUS_GRACE_DAYS_TAG, ROTATION_DAYS_TAG, SCOPE, SECRET_NAME,
                      SECRET_NAME_MAX, TAG_VALUE_MAX, WILDCARD_SCOPE, scope_tag, secret_name, secret_resource_policy)

APP_CONSUMER = "app"  # the app service of the stack: its readers are the two app role fields below
VENDOR_TAG, KEY_PREFIX_TAG, SCOPES_TAG = "securestack:vendor", "securestack:key-prefix", "securestack:scopes"
ECS_SERVICE_TAG = "securestack:ecs-service"  # what `infra.secrets promote` redeploys
# A vendor slug (contract 15): the same shape as an entry name, so it fits tags and commands.
VENDOR_NAME, VENDOR_NAME_MAX = SECRET_NAME, 40
ROLE_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
ECS_SERVICE = re.compile(r"^[A-Za-z0-9_-]{1,255}/[A-Za-z0-9_-]{1,255}$")


def _check_vendor_entry(owner: str, name: str, vendor: str, rotation_days: int, description: Optional[str]) -> None:
    """What a vendor key and a vendor webhook share: a path-safe name, a vendor slug, an age bound <= 90 days."""
    if not isinstance(name, str) or len(name) > SECRET_NAME_MAX or not SECRET_NAME.match(name):
        raise ArgsError(f"{owner}.name: {name!r} must be 1-{SECRET_NAME_MAX} lowercase letters, digits or single "
                        "'-' between them, starting with a letter")
    if not isinstance(vendor, str) or len(vendor) > VENDOR_NAME_MAX or not VENDOR_NAME.match(vendor):
        raise ArgsError(f"{owner}.vendor: {vendor!r} must be 1-{VENDOR_NAME_MAX} lowercase letters, digits or single "
                        "'-' between them, starting with a letter (e.g. barecommerce)")
    if isinstance(rotation_days, bool) or not isinstance(rotation_days, int) \
            or not 1 <= rotation_days <= MAX_ROTATION_DAYS:
        raise ArgsError(f"{owner}.rotation_days: must be 1..{MAX_ROTATION_DAYS} (the age its value may reach)")
    if description is not None and len(description) > DESCRIPTION_MAX:
        raise ArgsError(f"{owner}.description: must be at most {DESCRIPTION_MAX} characters")


@dataclass
class VendorApiKey:
    """One API key a vendor issues (the stack calls the vendor with it); an operator stages its value."""

    name: str
    """Key name, 1-40 lowercase letters, digits and single '-'; the secret is `.../api-keys/<name>`. Required."""
    vendor: str
    """The issuing vendor's slug, 1-40 lowercase letters, digits and single '-' (e.g. stackbe). Required."""
    scopes: list[str]
    """What the key grants at the vendor, `resource:action` (e.g. app:read), or `*` alone on an `internal` key.
    Required."""
    consumers: list[str] = field(default_factory=list)
    """Names of what reads the key's value: keys of VendorSecretsArgs.consumer_role_arns, or `app` (ECS injects
    it with the app's execution role). Default none."""
    internal: bool = False
    """Marks a key for internal tools only: the one kind that may carry the `*` scope. Default false."""
    rotation_days: int = MAX_ROTATION_DAYS
    """Days its value may get old before the age alarm (the vendor's rotation period), 1..90. Default 90."""
    key_prefix: Optional[str] = None
    """The prefix the vendor's keys of this tier start with (e.g. sk_test_), tagged for the operator's shape check;
    none when the vendor uses no prefix. Default none."""
    description: Optional[str] = None
    """What the key is for (at most 200 characters). Default none."""

    def __post_init__(self) -> None:
        _check_vendor_entry("VendorApiKey", self.name, self.vendor, self.rotation_days, self.description)
        if not self.scopes:
            raise ArgsError("VendorApiKey.scopes: at least one scope (what the key grants at the vendor)")
        for scope in self.scopes:
            if scope != WILDCARD_SCOPE and not SCOPE.match(str(scope)):
                raise ArgsError(f"VendorApiKey.scopes: {scope!r} is not a scope: use resource:action (e.g. app:read) "
                                "or '*'")
        if WILDCARD_SCOPE in self.scopes and (len(self.scopes) > 1 or not self.internal):
            raise ArgsError("VendorApiKey.scopes: '*' grants every scope: list it alone, on a key with internal true")
        if len(set(self.scopes)) != len(self.scopes):
            raise ArgsError("VendorApiKey.scopes: a scope is listed twice")
        if len(scope_tag(self.scopes)) > TAG_VALUE_MAX:
            raise ArgsError(f"VendorApiKey.scopes: too many scopes: their tag value would exceed {TAG_VALUE_MAX} "
                            "characters")
        if self.key_prefix is not None and not KEY_PREFIX.match(self.key_prefix):
            raise ArgsError(f"VendorApiKey.key_prefix: {self.key_prefix!r} must be lowercase letters and digits "
                            "ending in '_', e.g. sk_test_")


@dataclass
class VendorWebhook:
    """One webhook signing secret a vendor issues (the vendor signs, the consumers verify); an operator stages it."""

    name: str
    """Webhook name, 1-40 lowercase letters, digits and single '-'; the secret is `.../webhooks/<name>`.
    Required."""
    vendor: str
    """The issuing vendor's slug, 1-40 lowercase letters, digits and single '-' (e.g. barecommerce). Required."""
    consumers: list[str] = field(default_factory=list)
    """Names of what verifies the vendor's webhooks with it: keys of VendorSecretsArgs.consumer_role_arns, or `app`
    (it reads the secret at run time with its task role). Default none."""
    rotation_days: int = MAX_ROTATION_DAYS
    """Days its value may get old before the age alarm, 1..90. Default 90."""
    previous_grace_days: int = DEFAULT_PREVIOUS_GRACE_DAYS
    """Days verifiers keep accepting the previous value after a new one is promoted, 0..30. Default 7."""
    description: Optional[str] = None
    """What the vendor's webhooks announce (at most 200 characters). Default none."""

    def __post_init__(self) -> None:
        _check_vendor_entry("VendorWebhook", self.name, self.vendor, self.rotation_days, self.description)
        if isinstance(self.previous_grace_days, bool) or not isinstance(self.previous_grace_days, int) \
                or not 0 <= self.previous_grace_days <= MAX_PREVIOUS_GRACE_DAYS:
            raise ArgsError(f"VendorWebhook.previous_grace_days: must be 0..{MAX_PREVIOUS_GRACE_DAYS}")


@dataclass
class VendorSecretsArgs:
    """Inputs of VendorSecrets."""

    environment: str
    """Environment name; secrets are named `securestack/<environment>/{api-keys,webhooks}/<name>`. Required."""
    secrets_key_arn: pulumi.Input[str]
    """KMS key ARN the secrets are encrypted with. Required."""
    operator_role_arns: list[pulumi.Input[str]]
    """IAM role ARNs of the operators who stage, promote, retire and revoke the values: the only writers. At least
    one. Required."""
    keys: list[VendorApiKey] = field(default_factory=list)
    """The vendor-issued API keys. Default none."""
    webhooks: list[VendorWebhook] = field(default_factory=list)
    """The vendor-issued webhook signing secrets. Default none."""
    production: bool = True
    """Production: the secrets are protected and retained on delete. Default true."""
    recovery_window_days: int = MAX_RECOVERY_WINDOW_DAYS
    """Days a deleted secret stays recoverable, 7..30. Default 30."""
    consumer_role_arns: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    """Consumer name -> IAM role ARN that reads the value (not `app`: see the two fields below); a consumer without
    a role reads nothing. Default none."""
    app_execution_role_arn: Optional[pulumi.Input[str]] = None
    """The app's execution role: it reads the keys naming `app` (ECS injects them when a task starts), which then
    get a readiness check. Default none (the app reads no key)."""
    app_task_role_arn: Optional[pulumi.Input[str]] = None
    """The app's task role: it reads the webhook secrets naming `app` (its code verifies with them at run time).
    Default none (the app reads no webhook secret)."""
    app_ecs_service: Optional[str] = None
    """`<cluster>/<service>` of the app, tagged `securestack:ecs-service` on what it consumes (what a promote
    redeploys). Default none."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource. Default none."""

    def __post_init__(self) -> None:
        check_environment(self)
        check_tags(self)
        if not MIN_RECOVERY_WINDOW_DAYS <= self.recovery_window_days <= MAX_RECOVERY_WINDOW_DAYS:
            raise ArgsError(f"VendorSecretsArgs.recovery_window_days: must be "
                            f"{MIN_RECOVERY_WINDOW_DAYS}..{MAX_RECOVERY_WINDOW_DAYS}")
        if not self.operator_role_arns:
            raise ArgsError("VendorSecretsArgs.operator_role_arns: at least one operator role: nobody else may "
                            "stage a vendor's value")
        for arn in self.operator_role_arns:
            if isinstance(arn, str) and not ROLE_ARN.match(arn):
                raise ArgsError(f"VendorSecretsArgs.operator_role_arns: {arn!r} is not an IAM role ARN "
                                "(arn:aws:iam::<account>:role/<name>)")
        if APP_CONSUMER in self.consumer_role_arns:
            raise ArgsError(f"VendorSecretsArgs.consumer_role_arns: '{APP_CONSUMER}' reads through "
                            "app_execution_role_arn (keys) and app_task_role_arn (webhooks)")
        for what, names in (("keys", [key.name for key in self.keys]),
                            ("webhooks", [hook.name for hook in self.webhooks])):
            if len(set(names)) != len(names):
                raise ArgsError(f"VendorSecretsArgs.{what}: a name is listed twice")
        if self.app_ecs_service is not None and not ECS_SERVICE.match(self.app_ecs_service):
            raise ArgsError(f"VendorSecretsArgs.app_ecs_service: {self.app_ecs_service!r} is not <cluster>/<service>")


class VendorSecrets(pulumi.ComponentResource):
    """One secret per vendor-issued API key and webhook signing secret: never rotated, written only by the operators,
    read only by its consumers; a readiness check for every key the app injects."""

    arns: pulumi.Output[dict[str, str]]
    """Key name -> ARN of its secret."""
    webhook_arns: pulumi.Output[dict[str, str]]
    """Webhook name -> ARN of its signing secret."""

    def __init__(self, name: str, args: VendorSecretsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = as_args(VendorSecretsArgs, args)
        super().__init__("securestack:index:VendorSecrets", name, None, opts)
        self._name, self._args = name, args
        self.secrets: dict[str, aws.secretsmanager.Secret] = {}
        self.webhook_secrets: dict[str, aws.secretsmanager.Secret] = {}
        self.rotation_days: dict[str, int] = {}
        self.webhook_rotation_days: dict[str, int] = {}
        # key name -> the check that exists once the key has an AWSCURRENT (what the app's service waits for)
        self.readiness: dict[str, SecretReadiness] = {}
        for key in args.keys:
            self.secrets[key.name] = self._key(key)
            self.rotation_days[key.name] = key.rotation_days
        for hook in args.webhooks:
            self.webhook_secrets[hook.name] = self._webhook(hook)
            self.webhook_rotation_days[hook.name] = hook.rotation_days
        self.arns_by_name = {key: secret.arn for key, secret in self.secrets.items()}
        self.webhook_arns_by_name = {hook: secret.arn for hook, secret in self.webhook_secrets.items()}
        # from_input resolves the Outputs inside the dict (pulumi/output.py); its signature cannot say so.
        self.arns = cast("pulumi.Output[dict[str, str]]", pulumi.Output.from_input(self.arns_by_name))
        self.webhook_arns = cast("pulumi.Output[dict[str, str]]", pulumi.Output.from_input(self.webhook_arns_by_name))
        self.register_outputs({"arns": self.arns, "webhook_arns": self.webhook_arns})

    def _tags(self, kind: str, name: str, vendor: str, rotation_days: int, consumers: Sequence[str],
              extra: dict[str, str]) -> dict[str, str]:
        args = self._args
        tags = {**args.tags, "securestack:env": args.environment, "securestack:name": name, "securestack:kind": kind,
                ISSUER_TAG: ISSUER_VENDOR, ROTATION_DAYS_TAG: str(rotation_days), VENDOR_TAG: vendor, **extra}
        if args.app_ecs_service is not None and APP_CONSUMER in consumers:
            tags[ECS_SERVICE_TAG] = args.app_ecs_service
        return tags

    def _readers(self, consumers: Sequence[str], app_reader: Optional[pulumi.Input[str]]) -> list[pulumi.Input[str]]:
        # A consumer without a role here (the app when the stack runs none) simply reads nothing.
        readers = [self._args.consumer_role_arns[c] for c in consumers if c in self._args.consumer_role_arns]
        if APP_CONSUMER in consumers and app_reader is not None:
            readers.append(app_reader)
        return readers

    def _secret(self, kind: str, name: str, description: str, tags: dict[str, str],
                readers: list[pulumi.Input[str]]) -> aws.secretsmanager.Secret:
        args, resource = self._args, f"{self._name}-{name}"
        secret = aws.secretsmanager.Secret(
            resource, name=secret_name(args.environment, kind, name), description=description,
            kms_key_id=args.secrets_key_arn, recovery_window_in_days=args.recovery_window_days, tags=tags,
            opts=stateful_options(self, args.production))
        # The operators write (stage, promote, retire, revoke) but never read: they get the value from the vendor.
        aws.secretsmanager.SecretPolicy(
            f"{resource}-policy", secret_arn=secret.arn, block_public_policy=True,
            policy=secret_resource_policy(secret.arn, readers, list(args.operator_role_arns), writers="Operators",
                                          writers_read=False),
            opts=pulumi.ResourceOptions(parent=self))
        return secret

    def _key(self, key: VendorApiKey) -> aws.secretsmanager.Secret:
        args = self._args
        extra = {SCOPES_TAG: scope_tag(key.scopes)}
        if key.key_prefix is not None:
            extra[KEY_PREFIX_TAG] = key.key_prefix
        secret = self._secret(
            KIND_API_KEY, key.name,
            f"securestack {args.environment} API key '{key.name}' issued by {key.vendor} ({' '.join(key.scopes)})"
            f"{': ' + key.description if key.description else ''}; value staged by an operator only, never rotated",
            self._tags(KIND_API_KEY, key.name, key.vendor, key.rotation_days, key.consumers, extra),
            self._readers(key.consumers, args.app_execution_role_arn))
        if APP_CONSUMER in key.consumers and args.app_execution_role_arn is not None:
            self.readiness[key.name] = SecretReadiness(
                f"{self._name}-{key.name}-ready", SecretReadinessArgs(
                    secret_arn=secret.arn, rotation_lambda_arn=None, rotation_days=key.rotation_days),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[secret]))
        return secret

    def _webhook(self, hook: VendorWebhook) -> aws.secretsmanager.Secret:
        args = self._args
        return self._secret(
            KIND_WEBHOOK, hook.name,
            f"securestack {args.environment} webhook signing secret '{hook.name}' issued by {hook.vendor}"
            f"{': ' + hook.description if hook.description else ''}; value staged by an operator only, never rotated",
            self._tags(KIND_WEBHOOK, hook.name, hook.vendor, hook.rotation_days, hook.consumers,
                       {PREVIOUS_GRACE_DAYS_TAG: str(hook.previous_grace_days)}),
            self._readers(hook.consumers, args.app_task_role_arn))
