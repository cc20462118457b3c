"""The part of the stack program that wires secrets, their rotators and the app (called by infra/program.py).

Order without cycles: rotators first (they need only names and the database), then the secrets (their policies
name the rotator's role and the app's execution and task roles, the latter by their deterministic names), then the
app (its task definition and task role reference the secrets' ARNs). The Postgres rotator redeploys the app by name
for the same reason.

Who holds what: a key's callers (`secrets.consumers`) read its value; the app reads only the keys' verifier records
(digests) and the webhook secrets it signs with, at run time with its task role; ECS injects only the database
login (execution role), the one secret whose rotation forces a redeploy.

Vendor-issued entries (issue 15: `issuer: vendor`) get no rotator: VendorSecrets holds them, written only by
`secrets.operators`. ECS injects the vendor keys the app calls its vendors with (execution role, `<arn>:key::` into
their `appVariable`), and the service waits for each to have a value; the app's code reads the vendor webhook
secrets it verifies with its task role (`SECURESTACK_VENDOR_WEBHOOK_SECRETS`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Union, cast

import pulumi

import json

from securestack.components.app import (AppService, AppServiceArgs, RuntimeSecretAccess, SecretVariable,
                                        execution_role_arn, task_role_arn)
from securestack.components.common import concatenated, formatted
from securestack.components.database import EncryptedPostgres
from securestack.components.keys import EnvironmentKeys
from securestack.components.load_balancer import TlsLoadBalancer
from securestack.components.network import Network
from securestack.components.access_logs import AccessLogBucket
from securestack.components.code_signing import RotatorCodeSigning, RotatorCodeSigningArgs
from securestack.components.rotation import (TRACING_MODE, RedeployedService, RotationFunction, RotationFunctionArgs,
                                             RotatorDatabaseAccess, function_name, role_name)
from securestack.components.secrets import (ISSUER_SELF, ISSUER_VENDOR, KIND_API_KEY, KIND_WEBHOOK, ApiKey,
                                            DatabaseUserSecret, DatabaseUserSecretArgs, ScopedApiKeys,
                                            ScopedApiKeysArgs, SecretStoreArgs, Webhook, WebhookSecrets,
                                            WebhookSecretsArgs, secret_name)
from securestack.components.vendor_secrets import VendorApiKey, VendorSecrets, VendorSecretsArgs, VendorWebhook
from securestack.infra.endpoints import PrivateCode
from securestack.infra.settings import StackSettings
from securestack.infra.settings.app import DATABASE_LOGIN_VARIABLES
from securestack.infra.settings.secrets import APP_CONSUMER, key_prefix, vendor_key_prefix

# The app's configuration of what it verifies and signs with (ARNs only; securestack_runtime reads them).
API_KEY_VERIFIERS_VARIABLE = "SECURESTACK_API_KEY_VERIFIERS"  # JSON list of the key secret ARNs it verifies
WEBHOOK_SECRETS_VARIABLE = "SECURESTACK_WEBHOOK_SECRETS"  # JSON object webhook name -> secret ARN it signs with
# JSON object webhook name -> ARN of the vendor-issued secret it verifies that vendor's webhooks with
VENDOR_WEBHOOK_SECRETS_VARIABLE = "SECURESTACK_VENDOR_WEBHOOK_SECRETS"
VENDOR_KEY_JSON_KEY = "key"  # contract 15: a vendor key's value is {"key": ..., "env", "name", "vendor"}
API_KEY_ROTATION, WEBHOOK_ROTATION, POSTGRES_ROTATION = "api_key_rotation", "webhook_secret_rotation", \
    "postgres_user_rotation"


def secrets_manager_endpoint(region: str) -> str:
    return f"https://secretsmanager.{region}.amazonaws.com"


def id_list(ids: pulumi.Output[list[str]]) -> pulumi.Input[list[pulumi.Input[str]]]:
    """Network's subnet IDs as the components' Args take them. The value is the same; only the type checker needs
    telling, since `list` is invariant and Output[list[str]] is therefore no Output[list[Input[str]]]."""
    return cast("pulumi.Input[list[pulumi.Input[str]]]", ids)


@dataclass
class Platform:
    """What the earlier parts of the stack provide."""

    keys: EnvironmentKeys
    network: Network
    database: EncryptedPostgres
    account: pulumi.Input[str]
    partition: pulumi.Input[str]
    # The load balancer: target_group_arn, security_group_id, dns_name, allow_to_targets().
    edge: Optional[TlsLoadBalancer] = None
    # The stack's S3 server access-log destination (AccessLogBucket): the code bucket logs there too.
    access_logs: Optional[AccessLogBucket] = None
    # Where the rotators' code is signed: made by infra/program.py, which signs the secret age function's code
    # there too (one per stack). None: this part makes its own.
    code_signing: Optional[RotatorCodeSigning] = None


def private_code(settings: StackSettings) -> PrivateCode:
    """What `build_secrets_and_app` puts in the private subnets: the Postgres rotator always (more with keys and
    webhooks), every rotator traced, the Postgres one redeploying the app when the app injects the database
    login, and the app's Fargate tasks."""
    return PrivateCode(app=settings.app.enabled, functions_redeploy_app=redeploys_app(settings),
                       traced_functions=TRACING_MODE == "Active")


