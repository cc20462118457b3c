"""The part of the stack program that wires secrets, their rotators and the app (called by infra/program.py).

Order without cycles: rotators first (they need only names and the database), then the secrets (their policies
name the rotator's role and the app's execution role, the latter by its deterministic name), then the app (its
task definition references the secrets' ARNs). The rotators redeploy the app by name for the same reason.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from components.app import AppService, AppServiceArgs, SecretVariable, execution_role_arn
from components.database import EncryptedPostgres
from components.keys import EnvironmentKeys
from components.network import Network
from components.access_logs import AccessLogBucket
from components.code_signing import RotatorCodeSigning, RotatorCodeSigningArgs
from components.rotation import (TRACING_MODE, RotationFunction, RotationFunctionArgs, RotatorDatabaseAccess,
                                 function_name, role_name)
from components.secrets import (DatabaseUserSecret, DatabaseUserSecretArgs, ScopedApiKeys, ScopedApiKeysArgs,
                                SecretStoreArgs, WebhookSecrets, WebhookSecretsArgs, secret_name)
from infra.endpoints import PrivateCode
from infra.settings import StackSettings
from infra.settings.secrets import APP_CONSUMER, key_prefix

API_KEY_ROTATION, WEBHOOK_ROTATION, POSTGRES_ROTATION = "api_key_rotation", "webhook_secret_rotation", \
    "postgres_user_rotation"


def variable_suffix(name: str) -> str:
    return name.upper().replace("-", "_")


def secrets_manager_endpoint(region: str) -> str:
    return f"https://secretsmanager.{region}.amazonaws.com"


@dataclass
class Platform:
    """What the earlier parts of the stack provide."""

    keys: EnvironmentKeys
    network: Network
    database: EncryptedPostgres
    account: pulumi.Input[str]
    partition: pulumi.Input[str]
    # The load balancer (TlsLoadBalancer): target_group_arn, security_group_id, dns_name, allow_to_targets().
    edge: Optional[pulumi.ComponentResource] = None
    # The stack's S3 server access-log destination (AccessLogBucket): the code bucket logs there too.
    access_logs: Optional[AccessLogBucket] = None


def private_code(settings: StackSettings) -> PrivateCode:
    """What `build_secrets_and_app` puts in the private subnets: the Postgres rotator always (more with keys and
    webhooks), every rotator traced and redeploying the app when there is one, and the app's Fargate tasks."""
    return PrivateCode(app=settings.app.enabled, functions_redeploy_app=settings.app.enabled,
                       traced_functions=TRACING_MODE == "Active")


def _rotators(settings: StackSettings, platform: Platform,
              opts: pulumi.ResourceOptions) -> dict[str, RotationFunction]:
    env, app, network, keys = settings.environment, settings.app, platform.network, platform.keys
    code_signing = RotatorCodeSigning("rotator-code-signing", RotatorCodeSigningArgs(
        environment=env, production=settings.is_production, encryption_key_arn=keys.secrets_key_arn,
        server_access_logs=platform.access_logs.target("lambda-code/") if platform.access_logs else None,
        tags=settings.base_tags()), opts)

    def rotator(name: str, kind: str, secret_path: str, database: Optional[RotatorDatabaseAccess] = None):
        return RotationFunction(name, RotationFunctionArgs(
            environment=env, kind=kind, secret_path=secret_path, secrets_key_arn=keys.secrets_key_arn,
            logs_key_arn=keys.logs_key_arn, log_retention_days=settings.logs.retention_days,
            vpc_id=network.vpc_id, vpc_cidr=network.vpc_cidr, private_subnet_ids=network.private_subnet_ids,
            code_signing=code_signing, reserved_concurrency=settings.secrets.rotator_reserved_concurrency,
            log_level=settings.secrets.rotator_log_level, database=database,
            ecs_service=(app.cluster_name(env), app.service_name(env)) if app.enabled else None,
            tags=settings.base_tags()), opts)

    rotators = {}
    if settings.api_keys.root:
        rotators[API_KEY_ROTATION] = rotator("api-key-rotator", API_KEY_ROTATION, "api-keys")
    if settings.webhooks.root:
        rotators[WEBHOOK_ROTATION] = rotator("webhook-rotator", WEBHOOK_ROTATION, "webhooks")
    database = platform.database
    rotators[POSTGRES_ROTATION] = rotator("postgres-user-rotator", POSTGRES_ROTATION, "database", RotatorDatabaseAccess(
        security_group_id=database.security_group_id, master_secret_arn=database.master_secret_arn,
        master_secret_key_arn=keys.data_key_arn))
    database.admit("postgres-user-rotator", rotators[POSTGRES_ROTATION].security_group_id)
    return rotators


