"""RDS: encrypted, private, backed up, audited, TLS-only PostgreSQL."""
from __future__ import annotations

from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity

from .support import Report, SecurestackPolicy
from .support import (Controls, StackGraph, get, is_false, is_true, items, label, number, peek, plain,
                      production_stack, resource_policy, shown, stack_policy)
from .network import inline_ingress, ingress_rules
from .types import (INGRESS_RULE, LOG_GROUP, PARAMETER_GROUP, RDS_INSTANCE, SECURITY_GROUP, SECURITY_GROUP_RULE)

MIN_BACKUP_RETENTION_DAYS = 7
PRODUCTION_BACKUP_RETENTION_DAYS = 35  # the most RDS keeps: README "PITR backups (7..35 days, prod 35)"
AWS_MANAGED_RDS_KEY = "alias/aws/rds"
# Names RDS.25 and every scanner guess first.
DEFAULT_ADMIN_NAMES = frozenset({"admin", "administrator", "postgres", "root", "master", "sa", "rdsadmin", "user"})
REQUIRED_LOG_EXPORTS = {"postgres": "postgresql", "mysql": "error", "mariadb": "error"}
TLS_PARAMETER = "rds.force_ssl"
MIN_TLS_PARAMETER = "ssl_min_protocol_version"
ACCEPTED_MIN_TLS = frozenset({"TLSv1.2", "TLSv1.3"})


def customer_managed_key(key: object) -> bool:
    return isinstance(key, str) and bool(key) and not key.endswith(AWS_MANAGED_RDS_KEY)


@resource_policy("rds-storage-encrypted-with-cmk",
                 "RDS storage is encrypted with a customer-managed KMS key",
                 Controls(fsbp=("RDS.3",), checkov=("CKV_AWS_16",)), [RDS_INSTANCE], Severity.CRITICAL)
def rds_storage_encrypted(args: ResourceValidationArgs, report: Report) -> None:
    if not is_true(get(args.props, "storageEncrypted")):
        report("storageEncrypted is not true")
    elif not customer_managed_key(get(args.props, "kmsKeyId")):
        report("kmsKeyId names no customer-managed key (absent or the AWS-managed aws/rds key)")


@resource_policy("rds-backup-retention",
                 f"RDS automated backups (point-in-time recovery) are kept at least {MIN_BACKUP_RETENTION_DAYS} days",
                 Controls(fsbp=("RDS.11",), checkov=("CKV_AWS_133",)), [RDS_INSTANCE])
def rds_backup_retention(args: ResourceValidationArgs, report: Report) -> None:
    days = number(get(args.props, "backupRetentionPeriod"))
    if days is None or days < MIN_BACKUP_RETENTION_DAYS:
        report(f"backupRetentionPeriod is {shown(days)}; it must be >= {MIN_BACKUP_RETENTION_DAYS}")


@resource_policy("rds-backup-retention-35-days-in-production", f"Production RDS instances keep "
                 f"{PRODUCTION_BACKUP_RETENTION_DAYS} days of point-in-time recovery (the maximum)",
                 Controls(sources=("README: Architecture (PITR backups 7..35 days, prod 35)",)), [RDS_INSTANCE])
def rds_production_retention(args: ResourceValidationArgs, report: Report) -> None:
    days = number(get(args.props, "backupRetentionPeriod"))
    if production_stack() and (days is None or days < PRODUCTION_BACKUP_RETENTION_DAYS):
        report(f"backupRetentionPeriod is {shown(days)} in a production stack; it must be "
               f"{PRODUCTION_BACKUP_RETENTION_DAYS}")


@resource_policy("rds-not-public", "RDS instances are not publicly accessible",
                 Controls(fsbp=("RDS.2",), checkov=("CKV_AWS_17",)), [RDS_INSTANCE], Severity.CRITICAL)
def rds_not_public(args: ResourceValidationArgs, report: Report) -> None:
    if is_true(get(args.props, "publiclyAccessible")):
        report("publiclyAccessible is true")


@resource_policy("rds-deletion-protection-in-production",
                 "Production RDS instances have deletion protection",
                 Controls(fsbp=("RDS.8",), checkov=("CKV_AWS_293",)), [RDS_INSTANCE])
