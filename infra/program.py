"""The securestack stack program: one environment per stack, built from validated settings."""
from __future__ import annotations

import gc
from dataclasses import replace
from typing import cast

import pulumi
import pulumi_aws as aws

from securestack.components.access_logs import AccessLogBucket, AccessLogBucketArgs
from securestack.components.audit import (AlarmSubscription, AuditTrail, AuditTrailArgs, TrailBucketLifecycle,
                                          logs_key_statements, secret_arn_pattern, secret_name_pattern)
from securestack.components.backup import DatabaseBackupPlan, DatabaseBackupPlanArgs
from securestack.components.code_signing import CodeSigningTarget
from securestack.components.common import provider_identity
from securestack.components.database import (EncryptedPostgres, EncryptedPostgresArgs, LogStatement,
                                             PointInTimeRestore, RESTORE_TIME_FORMAT)
from securestack.components.keys import EnvironmentKeys, EnvironmentKeysArgs, KeyPolicyStatements
from securestack.components.load_balancer import TlsLoadBalancer, TlsLoadBalancerArgs, TlsLoadBalancerCertificate
from securestack.components.network import ExistingVpc, Network, NetworkArgs
from securestack.components.secret_age_alarms import SecretAgeAlarms, SecretAgeAlarmsArgs
from securestack.infra.endpoints import PrivateCode, with_extras
from securestack.infra.settle import arm_declarations, program_collector, settle_after_program
from securestack.infra.secrets_program import (Platform, build_secrets_and_app, id_list, private_code,
                                               rotator_code_signing)
from securestack.infra.settings import StackSettings, load_settings
from securestack.infra.settings.database import DatabaseSettings, RestoreSettings
from securestack.infra.settings.network import NetworkSettings


def aws_provider(settings: StackSettings) -> aws.Provider:
    """The only AWS provider: it refuses any account not listed in aws:allowedAccountIds."""
    return aws.Provider("aws", region=settings.region, allowed_account_ids=list(settings.allowed_account_ids),
                        default_tags={"tags": settings.base_tags()})


def deployment_account(provider: aws.Provider) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
    """(account id, partition) the provider deploys to; key policies need them before any resource exists."""
    account, partition, _ = provider_identity(provider)
    return account, partition


def stack_private_code(settings: StackSettings) -> PrivateCode:
    """What the stack runs in its private subnets: the secrets part's code, and the secret age function, which
    every stack has (the database login is always a secret) and which publishes CloudWatch metrics."""
    return replace(private_code(settings), functions_publish_metrics=True)


def network_args(settings: StackSettings, logs_key_arn: pulumi.Input[str]) -> NetworkArgs:
    """The network settings as Network's Args; its endpoints are derived from what the stack runs (config adds
    services, never removes them: infra/endpoints.py)."""
    network: NetworkSettings = settings.network
    existing = network.existing_vpc
    return NetworkArgs(
        environment=settings.environment, logs_key_arn=logs_key_arn, vpc_cidr=network.vpc_cidr,
        availability_zone_count=network.availability_zone_count,
        existing_vpc=None if existing is None else ExistingVpc(
            vpc_id=existing.vpc_id, cidr_block=existing.cidr_block,
            public_subnet_ids=list(existing.public_subnet_ids), private_subnet_ids=list(existing.private_subnet_ids),
            private_route_table_ids=list(existing.private_route_table_ids)),
        interface_endpoints=list(with_extras(stack_private_code(settings).interface_endpoints(),
                                             network.interface_endpoints)),
        flow_log_retention_days=network.flow_log_retention_days, tags=settings.base_tags())


def point_in_time_restore(restore: RestoreSettings | None) -> PointInTimeRestore | None:
    if restore is None:
        return None
    return PointInTimeRestore(
        source_db_instance_identifier=restore.source_db_instance_identifier,
        source_kms_key_arn=restore.source_kms_key_arn,
        restore_time=None if restore.restore_time is None else restore.restore_time.strftime(RESTORE_TIME_FORMAT),
        use_latest_restorable_time=restore.use_latest_restorable_time)


def database_args(settings: StackSettings, network: Network, keys: EnvironmentKeys) -> EncryptedPostgresArgs:
    """The database settings as EncryptedPostgres's Args (the app user and AWS Backup are other components')."""
    database: DatabaseSettings = settings.database
    return EncryptedPostgresArgs(
        environment=settings.environment, production=settings.is_production, vpc_id=network.vpc_id,
        private_subnet_ids=network.private_subnet_ids, data_key_arn=keys.data_key_arn, logs_key_arn=keys.logs_key_arn,
        engine_version=database.engine_version, instance_class=database.instance_class,
        allocated_storage_gb=database.allocated_storage_gb, max_allocated_storage_gb=database.max_allocated_storage_gb,
        database_name=database.database_name, master_username=database.master_username,
        backup_retention_days=database.backup_retention_days, backup_window=database.backup_window,
        maintenance_window=database.maintenance_window, multi_az=database.multi_az,
        deletion_protection=database.deletion_protection, skip_final_snapshot=database.skip_final_snapshot,
        performance_insights_retention_days=database.performance_insights_retention_days,
        monitoring_interval_seconds=database.monitoring_interval_seconds,
        log_min_duration_statement_ms=database.log_min_duration_statement_ms,
        log_statement=LogStatement(database.log_statement), log_retention_days=settings.logs.retention_days,
        restore=point_in_time_restore(database.restore), tags=settings.base_tags())