def redeploys_app(settings: StackSettings) -> bool:
    """Only a value injected at task start needs a redeploy after its rotation: the database login."""
    return settings.app.enabled and settings.app.database_user


def rotator_code_signing(settings: StackSettings, platform: Platform,
                         opts: pulumi.ResourceOptions) -> RotatorCodeSigning:
    """The stack's one code-signing setup (bucket, profile, enforcing configuration) for its Lambda code."""
    return RotatorCodeSigning("rotator-code-signing", RotatorCodeSigningArgs(
        environment=settings.environment, production=settings.is_production,
        encryption_key_arn=platform.keys.secrets_key_arn,
        server_access_logs=platform.access_logs.target("lambda-code/") if platform.access_logs else None,
        tags=settings.base_tags()), opts)


def _rotators(settings: StackSettings, platform: Platform,
              opts: pulumi.ResourceOptions) -> dict[str, RotationFunction]:
    env, app, network, keys = settings.environment, settings.app, platform.network, platform.keys
    code_signing = platform.code_signing or rotator_code_signing(settings, platform, opts)

    def rotator(name: str, kind: str, secret_path: str, database: Optional[RotatorDatabaseAccess] = None,
                redeploy: bool = False) -> RotationFunction:
        return RotationFunction(name, RotationFunctionArgs(
            environment=env, kind=kind, secret_path=secret_path, secrets_key_arn=keys.secrets_key_arn,
            logs_key_arn=keys.logs_key_arn, log_retention_days=settings.logs.retention_days,
            vpc_id=network.vpc_id, vpc_cidr=network.vpc_cidr, private_subnet_ids=id_list(network.private_subnet_ids),
            code_signing=code_signing.target(), reserved_concurrency=settings.secrets.rotator_reserved_concurrency,
            log_level=settings.secrets.rotator_log_level, database=database,
            ecs_service=RedeployedService(app.cluster_name(env), app.service_name(env)) if redeploy else None,
            writes_verifier_records=kind == API_KEY_ROTATION, tags=settings.base_tags()), opts)

    # Vendor-issued entries have no rotator: an operator stages their values (components/vendor_secrets.py).
    rotators = {}
    if settings.api_keys.self_issued():
        rotators[API_KEY_ROTATION] = rotator("api-key-rotator", API_KEY_ROTATION, "api-keys")
    if settings.webhooks.self_issued():
        rotators[WEBHOOK_ROTATION] = rotator("webhook-rotator", WEBHOOK_ROTATION, "webhooks")
    database = platform.database
    rotators[POSTGRES_ROTATION] = rotator("postgres-user-rotator", POSTGRES_ROTATION, "database", RotatorDatabaseAccess(
        security_group_id=database.security_group_id, master_secret_arn=database.master_secret_arn,
        master_secret_key_arn=keys.data_key_arn), redeploy=redeploys_app(settings))
    database.admit("postgres-user-rotator", rotators[POSTGRES_ROTATION].security_group_id)
    return rotators