def rds_deletion_protection(args: ResourceValidationArgs, report: Report) -> None:
    if production_stack() and not is_true(get(args.props, "deletionProtection")):
        report("deletionProtection is not true in a production stack")


@resource_policy("rds-multi-az-in-production", "Production RDS instances are Multi-AZ",
                 Controls(fsbp=("RDS.5",), checkov=("CKV_AWS_157",)), [RDS_INSTANCE])
def rds_multi_az(args: ResourceValidationArgs, report: Report) -> None:
    if production_stack() and not is_true(get(args.props, "multiAz")):
        report("multiAz is not true in a production stack")


@resource_policy("rds-iam-authentication", "RDS instances accept IAM database authentication",
                 Controls(fsbp=("RDS.10",), checkov=("CKV_AWS_161",)), [RDS_INSTANCE], Severity.MEDIUM)
def rds_iam_authentication(args: ResourceValidationArgs, report: Report) -> None:
    if not is_true(get(args.props, "iamDatabaseAuthenticationEnabled")):
        report("iamDatabaseAuthenticationEnabled is not true")


@resource_policy("rds-log-exports",
                 "RDS instances export their engine log (postgresql for PostgreSQL) to CloudWatch Logs",
                 Controls(fsbp=("RDS.9",), checkov=("CKV_AWS_129",)), [RDS_INSTANCE], Severity.MEDIUM)
def rds_log_exports(args: ResourceValidationArgs, report: Report) -> None:
    engine = str(get(args.props, "engine") or "")
    required = next((log for prefix, log in REQUIRED_LOG_EXPORTS.items() if engine.startswith(prefix)), None)
    exports = [str(e) for e in items(get(args.props, "enabledCloudwatchLogsExports"))]
    if not exports:
        report("enabledCloudwatchLogsExports is empty")
    elif required is not None and required not in exports:
        report(f"enabledCloudwatchLogsExports {exports} lacks '{required}'")


@resource_policy("rds-enhanced-monitoring", "RDS instances have Enhanced Monitoring with a monitoring role",
                 Controls(fsbp=("RDS.6",), checkov=("CKV_AWS_118",)), [RDS_INSTANCE], Severity.LOW)
def rds_enhanced_monitoring(args: ResourceValidationArgs, report: Report) -> None:
    interval = number(get(args.props, "monitoringInterval"))
    if not interval:
        report("monitoringInterval is 0 or absent (Enhanced Monitoring off)")
    elif not get(args.props, "monitoringRoleArn"):
        report("monitoringRoleArn is absent")


@resource_policy("rds-performance-insights-encrypted",
                 "RDS Performance Insights is on and encrypted with a customer-managed KMS key",
                 Controls(checkov=("CKV_AWS_353", "CKV_AWS_354")), [RDS_INSTANCE], Severity.MEDIUM)
def rds_performance_insights(args: ResourceValidationArgs, report: Report) -> None:
    if not is_true(get(args.props, "performanceInsightsEnabled")):
        report("performanceInsightsEnabled is not true")
    elif not customer_managed_key(get(args.props, "performanceInsightsKmsKeyId")):
        report("performanceInsightsKmsKeyId names no customer-managed key (Performance Insights data holds "
               "query text)")


@resource_policy("rds-auto-minor-version-upgrade", "RDS instances take minor engine upgrades automatically",
                 Controls(fsbp=("RDS.13",), checkov=("CKV_AWS_226",)), [RDS_INSTANCE], Severity.MEDIUM)
def rds_minor_upgrades(args: ResourceValidationArgs, report: Report) -> None:
    if is_false(get(args.props, "autoMinorVersionUpgrade")):
        report("autoMinorVersionUpgrade is false")


@resource_policy("rds-copy-tags-to-snapshots", "RDS instances copy their tags to snapshots",
                 Controls(fsbp=("RDS.17",), checkov=("CKV2_AWS_60",)), [RDS_INSTANCE], Severity.LOW)
def rds_copy_tags(args: ResourceValidationArgs, report: Report) -> None:
    if not is_true(get(args.props, "copyTagsToSnapshot")):
        report("copyTagsToSnapshot is not true")


@resource_policy("rds-in-subnet-group", "RDS instances run in a DB subnet group of the stack's VPC",
                 Controls(fsbp=("RDS.18",)), [RDS_INSTANCE])