def load_balancer_args(settings: StackSettings, network: Network, keys: EnvironmentKeys,
                       access_logs: AccessLogBucket) -> TlsLoadBalancerArgs:
    lb = settings.load_balancer
    return TlsLoadBalancerArgs(
        environment=settings.environment, production=settings.is_production, vpc_id=network.vpc_id,
        public_subnet_ids=id_list(network.public_subnet_ids), logs_key_arn=keys.logs_key_arn,
        certificate=TlsLoadBalancerCertificate(certificate_arn=lb.certificate_arn, domain_name=lb.domain_name,
                                               hosted_zone_id=lb.hosted_zone_id),
        tls_policy=lb.tls_policy, target_protocol=lb.target_protocol, target_port=lb.target_port,
        health_check_path=lb.health_check_path, health_check_matcher=lb.health_check_matcher,
        deregistration_delay_seconds=lb.deregistration_delay_seconds, idle_timeout_seconds=lb.idle_timeout_seconds,
        hsts_max_age_seconds=lb.hsts_max_age_seconds, rate_limit=lb.rate_limit,
        rate_limit_window_seconds=lb.rate_limit_window_seconds,
        access_log_expiration_days=lb.access_log_expiration_days,
        # Unset: the stack-wide log retention.
        waf_log_retention_days=lb.waf_log_retention_days or settings.logs.retention_days,
        deletion_protection=lb.deletion_protection, tags=settings.base_tags(),
        server_access_logs=access_logs.target("alb-logs/"))


def audit_args(settings: StackSettings, keys: EnvironmentKeys, secret_id_patterns: list[pulumi.Input[str]],
               program_principals: list[pulumi.Input[str]], edge: TlsLoadBalancer,
               access_logs: AccessLogBucket) -> AuditTrailArgs:
    audit = settings.audit
    lifecycle = audit.bucket_lifecycle
    return AuditTrailArgs(
        environment=settings.environment, production=settings.is_production, logs_key_arn=keys.logs_key_arn,
        log_retention_days=settings.logs.retention_days,
        organization_trail_log_group_name=audit.organization_trail_log_group_name,
        bucket_lifecycle=TrailBucketLifecycle(
            transition_to_glacier_days=lifecycle.transition_to_glacier_days,
            expiration_days=lifecycle.expiration_days,
            noncurrent_version_expiration_days=lifecycle.noncurrent_version_expiration_days),
        subscriptions=[AlarmSubscription(protocol=s.protocol, endpoint=s.endpoint) for s in audit.subscriptions],
        waf_blocked_requests_threshold=audit.waf_blocked_requests_threshold,
        secret_id_patterns=secret_id_patterns,
        # The program's principals first, then the configured ones: the order of the metric filter pattern.
        expected_secret_principals=[*program_principals, *audit.expected_secret_principals],
        web_acl_metric_name=edge.web_acl_name, tags=settings.base_tags(),
        server_access_logs=access_logs.target("cloudtrail/"))


def secret_age_args(settings: StackSettings, network: Network, keys: EnvironmentKeys,
                    code_signing: CodeSigningTarget, alarm_topic_arn: pulumi.Input[str]) -> SecretAgeAlarmsArgs:
    return SecretAgeAlarmsArgs(
        environment=settings.environment, secrets_key_arn=keys.secrets_key_arn, logs_key_arn=keys.logs_key_arn,
        vpc_id=network.vpc_id, vpc_cidr=network.vpc_cidr, private_subnet_ids=id_list(network.private_subnet_ids),
        code_signing=code_signing, alarm_topic_arn=alarm_topic_arn, log_retention_days=settings.logs.retention_days,
        tags=settings.base_tags())