def _store(settings: StackSettings, platform: Platform, rotator: RotationFunction,
           app_reader: Optional[pulumi.Input[str]] = None, redeploy_app: bool = False) -> SecretStoreArgs:
    """`app_reader`: the app role that reads these secrets' values (None: the app reads none of them)."""
    env, app = settings.environment, settings.app
    readers: dict[str, pulumi.Input[str]] = {
        name: consumer.role_arn for name, consumer in settings.secrets.consumers.items()}
    if app.enabled and app_reader is not None:
        readers[APP_CONSUMER] = app_reader
    return SecretStoreArgs(
        environment=env, production=settings.is_production, secrets_key_arn=platform.keys.secrets_key_arn,
        rotator_arn=rotator.arn, rotator_role_arn=rotator.role_arn, rotator_ready=rotator.ready_arn,
        recovery_window_days=settings.secrets.recovery_window_days, consumer_role_arns=readers,
        app_ecs_service=f"{app.cluster_name(env)}/{app.service_name(env)}" if redeploy_app else None,
        tags=settings.base_tags())


def app_task_role(settings: StackSettings, platform: Platform) -> Optional[pulumi.Output[str]]:
    app = settings.app
    return task_role_arn(settings.environment, app.name, platform.account, platform.partition) \
        if app.enabled else None


@dataclass
class SecretEntries:
    api_keys: Optional[ScopedApiKeys]
    webhooks: Optional[WebhookSecrets]
    database_user: DatabaseUserSecret
    vendor: Optional[VendorSecrets] = None  # the vendor-issued keys and webhooks (None: the stack has none)

    def components(self) -> list[Union[ScopedApiKeys, WebhookSecrets, DatabaseUserSecret]]:
        return [c for c in (self.api_keys, self.webhooks, self.database_user) if c is not None]

    def readiness_of(self, settings: StackSettings) -> list[pulumi.Output[str]]:
        """What exists once every secret the app's tasks inject has a value (as URNs, which carry the
        dependency): the database login and the vendor keys ECS injects. What the app reads at run time (verifier
        records, signing secrets, vendor webhook secrets) it reloads, so its tasks need not wait."""
        ready = [check.urn for check in self.database_user.readiness.values()] if settings.app.database_user else []
        if self.vendor is not None:
            ready += [check.urn for check in self.vendor.readiness.values()]
        return ready

    def vendor_key_arns(self) -> dict[str, pulumi.Output[str]]:
        return dict(self.vendor.arns_by_name) if self.vendor is not None else {}

    def vendor_webhook_arns(self) -> dict[str, pulumi.Output[str]]:
        return dict(self.vendor.webhook_arns_by_name) if self.vendor is not None else {}

    def arns(self) -> tuple[dict[str, pulumi.Output[str]], dict[str, pulumi.Output[str]],
                            dict[str, pulumi.Output[str]]]:
        """(API key ARNs, verifier record ARNs, webhook secret ARNs) by name; empty for a kind the stack has none of."""
        if self.api_keys is None:
            keys, records = {}, {}
        else:
            keys, records = self.api_keys.arns_by_name, self.api_keys.verifier_arns_by_name
        return keys, records, self.webhooks.arns_by_name if self.webhooks is not None else {}

    def verified_keys(self, settings: StackSettings) -> list[str]:
        return settings.app.verified_keys(settings.api_keys) if self.api_keys is not None else []