def rds_subnet_group(args: ResourceValidationArgs, report: Report) -> None:
    if not get(args.props, "dbSubnetGroupName"):
        report("dbSubnetGroupName is absent (the instance would land in the default VPC)")


@resource_policy("rds-non-default-admin-name", "RDS master user names are not a default or guessable name",
                 Controls(fsbp=("RDS.25",)), [RDS_INSTANCE], Severity.MEDIUM)
def rds_admin_name(args: ResourceValidationArgs, report: Report) -> None:
    username = get(args.props, "username")
    if isinstance(username, str) and username.lower() in DEFAULT_ADMIN_NAMES:
        report(f"username '{username}' is a default administrator name")


@resource_policy("rds-master-password-managed",
                 "The RDS master password is generated and rotated by RDS in Secrets Manager under a CMK; no "
                 "password passes through Pulumi",
                 Controls(sources=("design: no secret value passes through Pulumi",)), [RDS_INSTANCE],
                 Severity.CRITICAL)
def rds_master_password(args: ResourceValidationArgs, report: Report) -> None:
    if get(args.props, "password") or get(args.props, "passwordWo"):
        report("a master password is set in the program (it would sit in state)")
    elif get(args.props, "replicateSourceDb") or get(args.props, "snapshotIdentifier"):
        return  # replicas and snapshot restores inherit the source's credentials
    elif not is_true(get(args.props, "manageMasterUserPassword")):
        report("manageMasterUserPassword is not true")
    elif not customer_managed_key(get(args.props, "masterUserSecretKmsKeyId")):
        report("masterUserSecretKmsKeyId names no customer-managed key")


@resource_policy("rds-final-snapshot-in-production",
                 "Deleting a production RDS instance takes a final snapshot",
                 Controls(sources=("design: final snapshot",)), [RDS_INSTANCE])
def rds_final_snapshot(args: ResourceValidationArgs, report: Report) -> None:
    if not production_stack():
        return
    if is_true(get(args.props, "skipFinalSnapshot")):
        report("skipFinalSnapshot is true in a production stack")
    elif not get(args.props, "finalSnapshotIdentifier"):
        report("finalSnapshotIdentifier is absent in a production stack")


def ingress_sources(resource: PolicyResource) -> list[dict[str, Any]]:
    """Each ingress rule a group or rule resource declares, with whether it names a security group as its source."""
    props = resource.props
    if resource.resource_type == SECURITY_GROUP:
        named = [bool(items(get(rule, "securityGroups"))) or is_true(get(rule, "self"))
                 for rule in items(get(props, "ingress"))]
        rules = inline_ingress(props)
    else:
        rules = ingress_rules(resource.resource_type, props)
        named = [bool(get(props, "referencedSecurityGroupId") or get(props, "sourceSecurityGroupId")
                      or is_true(get(props, "self")))] * len(rules)
    prefix_lists = [bool(items(get(rule, "prefixListIds"))) for rule in items(get(props, "ingress"))] \
        if resource.resource_type == SECURITY_GROUP else [bool(get(props, "prefixListId"))
                                                         or bool(items(get(props, "prefixListIds")))] * len(rules)
    return [{**rule, "named": n and not rule["cidrs"] and not p} for rule, n, p in zip(rules, named, prefix_lists)]


@stack_policy("rds-ingress-only-from-security-groups", "RDS instances admit only their port, and only from named "
              "security groups (no CIDR or prefix list, not even the VPC's)",
              Controls(sources=("README: Architecture (5432 only from named security groups)",
                                "design: least privilege")),
              [RDS_INSTANCE, SECURITY_GROUP, SECURITY_GROUP_RULE, INGRESS_RULE], Severity.HIGH)
def rds_ingress_from_groups(graph: StackGraph, report: Report) -> None:
    for instance in graph.of_type(RDS_INSTANCE):
        groups = graph.referenced(instance, "vpcSecurityGroupIds", SECURITY_GROUP)
        if not groups:
            report(f"{label(instance)} has no security group of the stack (the VPC's default group would admit)",
                   instance.urn)
        port = number(peek(instance.props, "port")) or 5432.0
        for group in groups:
            rules = [group] + graph.referrers(group, "securityGroupId", SECURITY_GROUP_RULE, INGRESS_RULE)
            for resource in rules:
                for rule in ingress_sources(resource):
                    if not rule["named"] or rule["from"] != port or rule["to"] != port:
                        report(f"{label(resource)} admits {rule['protocol']} {shown(rule['from'])}-"
                               f"{shown(rule['to'])} from {rule['cidrs'] or 'a prefix list'} into {label(instance)}'s "
                               f"group; only port {shown(port)} from named security groups", resource.urn)


