"""Mutation test: each security property of the real dev and prod stacks, flipped on the recorded resources (inputs
and outputs alike, as a component bug would produce them), must be reported by the named policy.

The test prints the mutation score (killed / all) and requires 100%. The recordings are the shipped stacks exactly
as `python -m infra.preview <stack>` records them; each mutation works on a deep copy.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from securestack.infra.recording import RecordedResource, Recording, Secret
from securestack.infra.stack_config import read_stack_config
from securestack.policy.claims import CLAIMS
from securestack.policy.harness import evaluate
from securestack.policy.policies import POLICIES
from tests.policy.edits import (add_statement, drop, each_statement, each_where, edit, edit_json, first_container,
                                keep_statements, keep_where, mutable_copy, put, remove, res, rewrite)
from tests.support.stacks import SHIPPED_STACKS, STACK_FILES, shipped_recording

# Mutants are made of the shipped stacks (what they prove is the pack's strength, not a stack's).
BOTH, PROD = SHIPPED_STACKS, ("prod",)
OTHER_ENVIRONMENT = {"dev": "prod", "prod": "dev"}
FOREIGN_ACCOUNT = "999999999999"


def only_first_subnet(resource: RecordedResource, key: str, subnets: Callable[[dict], list]) -> None:
    """Keeps the first subnet of a placement (value and the engine's property dependency alike)."""
    for props in (resource.inputs, resource.outputs):
        del subnets(props)[1:]
    kept = [u for u in resource.property_dependencies[key] if "ec2/subnet:Subnet" not in u]
    first = next(u for u in resource.property_dependencies[key] if "ec2/subnet:Subnet" in u)
    resource.property_dependencies[key] = kept + [first]


def added_secret_version(recording: Recording) -> None:
    secret = res(recording, "webhooks-order-events")
    recording.resources.append(RecordedResource(
        urn=secret.urn.replace("aws:secretsmanager/secret:Secret::webhooks-order-events",
                               "aws:secretsmanager/secretVersion:SecretVersion::webhooks-order-events-value"),
        type="aws:secretsmanager/secretVersion:SecretVersion", name="webhooks-order-events-value",
        parent=secret.parent, custom=True, options=dict(secret.options), dependencies=[secret.urn],
        inputs={"secretId": secret.outputs["arn"], "secretString": Secret("whsec_0123456789abcdef")},
        outputs={"secretId": secret.outputs["arn"], "secretString": Secret("whsec_0123456789abcdef")},
        property_dependencies={"secretId": [secret.urn]}, provider=secret.provider, id="version-id"))


def other_environment(recording: Recording) -> str:
    return OTHER_ENVIRONMENT[recording.stack]


def admin_key_in_app(recording: Recording) -> None:
    admin = res(recording, "api-keys-admin-full")
    task = res(recording, "app-task")
    edit_json(task, "containerDefinitions", first_container(lambda c: c["secrets"].append(
        {"name": "ADMIN_KEY", "valueFrom": f"{admin.outputs['arn']}:key::"})))
    task.property_dependencies.setdefault("containerDefinitions", []).append(admin.urn)


def key_value_in_app(recording: Recording) -> None:
    key = res(recording, "api-keys-checkout")
    task = res(recording, "app-task")
    edit_json(task, "containerDefinitions", first_container(lambda c: c["secrets"].append(
        {"name": "CHECKOUT_KEY", "valueFrom": f"{key.outputs['arn']}:key::"})))
    task.property_dependencies.setdefault("containerDefinitions", []).append(key.urn)


def task_role_grant(recording: Recording, statement: Callable[[Recording], dict]) -> None:
    edit_json(res(recording, "app-task-role-secrets"), "policy", add_statement(statement(recording)))


def reads_key_value(recording: Recording) -> None:
    task_role_grant(recording, lambda rec: {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                                            "Resource": res(rec, "api-keys-checkout").outputs["arn"]})


def writes_verifier_record(recording: Recording) -> None:
    task_role_grant(recording, lambda rec: {"Effect": "Allow", "Action": "secretsmanager:PutSecretValue",
                                            "Resource": res(rec, "api-keys-checkout-verifier").outputs["arn"]})


def rotator_writes_every_environments_records(recording: Recording) -> None:
    edit_json(res(recording, "api-key-rotator-secrets"), "policy", each_statement(
        lambda s: s.update(Resource=s["Resource"].replace(f"securestack/{recording.stack}/", "securestack/*/"))
        if "api-key-verifiers" in str(s["Resource"]) else None))


def app_admitted_to_write_record(recording: Recording) -> None:
    task_role = res(recording, "app-task").inputs["taskRoleArn"]
    edit_json(res(recording, "api-keys-checkout-verifier-policy"), "policy", each_statement(
        lambda s: s["Condition"]["StringNotEquals"]["aws:PrincipalArn"].append(task_role)
        if s["Sid"] == "DenyValueChangesExceptRotator" else None))


def foreign_key_for_app(recording: Recording) -> None:
    key = res(recording, "keys-secrets").outputs["arn"]
    foreign = key.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    rewrite(res(recording, "app-execution"), "policy", lambda text: text.replace(key, foreign))


def unprotected(name: str) -> Callable[[Recording], None]:
    return on(name, lambda r: r.options.update(protect=False))


def under_key_of(name: str, key: str, key_resource: str) -> Callable[[Recording], None]:
    """Points a resource's key input at another of the stack's keys (value and property dependency alike)."""
    def apply(recording: Recording) -> None:
        target = res(recording, key_resource)
        resource = res(recording, name)
        put(resource, key, target.outputs["arn"])
        resource.property_dependencies[key] = [target.urn]
    return apply


def default_route_in_private_table(recording: Recording) -> None:
    gateway = res(recording, "network-igw")
    table = res(recording, "network-private-rt")
    put(table, "routes", [{"cidrBlock": "0.0.0.0/0", "gatewayId": gateway.outputs["id"]}])
    table.property_dependencies["routes"] = [gateway.urn]


def extra_secret_for_app(recording: Recording) -> None:
    admin = res(recording, "api-keys-admin-full").outputs["arn"]
    edit_json(res(recording, "app-execution"), "policy", each_statement(
        lambda s: s["Resource"].append(admin) if s.get("Sid") == "InjectConsumedSecrets" else None))


def app_role_writes_secret(recording: Recording) -> None:
    app_role = res(recording, "app-execution-role").outputs["arn"]
    edit_json(res(recording, "api-keys-checkout-policy"), "policy", each_statement(
        lambda s: s["Condition"]["StringNotEquals"]["aws:PrincipalArn"].append(app_role)
        if s.get("Sid") == "DenyValueChangesExceptRotator" else None))


def app_role_writes_vendor_key(recording: Recording) -> None:
    app_role = res(recording, "app-execution-role").outputs["arn"]
    edit_json(res(recording, "vendor-secrets-stackbe-policy"), "policy", each_statement(
        lambda s: s["Condition"]["StringNotEquals"]["aws:PrincipalArn"].append(app_role)
        if s.get("Sid") == "DenyValueChangesExceptOperators" else None))


def signing_secret_injected(recording: Recording) -> None:
    hook = res(recording, "webhooks-order-events")
    task = res(recording, "app-task")
    edit_json(task, "containerDefinitions", first_container(lambda c: c["secrets"].append(
        {"name": "ORDER_EVENTS_SECRET", "valueFrom": f"{hook.outputs['arn']}:secret::"})))
    task.property_dependencies.setdefault("containerDefinitions", []).append(hook.urn)


def without_sid(sid: str) -> Callable[[dict], None]:
    return keep_statements(lambda s: s.get("Sid") != sid)


def unconditioned(sid: str) -> Callable[[dict], None]:
    return each_statement(lambda s: s.pop("Condition", None) if s.get("Sid") == sid else None)


def rules_where(condition: Callable[[dict], bool], change: Callable[[dict], Any]) -> Callable[[Recording], None]:
    return on("edge-waf", lambda r: edit(r, "rules", each_where(condition, change)))


def without_readiness_dependencies(recording: Recording) -> None:
    """The app service created without waiting for its secrets' SecretReadiness checks."""
    service = res(recording, "app-service")
    service.dependencies[:] = [u for u in service.dependencies if "SecretReadiness" not in u]
    for prop, urns in service.property_dependencies.items():
        urns[:] = [u for u in urns if "SecretReadiness" not in u]


def anonymous_vpn_rule_counted(recording: Recording) -> None:
    for rule in res(recording, "edge-waf").inputs["rules"]:
        group = rule["statement"].get("managedRuleGroupStatement") or {}
        if group.get("name") == "AWSManagedRulesAnonymousIpList":
            group.setdefault("ruleActionOverrides", []).append({"name": "AnonymousIPList",
                                                                "actionToUse": {"count": {}}})
    res(recording, "edge-waf").outputs["rules"] = res(recording, "edge-waf").inputs["rules"]


# -- the security properties -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mutation:
    property: str  # the security property the stack has and the mutation takes away
    policy: str
    apply: Callable[[Recording], None]
    stacks: tuple = BOTH


def on(name: str, change: Callable[[RecordedResource], None]) -> Callable[[Recording], None]:
    return lambda recording: change(res(recording, name))


def setting(name: str, key: str, value: Any) -> Callable[[Recording], None]:
    return on(name, lambda r: put(r, key, value))


def removing(name: str, key: str) -> Callable[[Recording], None]:
    return on(name, lambda r: remove(r, key))


RDS, PARAMS = "database-instance", "database-params"
OPEN_DB_INGRESS = {"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrBlocks": ["0.0.0.0/0"],
                   "description": "PostgreSQL from anywhere"}

MUTATIONS = [
    # RDS
    Mutation("RDS storage encrypted", "rds-storage-encrypted-with-cmk", setting(RDS, "storageEncrypted", False)),
    Mutation("RDS storage under the data CMK", "rds-storage-encrypted-with-cmk",
             setting(RDS, "kmsKeyId", "alias/aws/rds")),
    Mutation("RDS PITR retention >= 7 days", "rds-backup-retention", setting(RDS, "backupRetentionPeriod", 3)),
    Mutation("RDS private", "rds-not-public", setting(RDS, "publiclyAccessible", True)),
    Mutation("RDS deletion protection (prod)", "rds-deletion-protection-in-production",
             setting(RDS, "deletionProtection", False), PROD),
    Mutation("RDS Multi-AZ (prod)", "rds-multi-az-in-production", setting(RDS, "multiAz", False), PROD),
    Mutation("RDS IAM authentication", "rds-iam-authentication",
             setting(RDS, "iamDatabaseAuthenticationEnabled", False)),
    Mutation("RDS postgresql log export", "rds-log-exports", setting(RDS, "enabledCloudwatchLogsExports", ["upgrade"])),
    Mutation("RDS enhanced monitoring", "rds-enhanced-monitoring", setting(RDS, "monitoringInterval", 0)),
    Mutation("RDS Performance Insights under the CMK", "rds-performance-insights-encrypted",
             removing(RDS, "performanceInsightsKmsKeyId")),
    Mutation("RDS automatic minor upgrades", "rds-auto-minor-version-upgrade",
             setting(RDS, "autoMinorVersionUpgrade", False)),
    Mutation("RDS tags copied to snapshots", "rds-copy-tags-to-snapshots", setting(RDS, "copyTagsToSnapshot", False)),
    Mutation("RDS in the stack's subnet group", "rds-in-subnet-group", removing(RDS, "dbSubnetGroupName")),
    Mutation("RDS non-default admin name", "rds-non-default-admin-name", setting(RDS, "username", "postgres")),
    Mutation("RDS master password managed by RDS", "rds-master-password-managed",
             on(RDS, lambda r: (put(r, "manageMasterUserPassword", False), put(r, "password", Secret("hunter2!"))))),
    Mutation("RDS final snapshot (prod)", "rds-final-snapshot-in-production", setting(RDS, "skipFinalSnapshot", True),
             PROD),
    Mutation("RDS rds.force_ssl=1", "rds-force-ssl", on(PARAMS, lambda r: edit(r, "parameters", each_where(
        lambda p: p["name"] == "rds.force_ssl", lambda p: p.update(value="0"))))),
    Mutation("RDS TLS 1.2 minimum", "rds-minimum-tls-1-2", on(PARAMS, lambda r: edit(r, "parameters", each_where(
        lambda p: p["name"] == "ssl_min_protocol_version", lambda p: p.update(value="TLSv1.1"))))),
    # KMS
    Mutation("data key rotation", "kms-key-rotation", setting("keys-data", "enableKeyRotation", False)),
    Mutation("secrets key policy names principals", "kms-key-policy-no-public-principal",
             on("keys-secrets", lambda r: edit_json(r, "policy", add_statement(
                 {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"})))),
    Mutation("logs key lockout safety check", "kms-lockout-safety-check",
             setting("keys-logs", "bypassPolicyLockoutSafetyCheck", True)),
    Mutation("backup copy key rotation (prod)", "kms-key-rotation",
             setting("backup-copy-key", "enableKeyRotation", False), PROD),
    # log groups, buckets, vaults
    Mutation("flow log group encrypted", "log-group-encrypted", removing("network-flow-logs", "kmsKeyId")),
    Mutation("app log group retention", "log-group-retention", removing("app-logs", "retentionInDays")),
    Mutation("prod logs kept a year", "log-group-retention", setting("audit-log-group", "retentionInDays", 30), PROD),
    Mutation("ALB log bucket private", "s3-public-access-blocked",
             setting("edge-access-logs-public-access-block", "blockPublicPolicy", False)),
    Mutation("trail bucket TLS only", "s3-tls-only", on("audit-bucket-policy", lambda r: edit_json(
        r, "policy", keep_statements(lambda s: "aws:SecureTransport" not in json.dumps(s))))),
    Mutation("ALB log bucket SSE-S3 (what ALB delivers to)", "s3-default-encryption", on(
        "edge-access-logs-encryption", lambda r: edit(r, "rules", lambda rules: rules[0][
            "applyServerSideEncryptionByDefault"].update(sseAlgorithm="aws:kms")))),
    Mutation("trail bucket under a CMK", "s3-default-encryption", on(
        "audit-bucket-encryption", lambda r: edit(r, "rules", lambda rules: rules[0].update(
            applyServerSideEncryptionByDefault={"sseAlgorithm": "AES256"})))),
    Mutation("trail bucket versioned", "s3-versioning", setting("audit-bucket-versioning", "versioningConfiguration",
                                                                {"status": "Suspended"})),
    Mutation("trail bucket logs its requests (CloudTrail.7)", "s3-server-access-logging",
             lambda rec: drop(rec, "audit-bucket-access-logging")),
    Mutation("ALB log bucket logs its requests (S3.9)", "s3-server-access-logging",
             lambda rec: drop(rec, "edge-access-logs-access-logging")),
    Mutation("access-log bucket SSE-S3 (what S3 log delivery writes to)", "s3-default-encryption", on(
        "access-logs-bucket-encryption", lambda r: edit(r, "rules", lambda rules: rules[0][
            "applyServerSideEncryptionByDefault"].update(sseAlgorithm="aws:kms")))),
    Mutation("S3 log delivery bounded to this account", "s3-access-log-delivery-bounded", on(
        "access-logs-bucket-policy", lambda r: edit_json(r, "policy", each_statement(
            lambda s: s.pop("Condition") if s["Effect"] == "Allow" else None)))),
    Mutation("production buckets never force_destroy", "s3-no-force-destroy-in-production",
             setting("audit-bucket", "forceDestroy", True), PROD),
    Mutation("backup vault under the CMK (prod)", "backup-vault-encrypted-with-cmk", removing("backup-vault",
                                                                                            "kmsKeyArn"), PROD),
    # network
    Mutation("default security group closed", "vpc-default-security-group-closed", setting(
        "network-default-sg-closed", "ingress", [{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}])),
    Mutation("VPC flow logs of all traffic", "vpc-flow-logs", setting("network-flow-log", "trafficType", "ACCEPT")),
    Mutation("VPC has a flow log", "vpc-flow-logs", lambda recording: drop(recording, "network-flow-log")),
    Mutation("default security group managed", "vpc-default-security-group-closed",
             lambda recording: drop(recording, "network-default-sg-closed")),
    # the endpoints the stack's own code calls (issue 11 item 3)
    Mutation("ECS endpoint for the rotators' redeploy", "vpc-endpoints-for-private-code",
             lambda recording: drop(recording, "network-ecs-endpoint")),
    Mutation("X-Ray endpoint for the traced rotators", "vpc-endpoints-for-private-code",
             lambda recording: drop(recording, "network-xray-endpoint")),
    Mutation("ECR registry endpoint for the app", "vpc-endpoints-for-private-code",
             lambda recording: drop(recording, "network-ecr-dkr-endpoint")),
    Mutation("S3 gateway for the app's image layers", "vpc-endpoints-for-private-code",
             lambda recording: drop(recording, "network-s3-endpoint")),
    Mutation("endpoints answer the SDKs' default host names", "vpc-endpoints-for-private-code",
             setting("network-secretsmanager-endpoint", "privateDnsEnabled", False)),
    Mutation("CloudWatch endpoint for the secret age function", "vpc-endpoints-for-private-code",
             lambda recording: drop(recording, "network-monitoring-endpoint")),
    Mutation("public subnets assign no public IP", "subnet-no-public-ip-on-launch",
             setting("network-public-0", "mapPublicIpOnLaunch", True)),
    Mutation("database not reachable from the internet", "sg-internet-ingress-web-ports-only",
             setting("database-sg", "ingress", [OPEN_DB_INGRESS])),
    Mutation("only the ALB faces the internet", "sg-internet-ingress-only-to-load-balancers",
             on("network-endpoints-sg", lambda r: edit(r, "ingress", lambda rules: rules[0].update(
                 cidrBlocks=["0.0.0.0/0"])))),
    Mutation("ALB ingress rules described", "sg-descriptions", removing("edge-in-443", "description")),
    # IAM and resource policies
    Mutation("flow log role: no admin", "iam-no-full-admin", on("network-flow-logs-write", lambda r: edit_json(
        r, "policy", each_statement(lambda s: s.update(Action="*"))))),
    Mutation("flow log role: named actions", "iam-no-service-wildcard-actions", on(
        "network-flow-logs-write", lambda r: edit_json(r, "policy", each_statement(lambda s: s.update(
            Action="logs:*"))))),
    Mutation("flow log role: named resources", "iam-wildcard-resource-needs-condition", on(
        "network-flow-logs-write", lambda r: edit_json(r, "policy", each_statement(lambda s: s.update(Resource="*"))))),
    Mutation("rotator: Resource * only with a condition", "iam-wildcard-resource-needs-condition", on(
        "api-key-rotator-runtime", lambda r: edit_json(r, "policy", each_statement(lambda s: s.pop("Condition",
                                                                                                    None))))),
    Mutation("monitoring role trusts only RDS monitoring", "iam-trust-policy-names-principal", on(
        "database-monitoring-role", lambda r: edit_json(r, "assumeRolePolicy", each_statement(lambda s: (
            s.update(Principal={"AWS": "*"}), s.pop("Condition", None)))))),
    Mutation("secret policy grants nobody public reads", "resource-policy-no-public-principal", on(
        "api-keys-checkout-policy", lambda r: edit_json(r, "policy", add_statement(
            {"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"})))),
    Mutation("alarm topic policy grants nobody public publishing", "resource-policy-no-public-principal", on(
        "audit-alarms-policy", lambda r: edit_json(r, "policy", each_statement(lambda s: (
            s.update(Principal="*"), s.pop("Condition", None)))))),
    # accounts
    Mutation("provider pins the account", "aws-provider-pins-accounts", setting("aws", "allowedAccountIds", "[]")),
    Mutation("provider pins only the stack's accounts", "aws-provider-pins-accounts",
             setting("aws", "allowedAccountIds", json.dumps([FOREIGN_ACCOUNT]))),
    Mutation("every resource through the pinned provider", "aws-resources-use-pinned-provider",
             on("keys-data", lambda r: setattr(r, "provider", None))),
    Mutation("no ARN of another account", "arns-within-allowed-accounts", on(
        "network-flow-logs-write", lambda r: edit_json(r, "policy", each_statement(lambda s: s.update(
            Resource=f"arn:aws:logs:us-east-1:{FOREIGN_ACCOUNT}:log-group:x:*"))))),
    Mutation("rotator invocable only from this account", "arns-within-allowed-accounts",
             setting("api-key-rotator-invoke", "sourceAccount", FOREIGN_ACCOUNT)),
    # environments and the *-scoped key
    Mutation("keys tagged with their environment", "secrets-and-keys-tagged-with-environment", lambda rec: edit(
        res(rec, "keys-data"), "tags", lambda tags: tags.update({"securestack:env": other_environment(rec)}))),
    Mutation("secrets tagged with their environment", "secrets-and-keys-tagged-with-environment", lambda rec: edit(
        res(rec, "webhooks-order-events"), "tags", lambda tags: tags.update(
            {"securestack:env": other_environment(rec)}))),
    Mutation("app reads only its environment's secrets", "no-cross-environment-references", lambda rec: rewrite(
        res(rec, "app-task"), "containerDefinitions", lambda text: text.replace(
            f"securestack/{rec.stack}/", f"securestack/{other_environment(rec)}/"))),
    Mutation("aliases name only their environment", "no-cross-environment-references", lambda rec: put(
        res(rec, "keys-data-alias"), "name", f"alias/securestack/{other_environment(rec)}/data")),
    Mutation("app decrypts only with this stack's key", "no-cross-environment-references", foreign_key_for_app),
    Mutation("internet-facing app never gets the *-scoped key", "no-wildcard-key-in-internet-facing-service",
             admin_key_in_app),
    # issue 12: the app verifies keys from digests, the rotator keeps the records
    Mutation("no key value injected into the internet-facing app", "no-key-value-in-internet-facing-service",
             key_value_in_app),
    Mutation("the app's roles never read a key's value", "no-key-value-in-internet-facing-service", reads_key_value),
    Mutation("the task role reads only verifier records and signing secrets",
             "app-task-role-reads-only-verifier-records-and-webhook-secrets", reads_key_value),
    Mutation("every key has its verifier record", "api-key-has-verifier-record",
             lambda rec: drop(rec, "api-keys-checkout-verifier")),
    Mutation("a verifier record is written by its key's rotator only", "api-key-has-verifier-record",
             app_admitted_to_write_record),
    Mutation("a verifier record rotates with its key", "secret-rotation-configured",
             lambda rec: drop(rec, "api-keys-inventory-sync-rotation")),
    Mutation("the app never writes verifier records", "verifier-records-written-only-by-this-environments-key-rotators",
             writes_verifier_record),
    Mutation("the rotator writes its environment's verifier records only",
             "verifier-records-written-only-by-this-environments-key-rotators",
             rotator_writes_every_environments_records),
    # load balancer and WAF
    Mutation("port 80 only redirects", "lb-http-redirects-to-https", on("edge-http-redirect", lambda r: put(
        r, "defaultActions", [{"type": "forward", "targetGroupArn": res_output_arn(r)}]))),
    Mutation("HTTPS listener TLS policy in ELB.17", "lb-https-tls-policy",
             setting("edge-https", "sslPolicy", "ELBSecurityPolicy-2016-08")),
    Mutation("ALB drops invalid headers", "lb-drop-invalid-headers", setting("edge-alb", "dropInvalidHeaderFields",
                                                                             False)),
    Mutation("ALB access logs", "lb-access-logs", on("edge-alb", lambda r: edit(
        r, "accessLogs", lambda logs: logs.update(enabled=False)))),
    Mutation("ALB deletion protection (prod)", "lb-deletion-protection-in-production",
             setting("edge-alb", "enableDeletionProtection", False), PROD),
    Mutation("ALB desync mitigation", "lb-desync-mitigation", setting("edge-alb", "desyncMitigationMode", "monitor")),
    Mutation("ALB in two AZs", "lb-multi-az", on("edge-alb", lambda r: only_first_subnet(r, "subnets",
                                                                                        lambda p: p["subnets"]))),
    Mutation("WAF in front of the ALB", "lb-waf-associated", lambda rec: drop(rec, "edge-waf-association")),
    Mutation("WAF has rules", "waf-has-rules", setting("edge-waf", "rules", [])),
    Mutation("WAF metrics", "waf-metrics-enabled", on("edge-waf", lambda r: edit(
        r, "visibilityConfig", lambda v: v.update(cloudwatchMetricsEnabled=False)))),
    Mutation("WAF rate limit", "waf-rate-based-rule", on("edge-waf", lambda r: rewrite(r, "rules", keep_where(
        lambda rule: "rateBasedStatement" not in rule["statement"])))),
    Mutation("WAF known bad inputs", "waf-known-bad-inputs", on("edge-waf", lambda r: rewrite(r, "rules", keep_where(
        lambda rule: "KnownBadInputs" not in rule["name"])))),
    Mutation("WAF logging", "waf-logging", lambda rec: drop(rec, "edge-waf-logging")),
    Mutation("WAF anonymous IP list", "waf-anonymous-ip-list", on("edge-waf", lambda r: rewrite(r, "rules", keep_where(
        lambda rule: "AnonymousIp" not in rule["name"])))),
    Mutation("WAF hides credentials in sampled requests", "waf-data-protection-credentials", on(
        "edge-waf", lambda r: edit(r, "dataProtectionConfig", lambda c: c["dataProtections"].pop()))),
    # secrets
    Mutation("every secret rotated", "secret-rotation-configured", lambda rec: drop(rec, "api-keys-checkout-rotation")),
    Mutation("a schedule change never rotates at once", "secret-first-rotation-only-immediate",
             setting("api-keys-checkout-rotation", "rotateImmediately", True)),
    Mutation("the first rotation is started and awaited", "secret-first-rotation-only-immediate",
             lambda rec: drop(rec, "webhooks-order-events-ready")),
    Mutation("rotation at most every 90 days", "secret-rotation-within-90-days", on(
        "webhooks-order-events-rotation", lambda r: put(r, "rotationRules", {"automaticallyAfterDays": 365}))),
    Mutation("secrets under the secrets CMK", "secret-encrypted-with-cmk",
             setting("webhooks-order-events", "kmsKeyId", "alias/aws/secretsmanager")),
    Mutation("secrets described", "secret-has-description", setting("api-keys-checkout", "description", "")),
    Mutation("no secret value in Pulumi", "secret-version-no-plaintext", added_secret_version),
    # Lambda
    Mutation("rotator invocable only by Secrets Manager of this account", "lambda-permission-bound-to-source",
             removing("api-key-rotator-invoke", "sourceAccount")),
    Mutation("rotator on a supported runtime", "lambda-supported-runtime",
             setting("webhook-rotator-function", "runtime", "python3.8")),
    Mutation("rotator in two AZs", "lambda-in-vpc-multi-az", on("api-key-rotator-function", lambda r: only_first_subnet(
        r, "vpcConfig", lambda p: p["vpcConfig"]["subnetIds"]))),
    Mutation("rotator in the VPC", "lambda-in-vpc-multi-az", removing("postgres-user-rotator-function", "vpcConfig")),
    Mutation("no secret in rotator environment", "lambda-no-secrets-in-environment", on(
        "api-key-rotator-function", lambda r: edit(r, "environment", lambda e: e["variables"].update(
            ADMIN_API_KEY="sk_live_0123456789abcdef")))),
    Mutation("rotator traced", "lambda-tracing-active", setting("webhook-rotator-function", "tracingConfig",
                                                                {"mode": "PassThrough"})),
    Mutation("a failed redeploy raises an alarm", "lambda-redeploy-failures-alarmed",
             lambda rec: drop(rec, "postgres-user-rotator-redeploy-failures-alarm")),
    # the secret age function and its alarms (issue 15 item 3)
    Mutation("secret ages measured daily", "secret-age-alarmed", setting("secret-age-schedule",
                                                                         "scheduleExpression", "rate(7 days)")),
    Mutation("a compromised secret raises an alarm", "secret-age-alarmed",
             lambda rec: drop(rec, "secret-age-secrets-compromised-alarm")),
    Mutation("a failed secret age run raises an alarm", "secret-age-alarmed",
             lambda rec: drop(rec, "secret-age-secret-age-errors-alarm")),
    Mutation("a secret age function that stopped raises the alarms", "secret-age-alarmed",
             setting("secret-age-secrets-overdue-alarm", "treatMissingData", "notBreaching")),
    Mutation("the secret age function reads no value", "secret-age-alarmed", on(
        "secret-age-check", lambda r: edit_json(r, "policy", add_statement(
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
             "Resource": "arn:aws:secretsmanager:*:*:secret:securestack/*"})))),
    Mutation("rotator never throttled to zero", "lambda-concurrency-not-zero",
             setting("webhook-rotator-function", "reservedConcurrentExecutions", 0)),
    Mutation("rotator logs to its encrypted group", "lambda-log-group-managed", on(
        "api-key-rotator-function", lambda r: (put(r, "loggingConfig", {"logFormat": "Text",
                                                                        "logGroup": "/aws/lambda/unmanaged"}),
                                               r.property_dependencies.pop("loggingConfig")))),
    Mutation("rotator environment under a CMK", "lambda-environment-encrypted-with-cmk",
             removing("postgres-user-rotator-function", "kmsKeyArn")),
    Mutation("rotator runs only signed code", "lambda-code-signing-enforced",
             removing("api-key-rotator-function", "codeSigningConfigArn")),
    Mutation("code signing enforced, not warned", "lambda-code-signing-enforced", on(
        "rotator-code-signing-config", lambda r: edit(r, "policies", lambda p: p.update(
            untrustedArtifactOnDeployment="Warn")))),
    Mutation("rotator deploys the signed archive", "lambda-code-signing-enforced", on(
        "webhook-rotator-function", lambda r: (put(r, "s3Key", "unsigned/webhook_secret_rotation.zip"),
                                               r.property_dependencies.pop("s3Key")))),
    # audit
    Mutation("trail in every region", "cloudtrail-multi-region", setting("audit-trail", "isMultiRegionTrail", False)),
    Mutation("trail under the logs CMK", "cloudtrail-encrypted-with-cmk", removing("audit-trail", "kmsKeyId")),
    Mutation("trail log validation", "cloudtrail-log-file-validation",
             setting("audit-trail", "enableLogFileValidation", False)),
    Mutation("trail into CloudWatch Logs", "cloudtrail-cloudwatch-logs", removing("audit-trail",
                                                                                  "cloudWatchLogsGroupArn")),
    Mutation("alarm topic encrypted", "sns-topic-encrypted-with-cmk", removing("audit-alarms", "kmsMasterKeyId")),
    Mutation("trail notifies its delivery topic", "cloudtrail-sns-notifications",
             removing("audit-trail", "snsTopicName")),
    Mutation("only CloudWatch alarms publish to the alarm topic", "sns-publish-only-by-granted-service", on(
        "audit-alarms-policy", lambda r: edit_json(r, "policy", keep_statements(
            lambda s: not s["Sid"].startswith("DenyPublish"))))),
    Mutation("only the trail publishes to its delivery topic", "sns-publish-only-by-granted-service", on(
        "audit-deliveries-policy", lambda r: edit_json(r, "policy", keep_statements(
            lambda s: s["Sid"] != "DenyPublishNotFromThisTrail")))),
    Mutation("only this trail writes its bucket", "cloudtrail-bucket-written-only-by-trail", on(
        "audit-bucket-policy", lambda r: edit_json(r, "policy", keep_statements(
            lambda s: not s["Sid"].startswith("DenyWrites"))))),
    # ECS
    Mutation("app tasks without public IP", "ecs-no-public-ip", on("app-service", lambda r: edit(
        r, "networkConfiguration", lambda n: n.update(assignPublicIp=True)))),
    Mutation("no secret in app environment", "ecs-no-secrets-in-environment", on("app-task", lambda r: edit_json(
        r, "containerDefinitions", first_container(lambda c: c["environment"].append(
            {"name": "STRIPE_SECRET_KEY", "value": "sk_live_0123456789abcdef"}))))),
    Mutation("app container logs", "ecs-container-logging", on("app-task", lambda r: edit_json(
        r, "containerDefinitions", first_container(lambda c: c.pop("logConfiguration"))))),
    Mutation("app container unprivileged", "ecs-not-privileged", on("app-task", lambda r: edit_json(
        r, "containerDefinitions", first_container(lambda c: c.update(privileged=True))))),
    Mutation("app container read-only root", "ecs-read-only-root-filesystem", on("app-task", lambda r: edit_json(
        r, "containerDefinitions", first_container(lambda c: c.update(readonlyRootFilesystem=False))))),
    Mutation("app task and execution roles differ", "ecs-distinct-execution-and-task-roles", on(
        "app-task", lambda r: put(r, "taskRoleArn", r.inputs["executionRoleArn"]))),
    # README's claims (policy/claims.py) the pack did not enforce before
    Mutation("app starts only after its secrets are ready", "ecs-service-waits-for-its-secrets",
             without_readiness_dependencies),
    Mutation("app deploy waits for a steady state", "ecs-service-waits-for-its-secrets",
             setting("app-service", "waitForSteadyState", False)),
    Mutation("WAF anonymous IP group's VPN/Tor/proxy rule blocks", "waf-managed-rule-groups",
             anonymous_vpn_rule_counted),
    Mutation("S3 server access logs expire", "s3-log-buckets-expire", lambda rec: drop(rec, "access-logs-bucket-lifecycle")),
    Mutation("Lambda environments under the secrets key", "kms-keys-by-purpose",
             under_key_of("api-key-rotator-function", "kmsKeyArn", "keys-logs")),
    Mutation("HSTS for a year on every HTTPS response", "lb-https-security-headers",
             setting("edge-https", "routingHttpResponseStrictTransportSecurityHeaderValue", "max-age=300")),
    Mutation("no Server header", "lb-https-security-headers",
             setting("edge-https", "routingHttpResponseServerEnabled", True)),
    Mutation("port 80 answers 301", "lb-http-redirects-to-https", on("edge-http-redirect", lambda r: edit(
        r, "defaultActions", lambda actions: actions[0]["redirect"].update(statusCode="HTTP_302")))),
    Mutation("HTTPS to the targets (prod)", "lb-https-to-targets-in-production", setting("edge-tg", "protocol", "HTTP"),
             PROD),
    Mutation("strictest desync mitigation", "lb-desync-mitigation-strictest",
             setting("edge-alb", "desyncMitigationMode", "defensive")),
    Mutation("WAF fails closed", "lb-waf-fail-closed", setting("edge-alb", "enableWafFailOpen", True)),
    Mutation("WAF common rule set", "waf-managed-rule-groups", on("edge-waf", lambda r: rewrite(r, "rules", keep_where(
        lambda rule: rule["name"] != "AWSManagedRulesCommonRuleSet")))),
    Mutation("WAF IP reputation blocks", "waf-managed-rule-groups", rules_where(
        lambda rule: rule["name"] == "AWSManagedRulesAmazonIpReputationList",
        lambda rule: rule.update(overrideAction={"count": {}}))),
    Mutation("WAF rate limit first", "waf-rate-limit-blocks-first", rules_where(
        lambda rule: "rateBasedStatement" in rule["statement"], lambda rule: rule.update(priority=10))),
    Mutation("WAF sampled requests", "waf-sampled-requests", on("edge-waf", lambda r: edit(
        r, "visibilityConfig", lambda v: v.update(sampledRequestsEnabled=False)))),
    Mutation("WAF logs redact Cookie", "waf-logging-redacts-credentials", on("edge-waf-logging", lambda r: rewrite(
        r, "redactedFields", keep_where(lambda f: f["singleHeader"]["name"] != "cookie")))),
    Mutation("ALB log bucket ACLs disabled", "s3-acls-disabled",
             setting("edge-access-logs-ownership", "rule", {"objectOwnership": "ObjectWriter"})),
    Mutation("trail bucket ACLs disabled", "s3-acls-disabled", lambda rec: drop(rec, "audit-bucket-ownership")),
    Mutation("ALB logs expire", "s3-log-buckets-expire", lambda rec: drop(rec, "edge-access-logs-lifecycle")),
    Mutation("prod trail logs kept a year", "s3-log-buckets-expire", on("audit-bucket-lifecycle", lambda r: edit(
        r, "rules", lambda rules: rules[0]["expiration"].update(days=90))), PROD),
    Mutation("only this trail writes", "s3-log-buckets-accept-only-their-delivery", on(
        "audit-bucket-policy", lambda r: edit_json(r, "policy", unconditioned("CloudTrailWritesThisAccountsLogs")))),
    Mutation("only the ELB log delivery writes", "s3-log-buckets-accept-only-their-delivery", on(
        "edge-access-logs-policy", lambda r: edit_json(r, "policy", each_statement(
            lambda s: s.update(Resource=s["Resource"].replace("/AWSLogs/", "/")) if s["Effect"] == "Allow" else None)))),
    Mutation("ALB log bucket TLS 1.2+", "s3-alb-log-bucket-tls-1-2", on(
        "edge-access-logs-policy", lambda r: edit_json(r, "policy", without_sid("DenyTlsOlderThan12")))),
    Mutation("prod database protected", "stateful-resources-protected-in-production", unprotected(RDS), PROD),
    Mutation("prod secrets protected", "stateful-resources-protected-in-production",
             unprotected("api-keys-checkout"), PROD),
    Mutation("prod keys protected", "stateful-resources-protected-in-production", unprotected("keys-secrets"), PROD),
    Mutation("prod database in AWS Backup", "backup-cross-region-copy-in-production",
             lambda rec: drop(rec, "backup-selection"), PROD),
    Mutation("prod backups copied to a second region", "backup-cross-region-copy-in-production",
             setting("backup-copy-vault", "region", "us-east-1"), PROD),
    Mutation("trail records read events", "cloudtrail-all-management-events", setting(
        "audit-trail", "eventSelectors", [{"readWriteType": "WriteOnly", "includeManagementEvents": True}])),
    Mutation("CIS CloudWatch.3 alarm", "audit-security-alarms",
             lambda rec: drop(rec, "audit-cis-cloudwatch-3-console-signin-without-mfa-alarm")),
    Mutation("unexpected secret reader alarm", "audit-security-alarms",
             lambda rec: drop(rec, "audit-secrets-unexpected-principal-filter")),
    Mutation("WAF blocked requests alarm", "audit-security-alarms",
             lambda rec: drop(rec, "audit-waf-blocked-requests-spike-alarm")),
    Mutation("alarms notify the topic", "audit-alarms-to-encrypted-topic",
             setting("audit-cis-cloudwatch-1-root-user-usage-alarm", "actionsEnabled", False)),
    Mutation("only this account's alarms publish", "sns-alarm-topic-publish-scoped", on(
        "audit-alarms-policy", lambda r: edit_json(r, "policy", unconditioned("CloudWatchAlarmsOfThisAccountPublish")))),
    Mutation("alarm topic TLS only", "sns-alarm-topic-publish-scoped", on(
        "audit-alarms-policy", lambda r: edit_json(r, "policy", without_sid("DenyInsecureTransport")))),
    Mutation("no default route from private subnets", "private-subnets-no-default-route",
             default_route_in_private_table),
    Mutation("sts endpoint", "vpc-endpoints-for-private-code", lambda rec: drop(rec, "network-sts-endpoint")),
    Mutation("kms endpoint private DNS", "vpc-endpoints-for-private-code",
             setting("network-kms-endpoint", "privateDnsEnabled", False)),
    Mutation("S3 gateway endpoint", "vpc-endpoints-for-private-code", lambda rec: drop(rec, "network-s3-endpoint")),
    Mutation("app has no internet egress", "sg-no-internet-egress", on("app-sg", lambda r: edit(
        r, "egress", lambda rules: rules[0].update(cidrBlocks=["0.0.0.0/0"])))),
    Mutation("load balancer egress only to the app", "sg-no-internet-egress", on("edge-to-app", lambda r: (
        remove(r, "referencedSecurityGroupId"), put(r, "cidrIpv4", "0.0.0.0/0")))),
    Mutation("5432 only from named security groups", "rds-ingress-only-from-security-groups", on(
        "database-from-app", lambda r: (remove(r, "referencedSecurityGroupId"), put(r, "cidrIpv4", "10.0.0.0/8")))),
    Mutation("RDS logs into the stack's encrypted group", "rds-log-groups-managed",
             lambda rec: drop(rec, "database-postgresql-logs")),
    Mutation("prod PITR 35 days", "rds-backup-retention-35-days-in-production",
             setting(RDS, "backupRetentionPeriod", 14), PROD),
    Mutation("keys rotate yearly", "kms-key-rotation", setting("keys-secrets", "rotationPeriodInDays", 730)),
    Mutation("secrets under the secrets key, not the data key", "kms-keys-by-purpose",
             under_key_of("webhooks-order-events", "kmsKeyId", "keys-data")),
    Mutation("logs under the logs key", "kms-keys-by-purpose", under_key_of("app-logs", "kmsKeyId", "keys-secrets")),
    Mutation("secrets named for their environment", "secret-named-for-environment",
             setting("api-keys-checkout", "name", "checkout")),
    Mutation("live keys only in production", "secret-metadata-tags", lambda rec: edit(
        res(rec, "api-keys-checkout"), "tags", lambda tags: tags.update({"securestack:key-prefix": {
            "dev": "sk_live_", "prod": "sk_test_"}[rec.stack]}))),
    Mutation("API keys tagged with their scopes", "secret-metadata-tags", on("api-keys-storefront-read", lambda r: edit(
        r, "tags", lambda tags: tags.pop("securestack:scopes")))),
    # issue 15: StackBE's key, issued by the vendor and staged by an operator
    Mutation("a vendor key's value has an age bound", "vendor-secret-staged-by-operators-only", on(
        "vendor-secrets-stackbe", lambda r: edit(r, "tags", lambda tags: tags.pop("securestack:rotation-days")))),
    Mutation("a vendor key's age bound is at most 90 days", "vendor-secret-staged-by-operators-only", on(
        "vendor-secrets-stackbe", lambda r: edit(r, "tags", lambda tags: tags.update(
            {"securestack:rotation-days": "365"})))),
    Mutation("only the operators write a vendor key", "vendor-secret-staged-by-operators-only",
             app_role_writes_vendor_key),
    Mutation("a vendor key's writes are denied to all but its writers", "vendor-secret-staged-by-operators-only",
             on("vendor-secrets-stackbe-policy", lambda r: edit_json(r, "policy", without_sid(
                 "DenyValueChangesExceptOperators")))),
    Mutation("ECS never injects a key this stack issues", "ecs-injects-only-database-login-and-vendor-keys",
             key_value_in_app),
    Mutation("ECS never injects a webhook signing secret", "ecs-injects-only-database-login-and-vendor-keys",
             signing_secret_injected),
    Mutation("the app starts only once the vendor key has a value", "ecs-service-waits-for-its-secrets",
             lambda rec: drop(rec, "vendor-secrets-stackbe-ready")),
    Mutation("secrets recoverable after deletion", "secret-recovery-window",
             setting("webhooks-order-events", "recoveryWindowInDays", 0)),
    Mutation("prod secrets recoverable 30 days", "secret-recovery-window",
             setting("webhooks-order-events", "recoveryWindowInDays", 7), PROD),
    Mutation("only the rotator writes a secret", "secret-resource-policy-deny-only", app_role_writes_secret),
    Mutation("secret policy TLS only", "secret-resource-policy-deny-only", on(
        "api-keys-checkout-policy", lambda r: edit_json(r, "policy", without_sid("DenyWithoutTls")))),
    Mutation("secret policy blocks public policies", "secret-resource-policy-deny-only",
             setting("webhooks-order-events-policy", "blockPublicPolicy", False)),
    Mutation("rotator rotates only secrets naming it", "lambda-rotator-role-scoped", on(
        "api-key-rotator-secrets", lambda r: edit_json(r, "policy", unconditioned(
            "RotateOnlySecretsThatNameThisFunction")))),
    Mutation("rotator uses the key through Secrets Manager", "lambda-rotator-role-scoped", on(
        "webhook-rotator-secrets", lambda r: edit_json(r, "policy", unconditioned(
            "SecretsKeyThroughSecretsManager")))),
    Mutation("Container Insights", "ecs-container-insights",
             setting("app-cluster", "settings", [{"name": "containerInsights", "value": "disabled"}])),
    Mutation("app container non-root", "ecs-non-root-no-capabilities", on("app-task", lambda r: edit_json(
        r, "containerDefinitions", first_container(lambda c: c.update(user="0"))))),
    Mutation("app container drops all capabilities", "ecs-non-root-no-capabilities", on("app-task", lambda r: edit_json(
        r, "containerDefinitions", first_container(lambda c: c["linuxParameters"].pop("capabilities"))))),
    Mutation("execution role reads exactly the injected secrets", "ecs-execution-role-reads-only-injected-secrets",
             extra_secret_for_app),
    Mutation("app reachable only from the load balancer", "ecs-ingress-only-from-load-balancer", on(
        "app-sg", lambda r: edit(r, "ingress", lambda rules: rules[0].update(cidrBlocks=["10.20.0.0/16"])))),
    Mutation("logs key usable by CloudWatch Logs of this account only", "kms-key-policy-service-grants-bounded", on(
        "keys-logs", lambda r: edit_json(r, "policy", unconditioned("CloudWatchLogsOfThisAccount")))),
    Mutation("flow log role trusts only this account's flow logs", "iam-service-trust-bound-to-account", on(
        "network-flow-logs-role", lambda r: edit_json(r, "assumeRolePolicy", each_statement(
            lambda s: s.pop("Condition", None))))),
    Mutation("task role: nothing attached", "ecs-task-role-grants-only-runtime-secret-reads", setting(
        "app-task-role", "managedPolicyArns", ["arn:aws:iam::aws:policy/ReadOnlyAccess"])),
    Mutation("task role: secret reads only", "ecs-task-role-grants-only-runtime-secret-reads", on(
        "app-task-role-secrets", lambda r: edit_json(r, "policy", add_statement(
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::some-bucket/*"})))),
]


def res_output_arn(resource: RecordedResource) -> str:
    return resource.outputs.get("arn", "arn:aws:elasticloadbalancing:targetgroup")


POLICY_BY_NAME = {policy.name: policy for policy in POLICIES}


@functools.lru_cache(maxsize=None)
def config_of(stack: str):
    return read_stack_config(stack)


def killed(mutation: Mutation, stack: str) -> bool:
    recording = mutable_copy(shipped_recording(stack))
    mutation.apply(recording)
    found = evaluate(recording, config_of(stack), policy_config={}, policies=[POLICY_BY_NAME[mutation.policy]])
    return any(v["enforcementLevel"] == "mandatory" for v in found)


def test_every_mutation_names_a_policy_of_the_pack():
    assert {m.policy for m in MUTATIONS} <= set(POLICY_BY_NAME)
    assert len({(m.property, m.policy) for m in MUTATIONS}) == len(MUTATIONS)


def test_every_claim_is_flipped_by_a_mutation_its_policies_kill():
    """Each README / docstring claim (policy/claims.py) has a mutation of the real stacks that one of its policies
    must report; the score test below requires every mutation to be killed."""
    mutated = {m.policy for m in MUTATIONS}
    unflipped = [f"{c.place}: {c.text}" for c in CLAIMS if not mutated.intersection(c.policies)]
    assert not unflipped, "claims no mutation flips:\n" + "\n".join(unflipped)


@pytest.mark.parametrize("stack", STACK_FILES)
def test_unmutated_stack_passes_every_mutated_policy(stack: str):
    policies = [POLICY_BY_NAME[name] for name in sorted({m.policy for m in MUTATIONS})]
    assert evaluate(shipped_recording(stack), read_stack_config(stack), policy_config={}, policies=policies) == []


def test_mutation_score_is_100_percent():
    results = [(mutation, stack, killed(mutation, stack)) for mutation in MUTATIONS for stack in mutation.stacks]
    survivors = [f"{stack}: {m.property} (expected {m.policy})" for m, stack, dead in results if not dead]
    score = 100.0 * (len(results) - len(survivors)) / len(results)
    print(f"\nmutation score: {len(results) - len(survivors)}/{len(results)} mutants of {len(MUTATIONS)} security "
          f"properties killed ({score:.1f}%), {len({m.policy for m in MUTATIONS})} policies exercised")
    assert len({m.property for m in MUTATIONS}) >= 40
    assert not survivors, "mutations no policy reported:\n" + "\n".join(survivors)