def _secrets(settings: StackSettings, platform: Platform, rotators: dict[str, RotationFunction],
             opts: pulumi.ResourceOptions) -> SecretEntries:
    app, database = settings.app, platform.database
    task_role = app_task_role(settings, platform)
    api_keys = webhooks = None
    if settings.api_keys.self_issued():
        verifiers: dict[str, list[pulumi.Input[str]]] = \
            {name: [task_role] for name in app.verified_keys(settings.api_keys)} if task_role else {}
        # No app reader: the app never reads a key's value, only its verifier record.
        api_keys = ScopedApiKeys("api-keys", ScopedApiKeysArgs(
            store=_store(settings, platform, rotators[API_KEY_ROTATION]), keys=[ApiKey(
                name=key.name, scopes=list(key.scopes), consumers=list(key.consumers), internal=key.internal,
                rotation_days=key.rotation_days, previous_grace_days=key.previous_grace_days,
                description=key.description) for key in settings.api_keys.self_issued()],
            key_prefix=key_prefix(settings.tier), verifier_reader_arns=verifiers), opts)
    if settings.webhooks.self_issued():
        # The app signs at run time with its task role: nothing injected, so no redeploy after a rotation.
        webhooks = WebhookSecrets("webhooks", WebhookSecretsArgs(
            store=_store(settings, platform, rotators[WEBHOOK_ROTATION], app_reader=task_role),
            webhooks=[Webhook(name=hook.name, consumers=list(hook.consumers), rotation_days=hook.rotation_days,
                              previous_grace_days=hook.previous_grace_days, description=hook.description)
                      for hook in settings.webhooks.self_issued()]), opts)
    execution_role = execution_role_arn(settings.environment, app.name, platform.account, platform.partition) \
        if app.enabled else None
    database_user = DatabaseUserSecret("database-user", DatabaseUserSecretArgs(
        store=_store(settings, platform, rotators[POSTGRES_ROTATION], app_reader=execution_role,
                     redeploy_app=redeploys_app(settings)), username=settings.database.app_username,
        database_name=settings.database.database_name, host=database.address, port=database.port,
        master_secret_arn=database.master_secret_arn,
        consumers=[APP_CONSUMER] if app.enabled and app.database_user else [],
        rotation_days=settings.secrets.database_user_rotation_days), opts)
    return SecretEntries(api_keys, webhooks, database_user, _vendor_secrets(settings, platform, opts))


def app_consumes(settings: StackSettings, entry: Any) -> bool:
    """Whether the stack's app reads this vendor entry (ECS injects a key; its code verifies with a webhook)."""
    return settings.app.enabled and APP_CONSUMER in entry.consumers


def _vendor_secrets(settings: StackSettings, platform: Platform,
                    opts: pulumi.ResourceOptions) -> Optional[VendorSecrets]:
    keys, hooks = settings.api_keys.vendor_issued(), settings.webhooks.vendor_issued()
    if not keys and not hooks:
        return None
    env, app = settings.environment, settings.app
    roles = (execution_role_arn(env, app.name, platform.account, platform.partition),
             task_role_arn(env, app.name, platform.account, platform.partition)) if app.enabled else (None, None)
    return VendorSecrets("vendor-secrets", VendorSecretsArgs(
        environment=env, secrets_key_arn=platform.keys.secrets_key_arn,
        operator_role_arns=list(settings.secrets.operators), production=settings.is_production,
        recovery_window_days=settings.secrets.recovery_window_days,
        consumer_role_arns={name: consumer.role_arn for name, consumer in settings.secrets.consumers.items()},
        app_execution_role_arn=roles[0], app_task_role_arn=roles[1],
        app_ecs_service=f"{app.cluster_name(env)}/{app.service_name(env)}" if app.enabled else None,
        keys=[VendorApiKey(name=key.name, vendor=key.vendor, scopes=list(key.scopes), consumers=list(key.consumers),
                           internal=key.internal, rotation_days=key.rotation_days,
                           key_prefix=vendor_key_prefix(key.vendor, settings.tier), description=key.description)
              for key in keys],
        webhooks=[VendorWebhook(name=hook.name, vendor=hook.vendor, consumers=list(hook.consumers),
                                rotation_days=hook.rotation_days, previous_grace_days=hook.previous_grace_days,
                                description=hook.description) for hook in hooks],
        tags=settings.base_tags()), opts)