def _store(settings: StackSettings, platform: Platform, rotator: RotationFunction) -> SecretStoreArgs:
    env, app = settings.environment, settings.app
    readers = {name: consumer.role_arn for name, consumer in settings.secrets.consumers.items()}
    if app.enabled:
        readers[APP_CONSUMER] = execution_role_arn(env, app, platform.account, platform.partition)
    return SecretStoreArgs(
        environment=env, production=settings.is_production, secrets_key_arn=platform.keys.secrets_key_arn,
        recovery_window_days=settings.secrets.recovery_window_days, rotator=rotator, consumer_role_arns=readers,
        app_ecs_service=f"{app.cluster_name(env)}/{app.service_name(env)}" if app.enabled else None,
        tags=settings.base_tags())


@dataclass
class SecretEntries:
    api_keys: Optional[ScopedApiKeys]
    webhooks: Optional[WebhookSecrets]
    database_user: DatabaseUserSecret

    def components(self) -> list:
        return [c for c in (self.api_keys, self.webhooks, self.database_user) if c is not None]

    def readiness_of(self, settings: StackSettings) -> list[pulumi.Resource]:
        """What exists once every secret the app's tasks inject has a value."""
        app = settings.app
        ready = [self.api_keys.readiness[name] for name in app.api_keys]
        ready += [self.webhooks.readiness[name] for name in app.webhooks]
        if app.database_user:
            ready += list(self.database_user.readiness.values())
        return ready


def _secrets(settings: StackSettings, platform: Platform, rotators: dict[str, RotationFunction],
             opts: pulumi.ResourceOptions) -> SecretEntries:
    app, database = settings.app, platform.database
    api_keys = webhooks = None
    if settings.api_keys.root:
        api_keys = ScopedApiKeys("api-keys", ScopedApiKeysArgs(
            store=_store(settings, platform, rotators[API_KEY_ROTATION]), keys=settings.api_keys.root,
            key_prefix=key_prefix(settings.tier)), opts)
    if settings.webhooks.root:
        webhooks = WebhookSecrets("webhooks", WebhookSecretsArgs(
            store=_store(settings, platform, rotators[WEBHOOK_ROTATION]), webhooks=settings.webhooks.root), opts)
    database_user = DatabaseUserSecret("database-user", DatabaseUserSecretArgs(
        store=_store(settings, platform, rotators[POSTGRES_ROTATION]), username=settings.database.app_username,
        database_name=settings.database.database_name, host=database.address, port=database.port,
        master_secret_arn=database.master_secret_arn,
        consumers=[APP_CONSUMER] if app.enabled and app.database_user else [],
        rotation_days=settings.secrets.database_user_rotation_days), opts)
    return SecretEntries(api_keys, webhooks, database_user)


def _secret_variables(settings: StackSettings, entries: SecretEntries) -> list[SecretVariable]:
    app = settings.app
    variables = [SecretVariable(f"API_KEY_{variable_suffix(name)}", entries.api_keys.arns[name], "key")
                 for name in app.api_keys]
    variables += [SecretVariable(f"WEBHOOK_SECRET_{variable_suffix(name)}", entries.webhooks.arns[name], "secret")
                  for name in app.webhooks]
    if app.database_user:
        # Alternating users: the user name changes with the rotation, so it comes from the secret too.
        variables += [SecretVariable("DB_USERNAME", entries.database_user.arn, "username"),
                      SecretVariable("DB_PASSWORD", entries.database_user.arn, "password")]
    return variables


def public_url(settings: StackSettings, platform: Platform) -> Optional[pulumi.Input[str]]:
    if settings.load_balancer.domain_name:
        return f"https://{settings.load_balancer.domain_name}"
    if platform.edge is not None:
        return pulumi.Output.concat("https://", platform.edge.dns_name)
    return None