@stack_policy("rds-log-groups-managed", "Every exported RDS log goes to a log group of the stack (encrypted, with "
              "retention), never one RDS creates unencrypted and keeps forever",
              Controls(sources=("README: Architecture (encrypted log exports)",)), [RDS_INSTANCE, LOG_GROUP],
              Severity.MEDIUM)
def rds_log_groups(graph: StackGraph, report: Report) -> None:
    names = {peek(group.props, "name") for group in graph.of_type(LOG_GROUP)}
    for instance in graph.of_type(RDS_INSTANCE):
        identifier = peek(instance.props, "identifier")
        for export in items(peek(instance.props, "enabledCloudwatchLogsExports")):
            if identifier and f"/aws/rds/instance/{identifier}/{export}" not in names:
                report(f"{label(instance)} exports '{export}' to /aws/rds/instance/{identifier}/{export}, a log group "
                       "the stack does not manage", instance.urn)


def parameter_group_of(graph: StackGraph, instance: PolicyResource) -> list[PolicyResource]:
    return graph.referenced(instance, "parameterGroupName", PARAMETER_GROUP)


def parameters_of(group: PolicyResource) -> dict[str, str]:
    return {str(p.get("name")): str(p.get("value")) for p in plain(group.props.get("parameters") or [])
            if hasattr(p, "get")}


def check_instance_parameters(graph: StackGraph, report: Report, check: Any) -> None:
    """Runs `check(parameters) -> problem or None` on the parameter group of every RDS instance."""
    for instance in graph.of_type(RDS_INSTANCE):
        if peek(instance.props, "replicateSourceDb"):
            continue  # a read replica's own group is checked on the replica's source
        groups = parameter_group_of(graph, instance)
        if not groups:
            report(f"{label(instance)} uses no parameter group of this stack (the default group does not "
                   "enforce TLS)", instance.urn)
        for group in groups:
            problem = check(parameters_of(group))
            if problem:
                report(f"{label(instance)}: parameter group '{group.name}' {problem}", group.urn)


@stack_policy("rds-force-ssl", "Every RDS instance's parameter group forces TLS (rds.force_ssl=1)",
              Controls(checkov=("CKV2_AWS_69",), sources=("guides: HTTPS only, TLS 1.2+",)),
              [RDS_INSTANCE, PARAMETER_GROUP], Severity.CRITICAL)
def rds_force_ssl(graph: StackGraph, report: Report) -> None:
    check_instance_parameters(graph, report, lambda parameters: None if parameters.get(TLS_PARAMETER) == "1"
                              else f"sets {TLS_PARAMETER}={parameters.get(TLS_PARAMETER)!r}, not '1'")


@stack_policy("rds-minimum-tls-1-2", "Every RDS instance's parameter group refuses TLS older than 1.2",
              Controls(sources=("guides: HTTPS only, TLS 1.2+",)), [RDS_INSTANCE, PARAMETER_GROUP])
def rds_minimum_tls(graph: StackGraph, report: Report) -> None:
    check_instance_parameters(graph, report, lambda parameters: None
                              if parameters.get(MIN_TLS_PARAMETER) in ACCEPTED_MIN_TLS
                              else f"sets {MIN_TLS_PARAMETER}={parameters.get(MIN_TLS_PARAMETER)!r}, not TLSv1.2+")


POLICIES: list[SecurestackPolicy] = [rds_storage_encrypted, rds_backup_retention, rds_production_retention, rds_not_public, rds_deletion_protection, rds_multi_az,
            rds_iam_authentication, rds_log_exports, rds_enhanced_monitoring, rds_performance_insights,
            rds_minor_upgrades, rds_copy_tags, rds_subnet_group, rds_admin_name, rds_master_password,
            rds_final_snapshot, rds_ingress_from_groups, rds_log_groups, rds_force_ssl, rds_minimum_tls]