def _secret_variables(settings: StackSettings, entries: SecretEntries) -> list[SecretVariable]:
    """What ECS injects when a task starts: the database login and the vendor keys the app calls its vendors with
    (never a key this stack issues, a verifier record or a signing secret)."""
    variables: list[SecretVariable] = []
    if settings.app.database_user:
        # Alternating users: the user name changes with the rotation, so it comes from the secret too.
        username, password = DATABASE_LOGIN_VARIABLES
        variables += [SecretVariable(username, entries.database_user.arn, "username"),
                      SecretVariable(password, entries.database_user.arn, "password")]
    vendor_keys = entries.vendor_key_arns()
    for key in settings.api_keys.vendor_issued():
        if app_consumes(settings, key) and key.app_variable is not None:
            variables.append(SecretVariable(key.app_variable, vendor_keys[key.name], VENDOR_KEY_JSON_KEY))
    return variables


def _app_webhooks(settings: StackSettings) -> tuple[list[str], list[str]]:
    """(the self-issued webhooks the app signs with, the vendor-issued ones it verifies) among `app.webhooks`."""
    vendor = {hook.name for hook in settings.webhooks.vendor_issued()}
    used = settings.app.webhooks
    return [name for name in used if name not in vendor], [name for name in used if name in vendor]


def public_url(settings: StackSettings, platform: Platform) -> Optional[pulumi.Input[str]]:
    if settings.load_balancer.domain_name:
        return f"https://{settings.load_balancer.domain_name}"
    if platform.edge is not None:
        return concatenated("https://", platform.edge.dns_name)
    return None


def _runtime_access(settings: StackSettings, entries: SecretEntries) -> RuntimeSecretAccess:
    verified = entries.verified_keys(settings)
    keys, records, hooks = entries.arns()
    signing, verifying = _app_webhooks(settings)
    vendor_hooks = entries.vendor_webhook_arns()
    return RuntimeSecretAccess(
        verified_key_arns=[keys[name] for name in verified],
        verifier_record_arns=[records[name] for name in verified],
        signing_secret_arns=[hooks[name] for name in signing],
        verified_webhook_arns=[vendor_hooks[name] for name in verifying])


def _runtime_configuration(settings: StackSettings, entries: SecretEntries) -> dict[str, pulumi.Input[str]]:
    """The contract with securestack_runtime: ARNs as JSON, never a value."""
    keys, _, hooks = entries.arns()
    verified = [keys[name] for name in entries.verified_keys(settings)]
    signing_names, verifying_names = _app_webhooks(settings)
    configuration = {API_KEY_VERIFIERS_VARIABLE: pulumi.Output.all(*verified).apply(json.dumps),
                     WEBHOOK_SECRETS_VARIABLE: _json_object({name: hooks[name] for name in signing_names})}
    if verifying_names:  # only when the app verifies a vendor's webhooks
        vendor_hooks = entries.vendor_webhook_arns()
        configuration[VENDOR_WEBHOOK_SECRETS_VARIABLE] = _json_object(
            {name: vendor_hooks[name] for name in verifying_names})
    return configuration


def _json_object(arns: dict[str, pulumi.Output[str]]) -> pulumi.Input[str]:
    """name -> ARN as a JSON object; `{}` when empty (Output.all() of nothing resolves to a list, `[]`, which
    securestack_runtime refuses: it expects an object)."""
    if not arns:
        return "{}"
    return pulumi.Output.all(**arns).apply(lambda resolved: json.dumps(resolved, sort_keys=True))