def _plain_environment(settings: StackSettings, platform: Platform) -> dict[str, pulumi.Input[str]]:
    app, database = settings.app, platform.database
    variables: dict[str, pulumi.Input[str]] = {
        **app.environment, "APP_ENV": settings.environment, "PORT": str(app.container_port),
        "HEALTH_CHECK_PATH": app.health_check_path, "SESSION_TTL_SECONDS": str(app.session_ttl_seconds),
        "MAGIC_LINK_TTL_SECONDS": str(app.magic_link_ttl_seconds),
        "SECRETS_MANAGER_ENDPOINT": secrets_manager_endpoint(settings.region)}
    if app.database_user:
        variables.update({"DB_HOST": database.address, "DB_PORT": pulumi.Output.from_input(database.port).apply(str),
                          "DB_NAME": settings.database.database_name, "DB_SSLMODE": "verify-full"})
    url = public_url(settings, platform)
    if url is not None:
        variables["PUBLIC_URL"] = url
    return variables


def _app(settings: StackSettings, platform: Platform, entries: SecretEntries,
         opts: pulumi.ResourceOptions) -> AppService:
    app, edge, network, keys = settings.app, platform.edge, platform.network, platform.keys
    service = AppService("app", AppServiceArgs(
        environment=settings.environment, settings=app, vpc_id=network.vpc_id, vpc_cidr=network.vpc_cidr,
        private_subnet_ids=network.private_subnet_ids, target_group_arn=edge.target_group_arn,
        load_balancer_security_group_id=edge.security_group_id, secrets_key_arn=keys.secrets_key_arn,
        logs_key_arn=keys.logs_key_arn, log_retention_days=settings.logs.retention_days,
        secret_variables=_secret_variables(settings, entries),
        environment_variables=_plain_environment(settings, platform),
        database_security_group_id=platform.database.security_group_id if app.database_user else None,
        start_after=[edge, *entries.readiness_of(settings)], tags=settings.base_tags()), opts)
    edge.allow_to_targets(app.name, service.security_group_id, app.container_port)
    if app.database_user:
        platform.database.admit(app.name, service.security_group_id)
    return service


def _secret_exports(settings: StackSettings, entries: SecretEntries) -> dict:
    env, exported = settings.environment, {}
    for component in entries.components():
        for name, arn in component.arns.items():
            exported[secret_name(env, component.kind, name)] = {"arn": arn,
                                                                "rotationDays": component.rotation_days[name]}
    return exported


def _app_config(settings: StackSettings, platform: Platform, entries: SecretEntries) -> dict:
    """Everything an app running elsewhere needs to find its secrets; names and ARNs only, never a value."""
    env, app, database = settings.environment, settings.app, platform.database
    return {
        "environment": env, "region": settings.region,
        "secrets": {"apiKeys": dict(entries.api_keys.arns) if entries.api_keys else {},
                    "webhooks": dict(entries.webhooks.arns) if entries.webhooks else {},
                    "databaseUser": entries.database_user.arn},
        "endpoints": {"secretsManager": secrets_manager_endpoint(settings.region),
                      "database": {"host": database.address, "port": database.port,
                                   "name": settings.database.database_name}},
        "urls": {"public": public_url(settings, platform)},
        "session": {"ttlSeconds": app.session_ttl_seconds, "magicLinkTtlSeconds": app.magic_link_ttl_seconds},
        "ecs": {"cluster": app.cluster_name(env), "service": app.service_name(env)} if app.enabled else None,
    }


def secret_principals(settings: StackSettings, platform: Platform,
                      rotators: dict[str, RotationFunction]) -> list[pulumi.Input[str]]:
    """Every principal that reads or writes these secrets by design: rotators, the app, declared consumers.

    The rotators' roles as one wildcard (`securestack-<env>-*-rotation-role`): the audit's metric filter pattern
    has room for few names."""
    principals: list[pulumi.Input[str]] = [pulumi.Output.format(
        "arn:{0}:iam::{1}:role/{2}", platform.partition, platform.account,
        role_name(function_name(settings.environment, "*-rotation")))] if rotators else []
    if settings.app.enabled:
        principals.append(execution_role_arn(settings.environment, settings.app, platform.account, platform.partition))
    principals += [consumer.role_arn for consumer in settings.secrets.consumers.values()]
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
        _app(settings, platform, entries, opts)
    pulumi.export("secrets", _secret_exports(settings, entries))
    pulumi.export("rotationFunctions", {kind: {"arn": rotator.arn, "name": rotator.function_name}
                                        for kind, rotator in rotators.items()})
    pulumi.export("appConfig", _app_config(settings, platform, entries))
    return SecretsAndApp(secret_principals(settings, platform, rotators), rotators)