def build() -> None:
    settings = load_settings()  # raises SettingsError before any resource exists
    previous_thresholds = program_collector()  # put back once the Outputs settled (infra/settle.py)
    # In a preview, the API keys' and webhooks' policies, rotations and readiness are declared in batches once the
    # rest settled, so not every resource's Outputs are pending at once (peak memory, issue 16); never in an update.
    declarations = arm_declarations()
    try:
        declare_stack(settings)
        # Every resource is declared or queued: let the Outputs resolve in linear time before the SDK's quadratic
        # shutdown wait, then make the queued declarations batch by batch (infra/settle.py).
        settle_after_program(previous_thresholds, declarations=declarations)
    except BaseException:
        if declarations is not None:
            declarations.discard()  # the program failed: what it queued goes with it
        if previous_thresholds is not None:
            gc.set_threshold(*previous_thresholds)
        raise


def declare_stack(settings: StackSettings) -> None:
    env, production, tags = settings.environment, settings.is_production, settings.base_tags()
    provider = aws_provider(settings)
    opts = pulumi.ResourceOptions(providers=[provider])
    account, partition = deployment_account(provider)

    # Key-policy statements are JSON text in the Args (any language can pass them).
    logs_statements = logs_key_statements(env, settings.audit.creates_trail, account, partition, settings.region)
    keys = EnvironmentKeys("keys", EnvironmentKeysArgs(
        environment=env, production=production, deletion_window_days=settings.keys.deletion_window_days,
        tags=tags, extra_statements=KeyPolicyStatements(
            logs=[pulumi.Output.json_dumps(statement) for statement in logs_statements])), opts)
    network = Network("network", network_args(settings, keys.logs_key_arn), opts)
    database = EncryptedPostgres("database", database_args(settings, network, keys), opts)
    backup = settings.database.aws_backup
    if backup is not None:
        DatabaseBackupPlan("backup", DatabaseBackupPlanArgs(
            environment=env, production=production, database_arn=database.arn, data_key_arn=keys.data_key_arn,
            copy_region=backup.copy_region, schedule=backup.schedule, retention_days=backup.retention_days,
            copy_retention_days=backup.copy_retention_days,
            key_deletion_window_days=settings.keys.deletion_window_days, tags=tags), opts)
    # One destination for the S3 server access logs of the stack's log buckets (Security Hub S3.9, CloudTrail.7).
    access_logs = AccessLogBucket("access-logs", AccessLogBucketArgs(
        environment=env, production=production, expiration_days=settings.audit.server_access_log_expiration_days,
        tags=tags), opts)
    edge = TlsLoadBalancer("edge", load_balancer_args(settings, network, keys, access_logs), opts)

    platform = Platform(keys=keys, network=network, database=database, account=account, partition=partition,
                        edge=edge, access_logs=access_logs)
    # One code-signing setup for the stack's Lambda code: the rotators' and the secret age function's.
    code_signing = platform.code_signing = rotator_code_signing(settings, platform, opts)
    secrets_and_app = build_secrets_and_app(settings, platform, opts)

    audit = AuditTrail("audit", audit_args(settings, keys, [
        # None only while the ARN is unknown (a preview), as the audit's patterns allow.
        secret_name_pattern(f"securestack/{env}/"),
        cast("pulumi.Output[str]", database.master_secret_arn.apply(secret_arn_pattern))],
        secrets_and_app.principals, edge, access_logs), opts)

    secrets_and_app.alarm_on_redeploy_failures(audit.alarm_topic_arn)
    SecretAgeAlarms("secret-age", secret_age_args(settings, network, keys, code_signing.target(),
                                                   audit.alarm_topic_arn), opts)

    pulumi.export("environment", env)
    pulumi.export("region", settings.region)
    pulumi.export("audit", {"trailArn": audit.trail_arn, "alarmTopicArn": audit.alarm_topic_arn,
                            "logGroupName": audit.log_group_name})
    pulumi.export("vpcId", network.vpc_id)
    pulumi.export("privateSubnetIds", network.private_subnet_ids)
    pulumi.export("keys", {"dataKeyArn": keys.data_key_arn, "secretsKeyArn": keys.secrets_key_arn,
                           "logsKeyArn": keys.logs_key_arn})
    pulumi.export("database", {
        "identifier": database.identifier, "arn": database.arn, "endpoint": database.endpoint,
        "address": database.address, "port": database.port, "name": settings.database.database_name,
        "masterSecretArn": database.master_secret_arn, "securityGroupId": database.security_group_id,
        "backupRetentionDays": settings.database.backup_retention_days,
        "deletionProtection": settings.database.deletion_protection})
    pulumi.export("loadBalancer", {
        "dnsName": edge.dns_name, "zoneId": edge.zone_id, "arn": edge.arn,
        "httpsListenerArn": edge.https_listener_arn, "httpListenerArn": edge.http_listener_arn,
        "targetGroupArn": edge.target_group_arn, "securityGroupId": edge.security_group_id,
        "webAclArn": edge.web_acl_arn, "webAclName": edge.web_acl_name, "tlsPolicy": edge.tls_policy,
        "certificateArn": edge.certificate_arn, "accessLogBucket": edge.access_log_bucket})