def _plain_environment(settings: StackSettings, platform: Platform,
                       entries: SecretEntries) -> dict[str, pulumi.Input[str]]:
    app, database = settings.app, platform.database
    variables: dict[str, pulumi.Input[str]] = {
        **app.environment, "APP_ENV": settings.environment, "PORT": str(app.container_port),
        "HEALTH_CHECK_PATH": app.health_check_path, "SESSION_TTL_SECONDS": str(app.session_ttl_seconds),
        "MAGIC_LINK_TTL_SECONDS": str(app.magic_link_ttl_seconds),
        "SECRETS_MANAGER_ENDPOINT": secrets_manager_endpoint(settings.region),
        **_runtime_configuration(settings, entries)}
    if app.database_user:
        variables.update({"DB_HOST": database.address, "DB_PORT": pulumi.Output.from_input(database.port).apply(str),
                          "DB_NAME": settings.database.database_name, "DB_SSLMODE": "verify-full"})
    url = public_url(settings, platform)
    if url is not None:
        variables["PUBLIC_URL"] = url
    return variables


def _app(settings: StackSettings, platform: Platform, edge: TlsLoadBalancer, entries: SecretEntries,
         opts: pulumi.ResourceOptions) -> AppService:
    app, network, keys = settings.app, platform.network, platform.keys
    assert app.image is not None  # the app is enabled: it has an image
    service = AppService("app", AppServiceArgs(
        environment=settings.environment, image=app.image, name=app.name, cpu=app.cpu, memory=app.memory,
        cpu_architecture=app.cpu_architecture, desired_count=app.desired_count, container_port=app.container_port,
        health_check_grace_seconds=app.health_check_grace_seconds, user=app.user,
        vpc_id=network.vpc_id, vpc_cidr=network.vpc_cidr,
        private_subnet_ids=id_list(network.private_subnet_ids), target_group_arn=edge.target_group_arn,
        load_balancer_security_group_id=edge.security_group_id, secrets_key_arn=keys.secrets_key_arn,
        logs_key_arn=keys.logs_key_arn, log_retention_days=settings.logs.retention_days,
        secret_variables=_secret_variables(settings, entries), runtime_secrets=_runtime_access(settings, entries),
        environment_variables=_plain_environment(settings, platform, entries),
        database_security_group_id=platform.database.security_group_id if app.database_user else None,
        # The whole load balancer (its URN stands for all its children) and the injected secrets' readiness.
        start_after=[edge.urn, *entries.readiness_of(settings)], tags=settings.base_tags()), opts)
    edge.allow_to_targets(app.name, service.security_group_id, app.container_port)
    if app.database_user:
        platform.database.admit(app.name, service.security_group_id)
    return service


def _secret_exports(settings: StackSettings, entries: SecretEntries) -> dict[str, dict[str, Any]]:
    env = settings.environment
    exported: dict[str, dict[str, Any]] = {}
    for component in entries.components():
        for name, arn in component.arns_by_name.items():
            exported[secret_name(env, component.kind, name)] = {"arn": arn, "issuer": ISSUER_SELF,
                                                                "rotationDays": component.rotation_days[name]}
    vendor = entries.vendor
    if vendor is not None:  # no rotation: rotationDays is how old the value may get (the age alarm's bound)
        for kind, arns, days in ((KIND_API_KEY, vendor.arns_by_name, vendor.rotation_days),
                                 (KIND_WEBHOOK, vendor.webhook_arns_by_name, vendor.webhook_rotation_days)):
            for name, arn in arns.items():
                exported[secret_name(env, kind, name)] = {"arn": arn, "issuer": ISSUER_VENDOR,
                                                          "rotationDays": days[name]}
    return exported


def _app_config(settings: StackSettings, platform: Platform, entries: SecretEntries) -> dict[str, Any]:
    """Everything an app running elsewhere needs to find its secrets; names and ARNs only, never a value."""
    env, app, database = settings.environment, settings.app, platform.database
    return {
        "environment": env, "region": settings.region,
        "secrets": {"apiKeys": dict(entries.api_keys.arns_by_name) if entries.api_keys else {},
                    "apiKeyVerifiers": dict(entries.api_keys.verifier_arns_by_name) if entries.api_keys else {},
                    "webhooks": dict(entries.webhooks.arns_by_name) if entries.webhooks else {},
                    "vendorApiKeys": entries.vendor_key_arns(), "vendorWebhooks": entries.vendor_webhook_arns(),
                    "databaseUser": entries.database_user.arn},
        "endpoints": {"secretsManager": secrets_manager_endpoint(settings.region),
                      "database": {"host": database.address, "port": database.port,
                                   "name": settings.database.database_name}},
        "urls": {"public": public_url(settings, platform)},
        "session": {"ttlSeconds": app.session_ttl_seconds, "magicLinkTtlSeconds": app.magic_link_ttl_seconds},
        "ecs": {"cluster": app.cluster_name(env), "service": app.service_name(env)} if app.enabled else None,
    }


def app_role_pattern(settings: StackSettings) -> str:
    """Both app roles (`...-execution`, `...-task`) and no other name the stack creates."""
    return f"securestack-{settings.environment}-{settings.app.name}-*"


def secret_principals(settings: StackSettings, platform: Platform,
                      rotators: dict[str, RotationFunction]) -> list[pulumi.Input[str]]:
    """Every principal that reads or writes these secrets by design: rotators, the app, declared consumers, the
    operators of vendor-issued values.

    The rotators' roles as one wildcard (`securestack-<env>-*-rotation-role`): the audit's metric filter pattern
    has room for few names."""
    principals: list[pulumi.Input[str]] = [formatted(
        "arn:{0}:iam::{1}:role/{2}", platform.partition, platform.account,
        role_name(function_name(settings.environment, "*-rotation")))] if rotators else []
    if settings.app.enabled:
        # Its execution role (injects the database login) and task role (reads verifier records and signing
        # secrets) as one wildcard, like the rotators': the pattern's 1024 characters hold few names.
        principals.append(formatted("arn:{0}:iam::{1}:role/{2}", platform.partition, platform.account,
                                               app_role_pattern(settings)))
    principals += [consumer.role_arn for consumer in settings.secrets.consumers.values()]
    # They stage, promote, retire and revoke the vendor-issued values: the only writers of those secrets.
    principals += list(settings.secrets.operators)
    return principals


@dataclass
class SecretsAndApp:
    """What the audit needs from this part, and what this part needs from the audit."""

    principals: list[pulumi.Input[str]]  # expected to touch the secrets
    rotators: dict[str, RotationFunction]

    def alarm_on_redeploy_failures(self, alarm_topic_arn: pulumi.Input[str]) -> list[pulumi.Resource]:
        """Each rotator that redeploys the app alarms on the audit topic when that redeployment fails."""
        alarms = [rotator.alarm_on_redeploy_failures(alarm_topic_arn) for rotator in self.rotators.values()]
        return [alarm for alarm in alarms if alarm is not None]


def build_secrets_and_app(settings: StackSettings, platform: Platform,
                          opts: pulumi.ResourceOptions) -> SecretsAndApp:
    """Creates and exports everything; returns the principals expected to touch the secrets (for the audit)."""
    rotators = _rotators(settings, platform, opts)
    entries = _secrets(settings, platform, rotators, opts)
    if settings.app.enabled:
        if platform.edge is None:
            raise ValueError("securestack:app.image is set but this stack has no load balancer to serve it")
        _app(settings, platform, platform.edge, entries, opts)
    pulumi.export("secrets", _secret_exports(settings, entries))
    pulumi.export("rotationFunctions", {kind: {"arn": rotator.arn, "name": rotator.function_name}
                                        for kind, rotator in rotators.items()})
    pulumi.export("appConfig", _app_config(settings, platform, entries))
    return SecretsAndApp(secret_principals(settings, platform, rotators), rotators)
