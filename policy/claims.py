"""README's and the components' security claims, each with the mandatory policies that enforce it.

One `Claim` per promise: its text exactly as the source states it (whitespace aside), where it is stated, and the
names of the policies that fail the pack when the promise breaks. `tests/policy/test_claims.py` holds the table and
README to each other: every policy named exists and is mandatory, every claim names one, every claim's text is
still in its place, and every statement of README's security-claim places (the Architecture table's clauses, the
Edge and Audit prose and alarm table, the secrets section) is either a claim or listed in `NOT_SECURITY_CLAIMS`
with the reason. A README edit that adds or rewords a promise therefore fails until this table follows.

To add a claim: append `Claim(text, source, place, (policy names...))`; `place` is a README section ("Edge",
"Audit", "Audit: alarms", "Scoped API keys and webhook secrets", "Architecture: <part>") or, for a component,
the docstring's owner ("TlsLoadBalancer._https_listener"). Then regenerate CONTROLS.md (`python -m policy.controls`).
"""
from __future__ import annotations

from dataclasses import dataclass

README = "README.md"


@dataclass(frozen=True)
class Claim:
    text: str  # as the source states it
    source: str  # file, relative to the project root
    place: str  # README section, or the component docstring's owner
    policies: tuple[str, ...]  # the mandatory policies that fail when the claim stops holding


@dataclass(frozen=True)
class NotASecurityClaim:
    """A statement in a claim place that promises no security property (how-to, naming, operations)."""

    text: str
    place: str
    why: str


def readme(place: str, text: str, *policies: str) -> Claim:
    return Claim(text, README, place, policies)


def docstring(source: str, place: str, text: str, *policies: str) -> Claim:
    return Claim(text, source, place, policies)


ARCHITECTURE = "Architecture: "
EDGE, AUDIT, ALARMS, SECRETS = "Edge", "Audit", "Audit: alarms", "Scoped API keys and webhook secrets"
ALARM_POLICIES = ("audit-security-alarms", "audit-alarms-to-encrypted-topic")
README_ALARMS = (
    "cis-cloudwatch-1-root-user-usage", "cis-cloudwatch-2-unauthorized-api-calls",
    "cis-cloudwatch-3-console-signin-without-mfa", "cis-cloudwatch-4-iam-policy-changes",
    "cis-cloudwatch-5-cloudtrail-changes", "cis-cloudwatch-6-console-auth-failures",
    "cis-cloudwatch-7-kms-key-disabled-or-deleted", "cis-cloudwatch-8-s3-bucket-policy-changes",
    "cis-cloudwatch-9-aws-config-changes", "cis-cloudwatch-10-security-group-changes",
    "cis-cloudwatch-11-network-acl-changes", "cis-cloudwatch-12-network-gateway-changes",
    "cis-cloudwatch-13-route-table-changes", "cis-cloudwatch-14-vpc-changes", "secrets-access-denied",
    "secrets-unexpected-principal", "secret-rotation-failures", "rds-deletion-protection-off",
    "waf-blocked-requests-spike",
)

CLAIMS: list[Claim] = [
    # -- README, Architecture table: one claim per clause of "what it guarantees" --------------------------------
    readme(ARCHITECTURE + "keys", "a CMK per purpose (data, secrets, logs) used by this environment only",
           "kms-keys-by-purpose", "secrets-and-keys-tagged-with-environment", "no-cross-environment-references"),
    readme(ARCHITECTURE + "keys", "yearly rotation", "kms-key-rotation"),
    readme(ARCHITECTURE + "keys", "policies name principals", "kms-key-policy-no-public-principal",
           "kms-key-policy-service-grants-bounded"),
    readme(ARCHITECTURE + "keys", "lockout safety check on", "kms-lockout-safety-check"),
    readme(ARCHITECTURE + "network",
           "VPC, public subnets (load balancer) and private subnets (everything else) in >= 2 AZs",
           "lb-multi-az", "lambda-in-vpc-multi-az", "private-subnets-no-default-route", "subnet-no-public-ip-on-launch",
           "sg-internet-ingress-only-to-load-balancers"),
    readme(ARCHITECTURE + "network",
           "no NAT: an interface endpoint (private DNS, in the private subnets) for every AWS API the stack's own code "
           "calls, derived from what the stack runs (`infra/endpoints.py`): secretsmanager, kms, logs, sts always, "
           "ecr.api + ecr.dkr with the app, ecs when rotators redeploy it, xray for the traced rotators, monitoring "
           "for the secret age function",
           "private-subnets-no-default-route", "vpc-endpoints-for-private-code", "sg-no-internet-egress"),
    readme(ARCHITECTURE + "network", "config adds, never removes", "vpc-endpoints-for-private-code"),
    readme(ARCHITECTURE + "network", "the S3 gateway on the private route tables", "vpc-endpoints-for-private-code"),
    readme(ARCHITECTURE + "network", "flow logs to an encrypted log group", "vpc-flow-logs", "log-group-encrypted"),
    readme(ARCHITECTURE + "network",
           "default security group without rules. An `existingVpc` gets the same: a flow log on it, its default "
           "security group adopted and emptied, the endpoints in its private subnets, the S3 gateway on "
           "`privateRouteTableIds`", "vpc-default-security-group-closed", "vpc-flow-logs",
           "vpc-endpoints-for-private-code"),
    readme(ARCHITECTURE + "database",
           "RDS PostgreSQL encrypted with the data key (a point-in-time restored copy: its source's key, see below)",
           "rds-storage-encrypted-with-cmk",
           "kms-keys-by-purpose"),
    readme(ARCHITECTURE + "database", "PITR backups (7..35 days, prod 35)", "rds-backup-retention",
           "rds-backup-retention-35-days-in-production"),
    readme(ARCHITECTURE + "database",
           "final snapshot named per instance (`<identifier>-final-<random>`: a second destroy never collides)",
           "rds-final-snapshot-in-production"),
    readme(ARCHITECTURE + "database", "deletion protection + `protect` in prod", "rds-deletion-protection-in-production",
           "stateful-resources-protected-in-production"),
    readme(ARCHITECTURE + "database", "multi-AZ in prod", "rds-multi-az-in-production"),
    readme(ARCHITECTURE + "database", "private", "rds-not-public", "rds-in-subnet-group",
           "private-subnets-no-default-route"),
    readme(ARCHITECTURE + "database", "TLS enforced (`rds.force_ssl=1`, TLS 1.2+)", "rds-force-ssl",
           "rds-minimum-tls-1-2"),
    readme(ARCHITECTURE + "database", "IAM auth", "rds-iam-authentication"),
    readme(ARCHITECTURE + "database", "encrypted log exports", "rds-log-exports", "rds-log-groups-managed",
           "log-group-encrypted"),
    readme(ARCHITECTURE + "database", "enhanced monitoring", "rds-enhanced-monitoring"),
    readme(ARCHITECTURE + "database", "Performance Insights on the CMK", "rds-performance-insights-encrypted"),
    readme(ARCHITECTURE + "database", "master password managed by RDS in Secrets Manager under the CMK",
           "rds-master-password-managed"),
    readme(ARCHITECTURE + "database", "5432 only from named security groups", "rds-ingress-only-from-security-groups"),
    readme(ARCHITECTURE + "backups", "prod: AWS Backup daily (07:00 UTC by default), copied to a second region under that "
           "region's own CMK",
           "backup-cross-region-copy-in-production", "backup-vault-encrypted-with-cmk", "kms-key-rotation"),
    readme(ARCHITECTURE + "edge", "internet-facing ALB in the public subnets", "lb-multi-az",
           "sg-internet-ingress-only-to-load-balancers"),
    readme(ARCHITECTURE + "edge",
           "HTTPS is the only listener that forwards (TLS policy from the Security Hub ELB.17 list, HSTS)",
           "lb-http-redirects-to-https", "lb-https-tls-policy", "lb-https-security-headers"),
    readme(ARCHITECTURE + "edge", "port 80 only answers 301 to HTTPS", "lb-http-redirects-to-https"),
    readme(ARCHITECTURE + "edge", "WAFv2 with rate limit + AWS managed rules (anonymous IPs included), "
           "`Authorization`/`Cookie` hidden in logs and sampled requests", "lb-waf-associated", "waf-has-rules",
           "waf-rate-based-rule", "waf-managed-rule-groups", "waf-anonymous-ip-list", "waf-logging",
           "waf-logging-redacts-credentials", "waf-data-protection-credentials"),
    readme(ARCHITECTURE + "edge", "access logs to a private, TLS-only bucket", "lb-access-logs",
           "s3-public-access-blocked", "s3-tls-only", "s3-alb-log-bucket-tls-1-2"),
    readme(ARCHITECTURE + "scoped keys, webhook secrets",
           "a secret per key / webhook / the app's database login, named "
           "`securestack/<env>/{api-keys,webhooks,database}/<name>`, under the secrets key, recovery window, rotated "
           "every <= 90 days, immediately only the first time (a `SecretReadiness` check starts that rotation and "
           "makes `pulumi up` wait, bounded, until the secret has an `AWSCURRENT` and no stray `AWSPENDING`; changing "
           "a schedule or rotator never rotates at once)",
           "secret-named-for-environment", "secret-encrypted-with-cmk", "kms-keys-by-purpose",
           "secret-recovery-window", "secret-rotation-configured", "secret-rotation-within-90-days",
           "secret-first-rotation-only-immediate"),
    readme(ARCHITECTURE + "scoped keys, webhook secrets",
           "non-secret metadata (env, name, scopes, key prefix `sk_test_`/`sk_live_`, connection details) as tags",
           "secret-metadata-tags", "secrets-and-keys-tagged-with-environment"),
    readme(ARCHITECTURE + "scoped keys, webhook secrets",
           "a deny-only resource policy: reads by its consumers and its rotator only, writes by its rotator only, "
           "TLS only", "secret-resource-policy-deny-only", "resource-policy-no-public-principal"),
    readme(ARCHITECTURE + "scoped keys, webhook secrets",
           "per key a verifier record `securestack/<env>/api-key-verifiers/<name>` (SHA-256 digests, never a value; "
           "under the secrets key, no rotation of its own: the key's rotator writes it), read by the app and that "
           "rotator only, written by that rotator only", "api-key-has-verifier-record", "secret-named-for-environment",
           "secret-resource-policy-deny-only", "verifier-records-written-only-by-this-environments-key-rotators",
           "app-task-role-reads-only-verifier-records-and-webhook-secrets"),
    readme(ARCHITECTURE + "scoped keys, webhook secrets",
           "a vendor-issued key or webhook (`issuer: vendor`) gets the same name, key, recovery window and deny-only "
           "policy but no rotation: only `secrets.operators` write it (never the app or a rotator), only its "
           "consumers read it, and its `securestack:rotation-days` tag (<= 90) bounds its value's age",
           "vendor-secret-staged-by-operators-only", "secret-named-for-environment", "secret-encrypted-with-cmk",
           "secret-recovery-window", "secret-resource-policy-deny-only", "secret-rotation-configured"),
    readme(ARCHITECTURE + "scoped keys, webhook secrets", "Pulumi never holds a value", "secret-version-no-plaintext",
           "rds-master-password-managed"),
    readme(ARCHITECTURE + "rotation", "python3.13", "lambda-supported-runtime"),
    readme(ARCHITECTURE + "rotation",
           "its own role (secrets that name it as their rotator only, the secrets key through Secrets Manager, the "
           "master secret for Postgres, ECS redeploy of the app by the Postgres rotator only; the api-key rotator also "
           "the verifier records of its environment, tagged as such; the key and webhook rotators may remove only the "
           "`securestack:revoke-previous` tag)", "lambda-rotator-role-scoped",
           "verifier-records-written-only-by-this-environments-key-rotators", "iam-no-service-wildcard-actions",
           "iam-wildcard-resource-needs-condition"),
    readme(ARCHITECTURE + "rotation",
           "private subnets, egress to the endpoints (and 5432 to the database, which admits it)",
           "lambda-in-vpc-multi-az", "private-subnets-no-default-route", "sg-no-internet-egress",
           "rds-ingress-only-from-security-groups"),
    readme(ARCHITECTURE + "rotation", "X-Ray, encrypted logs, reserved concurrency only when configured",
           "lambda-tracing-active", "lambda-log-group-managed", "log-group-encrypted", "lambda-concurrency-not-zero"),
    readme(ARCHITECTURE + "rotation", 'signed by AWS Signer and deployed only as signed code (see "Rotator code '
           'signing")', "lambda-code-signing-enforced"),
    readme(ARCHITECTURE + "rotation",
           "environment variables (configuration only, never a secret) encrypted with the secrets key",
           "lambda-environment-encrypted-with-cmk", "kms-keys-by-purpose", "lambda-no-secrets-in-environment"),
    readme(ARCHITECTURE + "rotation", "invoke permission bound to the account", "lambda-permission-bound-to-source",
           "arns-within-allowed-accounts"),
    readme(ARCHITECTURE + "secret ages",
           "a function (`lambdas/secret_age/`) that EventBridge invokes once a day (`rate(1 day)`, its only invoke "
           "permission; the operator CLI's `revoke` and `promote` also start it) publishes "
           "every key's, webhook secret's and database login's age and whether it has a current value "
           "(`Securestack/Secrets`)", "secret-age-alarmed", "lambda-permission-bound-to-source"),
    readme(ARCHITECTURE + "secret ages",
           "alarms on the audit topic (when they fire and when they clear) while a secret is older than its rotation "
           "days, has no current value or is marked compromised, a missing datapoint counting as breaching, and "
           "when a run fails", "secret-age-alarmed", "audit-alarms-to-encrypted-topic"),
    readme(ARCHITECTURE + "secret ages",
           "its role lists and describes this environment's secrets and publishes that namespace only, never "
           "`GetSecretValue`", "secret-age-alarmed", "iam-wildcard-resource-needs-condition",
           "iam-no-service-wildcard-actions"),
    readme(ARCHITECTURE + "secret ages",
           "signed and deployed like the rotators (python3.13, private subnets with egress to the endpoints, "
           "`monitoring` among them, X-Ray, encrypted logs, environment variables under the secrets key)",
           "lambda-code-signing-enforced", "lambda-supported-runtime", "lambda-in-vpc-multi-az",
           "sg-no-internet-egress", "vpc-endpoints-for-private-code", "lambda-tracing-active",
           "lambda-log-group-managed", "log-group-encrypted", "lambda-environment-encrypted-with-cmk"),
    readme(ARCHITECTURE + "app",
           "ECS Fargate (Container Insights) in the private subnets, no public IP, behind the target group",
           "ecs-container-insights", "private-subnets-no-default-route", "ecs-no-public-ip",
           "ecs-ingress-only-from-load-balancer"),
    readme(ARCHITECTURE + "app",
           "only the database login and the vendor keys it calls its vendors with (into their `appVariable`) "
           "injected, by `<secret ARN>:<json key>::`, never a value, never a key it issues or a `*`-scoped key",
           "ecs-no-secrets-in-environment", "no-key-value-in-internet-facing-service",
           "ecs-injects-only-database-login-and-vendor-keys", "no-wildcard-key-in-internet-facing-service"),
    readme(ARCHITECTURE + "app", "read-only root filesystem, non-root, all capabilities dropped",
           "ecs-read-only-root-filesystem", "ecs-not-privileged", "ecs-non-root-no-capabilities"),
    readme(ARCHITECTURE + "app", "execution role reads exactly those secrets",
           "ecs-execution-role-reads-only-injected-secrets"),
    readme(ARCHITECTURE + "app",
           "created only once the secrets it injects have a value, and `pulumi up` waits for a steady state",
           "ecs-service-waits-for-its-secrets", "secret-first-rotation-only-immediate"),
    readme(ARCHITECTURE + "app",
           "a separate task role reads exactly the verifier records of the keys it verifies and the webhook secrets "
           "it signs with (`DescribeSecret` on those keys, never their value), their ARNs given as "
           "`SECURESTACK_API_KEY_VERIFIERS` / `SECURESTACK_WEBHOOK_SECRETS`", "ecs-distinct-execution-and-task-roles",
           "ecs-task-role-grants-only-runtime-secret-reads",
           "app-task-role-reads-only-verifier-records-and-webhook-secrets", "no-key-value-in-internet-facing-service",
           "ecs-no-secrets-in-environment"),
    readme(ARCHITECTURE + "app",
           "the vendor webhook secrets it verifies a vendor's webhooks with are read the same way (also "
           "`ListSecretVersionIds`), their ARNs in `SECURESTACK_VENDOR_WEBHOOK_SECRETS`",
           "ecs-task-role-grants-only-runtime-secret-reads",
           "app-task-role-reads-only-verifier-records-and-webhook-secrets"),
    readme(ARCHITECTURE + "audit",
           "multi-region CloudTrail (global events, log file validation, KMS logs key, delivery notifications to its "
           "own encrypted topic) into a private, versioned, TLS-only bucket only this trail can write and an "
           "encrypted log group", "cloudtrail-multi-region", "cloudtrail-log-file-validation",
           "cloudtrail-encrypted-with-cmk", "cloudtrail-sns-notifications", "sns-topic-encrypted-with-cmk",
           "sns-publish-only-by-granted-service", "s3-public-access-blocked", "s3-versioning", "s3-tls-only",
           "cloudtrail-bucket-written-only-by-trail", "cloudtrail-cloudwatch-logs", "log-group-encrypted"),
    readme(ARCHITECTURE + "audit", "the 14 CIS / Security Hub CloudWatch.1-14 metric filters and alarms plus the "
           "project's own", "audit-security-alarms"),
    readme(ARCHITECTURE + "audit",
           "every alarm to one KMS-encrypted SNS topic only this account's CloudWatch alarms can publish to",
           "audit-alarms-to-encrypted-topic", "sns-topic-encrypted-with-cmk", "sns-alarm-topic-publish-scoped",
           "sns-publish-only-by-granted-service"),
    readme(ARCHITECTURE + "access logs",
           "one bucket per stack receiving the S3 server access logs of the trail and ALB log buckets (Security Hub "
           "CloudTrail.7, S3.9): SSE-S3, private, versioned, expiring, writable only by S3 log delivery for this "
           "environment's buckets and account", "s3-server-access-logging", "s3-default-encryption",
           "s3-public-access-blocked", "s3-acls-disabled", "s3-versioning", "s3-log-buckets-expire",
           "s3-access-log-delivery-bounded"),

    # -- README, "Edge" -----------------------------------------------------------------------------------------
    readme(EDGE, "Clients reach the API only through `TlsLoadBalancer`.", "sg-internet-ingress-only-to-load-balancers",
           "ecs-no-public-ip", "ecs-ingress-only-from-load-balancer", "rds-not-public"),
    readme(EDGE, "always names its TLS policy, one of the six Security Hub ELB.17 accepts", "lb-https-tls-policy"),
    readme(EDGE, "adds `Strict-Transport-Security: max-age=31536000; includeSubDomains` (and `nosniff`, no `Server` "
           "header) to every response", "lb-https-security-headers"),
    readme(EDGE, "HTTPS to the targets, required in production", "lb-https-to-targets-in-production"),
    readme(EDGE, "Port 80 has a single action: `301` to `https://…:443`.", "lb-http-redirects-to-https"),
    readme(EDGE, "The ALB drops invalid headers", "lb-drop-invalid-headers"),
    readme(EDGE, "uses the `strictest` desync mitigation", "lb-desync-mitigation", "lb-desync-mitigation-strictest"),
    readme(EDGE, "refuses requests when WAF cannot answer", "lb-waf-fail-closed"),
    readme(EDGE, "has deletion protection in production", "lb-deletion-protection-in-production"),
    readme(EDGE, "Its security group admits 443 and 80 from anywhere", "sg-internet-ingress-web-ports-only"),
    readme(EDGE, "has no egress until the app calls `allow_to_targets(name, security_group_id, port)`",
           "sg-no-internet-egress"),
    readme(EDGE, "A regional WAFv2 web ACL is associated with the ALB", "lb-waf-associated"),
    readme(EDGE, "a per-IP rate limit (`rateLimit` requests per `rateLimitWindowSeconds`) blocks first",
           "waf-rate-based-rule", "waf-rate-limit-blocks-first"),
    readme(EDGE, "then the AWS IP reputation, anonymous IP, common and known-bad-inputs rule groups",
           "waf-known-bad-inputs", "waf-managed-rule-groups", "waf-anonymous-ip-list"),
    readme(EDGE, "its VPN/Tor/proxy rule blocks", "waf-managed-rule-groups"),
    readme(EDGE, "Every rule has CloudWatch metrics and sampled requests", "waf-metrics-enabled",
           "waf-sampled-requests"),
    readme(EDGE, "The web ACL's data protection replaces the `Authorization` (API keys) and `Cookie` headers with "
           "`REDACTED` in every output, sampled requests included", "waf-data-protection-credentials"),
    readme(EDGE, "WAF logs go to `aws-waf-logs-securestack-<env>`, encrypted with the logs key", "waf-logging",
           "log-group-encrypted", "kms-keys-by-purpose"),
    readme(EDGE, "with both headers also redacted there", "waf-logging-redacts-credentials"),
    readme(EDGE, "Access logs go to `securestack-<env>-alb-logs-<random>`", "lb-access-logs"),
    readme(EDGE, "SSE-S3 (the only encryption ALB log delivery accepts)", "s3-default-encryption"),
    readme(EDGE, "public access blocked, ACLs disabled (bucket owner enforced), versioned",
           "s3-public-access-blocked", "s3-acls-disabled", "s3-versioning"),
    readme(EDGE, "expiring after `accessLogExpirationDays` (prod >= 365)", "s3-log-buckets-expire"),
    readme(EDGE, "a policy that lets only the region's ELB log delivery write under `AWSLogs/<account>/`",
           "s3-log-buckets-accept-only-their-delivery"),
    readme(EDGE, "denies any request without TLS 1.2+", "s3-tls-only", "s3-alb-log-bucket-tls-1-2"),
    readme(EDGE, "its own requests are logged (S3 server access logging) to the stack's access-log bucket",
           "s3-server-access-logging"),
    readme(EDGE, "Outside production the bucket is `force_destroy` (a versioned bucket holding logs otherwise fails "
           "`pulumi destroy`); in production never, and it is protected and retained.",
           "s3-no-force-destroy-in-production", "stateful-resources-protected-in-production"),

    # -- README, "Audit: what is watched and what to do when an alarm fires" ------------------------------------
    readme(AUDIT, "multi-region, global service events, log file validation", "cloudtrail-multi-region",
           "cloudtrail-log-file-validation"),
    readme(AUDIT, "every management event (read and write)", "cloudtrail-all-management-events"),
    readme(AUDIT, "encrypted with the environment's logs key", "cloudtrail-encrypted-with-cmk", "kms-keys-by-purpose"),
    readme(AUDIT, "public access blocked, ACLs disabled, versioned, SSE-KMS with the logs key",
           "s3-public-access-blocked", "s3-acls-disabled", "s3-versioning", "s3-default-encryption",
           "kms-keys-by-purpose"),
    readme(AUDIT, "lifecycle from `bucketLifecycle`", "s3-log-buckets-expire"),
    readme(AUDIT, "its requests logged to the access-log bucket", "s3-server-access-logging"),
    readme(AUDIT, "`force_destroy` outside production only", "s3-no-force-destroy-in-production"),
    readme(AUDIT, "a policy that denies any request without TLS, lets this trail write under `AWSLogs/<account>/` "
           "and denies `s3:PutObject` to every other caller", "s3-tls-only",
           "s3-log-buckets-accept-only-their-delivery", "cloudtrail-bucket-written-only-by-trail"),
    readme(AUDIT, "After each log file delivery the trail notifies `securestack-<env>-cloudtrail-deliveries` "
           "(KMS-encrypted with the logs key; only this trail may publish, by `aws:SourceArn`",
           "cloudtrail-sns-notifications", "sns-topic-encrypted-with-cmk", "kms-keys-by-purpose",
           "sns-publish-only-by-granted-service"),
    readme(AUDIT, "to the log group `/securestack/<env>/cloudtrail` (logs key, `logs.retentionDays`)",
           "cloudtrail-cloudwatch-logs", "log-group-encrypted", "log-group-retention"),
    readme(AUDIT, "the trail records every secret read and write without data-event selectors",
           "cloudtrail-all-management-events"),
    readme(AUDIT, "notifies the topic `securestack-<env>-security-alarms` (KMS-encrypted",
           "audit-alarms-to-encrypted-topic", "sns-topic-encrypted-with-cmk"),
    readme(AUDIT, "only this account's CloudWatch alarms may publish, only over TLS", "sns-alarm-topic-publish-scoped",
           "sns-publish-only-by-granted-service"),
    *(readme(ALARMS, f"`{alarm}`", *ALARM_POLICIES) for alarm in README_ALARMS),
    readme(ALARMS, "`postgres-user-rotation-redeploy-failures` (only with the app; keys and webhooks are read at run "
           "time, never redeployed for)", "lambda-redeploy-failures-alarmed",
           "audit-alarms-to-encrypted-topic"),
    *(readme(ALARMS, f"`{alarm}`", "secret-age-alarmed", "audit-alarms-to-encrypted-topic")
      for alarm in ("secrets-overdue", "secrets-without-current-value", "secrets-compromised", "secret-age-errors")),
    readme(AUDIT, "fire while a count is above 0, treat a missing datapoint as breaching and notify the same topic "
           "when they fire and when they clear", "secret-age-alarmed", "audit-alarms-to-encrypted-topic"),
    readme(AUDIT, "the alarms rise after a few days without a datapoint", "secret-age-alarmed"),

    # -- README, "Scoped API keys and webhook secrets" ----------------------------------------------------------
    readme(SECRETS, "Every self-issued value is written by a rotation function only (Pulumi never holds one), and each "
           "secret's deny-only resource policy lets exactly these principals read it", "secret-resource-policy-deny-only",
           "lambda-rotator-role-scoped", "secret-version-no-plaintext",
           "verifier-records-written-only-by-this-environments-key-rotators"),
    readme(SECRETS, "The app never holds the value of a key this stack issues: nothing but the database login "
           "(`DB_USERNAME`, `DB_PASSWORD`) and the vendor keys it calls its vendors with (`STACKBE_API_KEY` in the "
           "shipped stacks) is injected, and its task role may `DescribeSecret` the keys it verifies (to read the tag "
           "naming each record) but never `GetSecretValue` them.", "no-key-value-in-internet-facing-service",
           "app-task-role-reads-only-verifier-records-and-webhook-secrets",
           "ecs-execution-role-reads-only-injected-secrets", "ecs-task-role-grants-only-runtime-secret-reads",
           "ecs-injects-only-database-login-and-vendor-keys"),
    readme(SECRETS, "It gets ARNs, never values, as plain configuration", "ecs-no-secrets-in-environment"),
    readme(SECRETS, "Settings refuse `app` as a consumer of a self-issued key", "no-key-value-in-internet-facing-service"),
    readme(SECRETS, "No rotator can make such a value, so the secret has no rotation function and Pulumi never holds "
           "its value", "vendor-secret-staged-by-operators-only", "secret-version-no-plaintext"),
    readme(SECRETS, "Only `secrets.operators` may write it, never the app or a rotator, and its "
           "`securestack:rotation-days` tag (`rotationDays`, at most 90) is how old its value may get before the age "
           "alarm.", "vendor-secret-staged-by-operators-only"),
    readme(SECRETS, "ECS injects it into its `appVariable` by reference, and the app's service is created only once "
           "that key has an `AWSCURRENT`", "ecs-injects-only-database-login-and-vendor-keys",
           "ecs-execution-role-reads-only-injected-secrets", "ecs-service-waits-for-its-secrets"),
    readme(SECRETS, "A vendor's webhooks the app verifies are read at run time by its task role",
           "app-task-role-reads-only-verifier-records-and-webhook-secrets",
           "ecs-task-role-grants-only-runtime-secret-reads"),
    readme(SECRETS, "only the database login's rotation still forces a redeploy of the app",
           "lambda-redeploy-failures-alarmed", "ecs-service-waits-for-its-secrets"),
    readme(SECRETS, "A verifier record's first version is written by its key's first rotation",
           "api-key-has-verifier-record", "secret-first-rotation-only-immediate"),
    readme(SECRETS, "`app` itself is never a consumer of a key", "no-key-value-in-internet-facing-service"),
    readme(SECRETS, "`*` is allowed only on a key marked `internal: true`, never for a consumer not declared "
           "`internetFacing: false`.", "no-wildcard-key-in-internet-facing-service"),
    readme(SECRETS, "its first value comes from the rotator (nothing secret enters Pulumi state)",
           "secret-version-no-plaintext", "secret-rotation-configured"),
    readme(SECRETS, "A rotation that keeps failing raises the audit's rotation alarm", "audit-security-alarms"),
    readme(SECRETS, "The deploy waits until the key has that value", "secret-first-rotation-only-immediate"),
    readme(SECRETS, "Changing `rotationDays` later changes the schedule only", "secret-first-rotation-only-immediate"),
    readme(SECRETS, "Outside prod both secrets are scheduled for deletion and stay recoverable for "
           "`securestack:secrets.recoveryWindowDays`", "secret-recovery-window"),
    # retain_on_delete is not among the resource options the engine hands a policy (AnalyzerResourceOptions):
    # `protect` is what the pack can hold.
    readme(SECRETS, "In prod secrets (verifier records too) are `protect`ed",
           "stateful-resources-protected-in-production"),

    # -- component docstrings -----------------------------------------------------------------------------------
    docstring("components/load_balancer.py", "module",
              "HTTPS only (ELB.17 TLS policy, HSTS), port 80 only redirects, WAFv2 in front, access logs to a "
              "locked-down bucket", "lb-https-tls-policy", "lb-https-security-headers", "lb-http-redirects-to-https",
              "lb-waf-associated", "lb-access-logs", "s3-public-access-blocked", "s3-tls-only"),
    docstring("components/load_balancer.py", "TlsLoadBalancer._access_log_bucket",
              "SSE-S3 (the only encryption ALB log delivery supports), private, versioned, expiring, TLS-only.",
              "s3-default-encryption", "s3-public-access-blocked", "s3-versioning", "s3-log-buckets-expire",
              "s3-tls-only"),
    docstring("components/load_balancer.py", "TlsLoadBalancer._security_group",
              "443 and 80 from the internet; no egress until `allow_to_targets` names the app.",
              "sg-internet-ingress-web-ports-only", "sg-no-internet-egress"),
    docstring("components/load_balancer.py", "TlsLoadBalancer._https_listener",
              "The only listener that forwards; TLS policy always explicit (the API default allows TLS 1.0).",
              "lb-http-redirects-to-https", "lb-https-tls-policy"),
    docstring("components/load_balancer.py", "TlsLoadBalancer._http_redirect_listener",
              "Port 80 exists only to send clients to HTTPS; it never forwards anything.",
              "lb-http-redirects-to-https"),
    docstring("components/load_balancer.py", "TlsLoadBalancer._waf_logging",
              "WAF logs to an encrypted log group (WAF requires the `aws-waf-logs-` name), credentials redacted.",
              "waf-logging", "log-group-encrypted", "waf-logging-redacts-credentials"),
    docstring("components/keys.py", "EnvironmentKeys", "One CMK per purpose, used by nothing outside this environment.",
              "kms-keys-by-purpose", "secrets-and-keys-tagged-with-environment", "no-cross-environment-references"),
    docstring("components/keys.py", "customer_managed_key",
              "A symmetric CMK with yearly rotation, an explicit policy and the lockout safety check left on.",
              "kms-key-rotation", "kms-key-policy-no-public-principal", "kms-lockout-safety-check"),
    docstring("components/keys.py", "logs_service_statement",
              "CloudWatch Logs may use the key only for log groups of this account and region.",
              "kms-key-policy-service-grants-bounded"),
    docstring("components/network.py", "Network",
              "New VPC (or an existing one), interface endpoints so private code never needs a NAT, flow logs.",
              "vpc-endpoints-for-private-code", "private-subnets-no-default-route", "vpc-flow-logs"),
    docstring("components/database.py", "module",
              "RDS PostgreSQL encrypted with the environment key, PITR backups, TLS enforced.",
              "rds-storage-encrypted-with-cmk", "rds-backup-retention", "rds-force-ssl", "rds-minimum-tls-1-2"),
    docstring("components/database.py", "EncryptedPostgres",
              "Private, TLS-only PostgreSQL; admits port 5432 only from security groups named via `admit`.",
              "rds-not-public", "rds-force-ssl", "rds-ingress-only-from-security-groups"),
    docstring("components/backup.py", "module",
              "AWS Backup daily backups, copied to a second region under that region's own key.",
              "backup-cross-region-copy-in-production"),
    docstring("components/secrets.py", "module",
              "No value ever passes through Pulumi: a secret is created empty and gets its first value from its "
              "rotator", "secret-version-no-plaintext", "secret-rotation-configured"),
    docstring("components/secrets.py", "secret_resource_policy",
              "Deny-only: nobody but the readers (and, with `writers_read`, the writers) reads, nobody but the "
              "writers writes, nothing without TLS.", "secret-resource-policy-deny-only"),
    docstring("components/vendor_secrets.py", "VendorSecrets",
              "never rotated, written only by the operators, read only by its consumers",
              "vendor-secret-staged-by-operators-only", "secret-resource-policy-deny-only"),
    docstring("components/vendor_secrets.py", "VendorSecrets", "a readiness check for every key the app injects",
              "ecs-service-waits-for-its-secrets"),
    docstring("components/rotation.py", "RotationFunction",
              "A rotation Lambda in the private subnets with a least-privilege role and encrypted logs.",
              "lambda-in-vpc-multi-az", "private-subnets-no-default-route", "lambda-rotator-role-scoped",
              "lambda-log-group-managed", "log-group-encrypted"),
    docstring("components/app.py", "module",
              "so no value appears in code, config, state or outputs", "ecs-no-secrets-in-environment",
              "secret-version-no-plaintext"),
    docstring("components/app.py", "AppService",
              "Fargate tasks in the private subnets, no public IP, reachable only from the load balancer.",
              "private-subnets-no-default-route", "ecs-no-public-ip", "ecs-ingress-only-from-load-balancer"),
    docstring("components/audit.py", "module", "Every alarm notifies one KMS-encrypted SNS topic.",
              "audit-alarms-to-encrypted-topic", "sns-topic-encrypted-with-cmk"),
    docstring("components/audit.py", "module",
              "The trail therefore logs all management events, read and write, and excludes no event source.",
              "cloudtrail-all-management-events"),
    docstring("components/common.py", "encrypted_log_group",
              "Every log group the stack creates is KMS-encrypted with the environment's logs key and has a "
              "retention.", "log-group-encrypted", "log-group-retention", "kms-keys-by-purpose"),
    docstring("components/common.py", "stateful_options",
              "Stateful children (keys, database, secrets, vaults) protect themselves in production.",
              "stateful-resources-protected-in-production"),
    docstring("components/common.py", "private_bucket",
              "A log bucket nobody reads by accident: public access blocked, ACLs off, versioned, encrypted, "
              "expiring, its own requests logged to `access_logs` (S3 server access logging; only the access-log "
              "bucket itself has none).", "s3-public-access-blocked", "s3-acls-disabled", "s3-versioning",
              "s3-default-encryption", "s3-log-buckets-expire", "s3-server-access-logging"),
    docstring("components/common.py", "private_bucket",
              "Production buckets never are, and are protected and retained.", "s3-no-force-destroy-in-production",
              "stateful-resources-protected-in-production"),
    docstring("components/common.py", "service_assume_role_policy",
              "Trust policy for an AWS service; bound to our account where the service supports it (confused "
              "deputy).", "iam-service-trust-bound-to-account"),
]

# Statements in README's claim places that promise nothing about security, and why.
NOT_SECURITY_CLAIMS: list[NotASecurityClaim] = [
    NotASecurityClaim("Overdue means a vendor secret older than its `rotationDays` (or without any), or a "
                      "self-issued one older than its rotation days + 1 (Secrets Manager rotates within a window on "
                      "day N), which is how a rotation that stopped working shows.", AUDIT,
                      "what the age function counts, tested on moto (tests/lambdas/test_secret_age.py)"),
    NotASecurityClaim("Cost: two custom metrics per secret and three per environment (CloudWatch bills each custom "
                      "metric per month, $0.30 for each of the first 10,000 in us-east-1 at the time of writing: an "
                      "environment with 10 secrets adds 23, about $7 a month), four alarms, one short Lambda run a "
                      "day, and the `monitoring` interface endpoint, billed per AZ-hour like the stack's other "
                      "endpoints.", AUDIT, "cost"),
    NotASecurityClaim("settings refuse a daily schedule whose 60-minute start window meets the maintenance window or "
                      "the hour before it (AWS Backup starts no RDS backup then)", ARCHITECTURE + "backups",
                      "settings validation of the backup schedule (tests/test_settings.py)"),
    NotASecurityClaim("What AWS's documentation settles about this setup (issue 11): the role CloudTrail assumes to "
                      "write to CloudWatch Logs trusts `cloudtrail.amazonaws.com` without an `aws:SourceAccount` "
                      "condition (CloudTrail's documented trust has none, its confused-deputy guidance covers "
                      "resource policies, and trails whose role trust carries one fail to deliver); the trail bucket "
                      "has no S3 Bucket Key (with one, AWS requires `kms:Decrypt` to create or update the trail and "
                      "S3's KMS calls no longer carry the trail's encryption context that the logs key policy "
                      "requires); CloudTrail may use the logs key for the encrypted notification topic "
                      "(`kms:GenerateDataKey*`, `kms:Decrypt`, bound by `aws:SourceAccount`).", AUDIT,
                      "documented AWS facts behind the design (issue 11 item 15); the key grant's bound is "
                      "kms-key-policy-service-grants-bounded's, the unbound trust is exempt there by name"),
    NotASecurityClaim("a Lambda per kind from `lambdas/<kind>/`, packaged deterministically (same source, same "
                      "archive hash, no diff)", ARCHITECTURE + "rotation",
                      "build reproducibility (tests/lambdas/test_packaging.py holds it)"),
    NotASecurityClaim("circuit breaker with rollback", ARCHITECTURE + "app", "availability of deployments"),
    NotASecurityClaim("the `appConfig` output gives apps elsewhere the ARNs and endpoints", ARCHITECTURE + "app",
                      "an output's contents"),
    NotASecurityClaim("The certificate is either an existing ACM ARN (`certificateArn`, dev) or created for "
                      "`domainName` and proven with a record in `hostedZoneId` (prod), which also gets an alias "
                      "record to the ALB.", EDGE, "where the certificate comes from (settings validate it)"),
    NotASecurityClaim("`pulumi stack output loadBalancer` gives the DNS name, zone id, listener, target group, "
                      "security group and web ACL identifiers.", EDGE, "an output's contents"),
    NotASecurityClaim("With `organizationTrailLogGroupName` set, no trail is made and the filters and alarms below "
                      "watch that log group instead (it must be in the stack's account and region).", AUDIT,
                      "a configuration alternative (the alarms' claims still hold)"),
    NotASecurityClaim("`pulumi stack output audit` gives the trail ARN, the alarm topic ARN and the log group name.",
                      AUDIT, "an output's contents"),
    NotASecurityClaim("An email recipient must confirm the subscription mail once.", AUDIT, "operator instruction"),
    NotASecurityClaim("Each alarm's description repeats its first step.", AUDIT, "alarm wording"),
    NotASecurityClaim("Find the events behind an alarm with CloudWatch Logs Insights on the trail's log group, e.g. "
                      "`filter eventName = \"ConsoleLogin\" | fields eventTime, userIdentity.arn, sourceIPAddress`.",
                      AUDIT, "operator instruction"),
    NotASecurityClaim("This stack is the API: it issues scoped keys to its callers and verifies them, and it signs the "
                      "webhooks it sends.", SECRETS, "overview"),
    NotASecurityClaim("`pulumi stack output appConfig` lists the same ARNs (`secrets.apiKeys`, `secrets.apiKeyVerifiers`, "
                      "`secrets.webhooks`, `secrets.vendorApiKeys`, `secrets.vendorWebhooks`) for apps that run "
                      "elsewhere.", SECRETS, "where to find the ARNs"),
    NotASecurityClaim("**Vendor-issued keys and webhooks** (`issuer: vendor`: StackBE's and BareCommerce's keys from "
                      "their dashboards, `sk_live_…` / `sk_test_…`).", SECRETS, "introduces the vendor paragraph"),
    NotASecurityClaim("**A key's lifecycle.** A rotation (every `rotationDays`, or on demand below) runs the rotator's "
                      "four steps; `G` is the key's `previousGraceDays` (default 7, 0..30) and `refresh` the app's "
                      "`refresh_seconds` (default 60):", SECRETS, "introduces the timeline"),
    NotASecurityClaim("Because `createSecret` adds v2's digest once v2 is stored, before `finishSecret` promotes it, no "
                      "caller can read a key the record does not accept.", SECRETS,
                      "the rotators' run-time behaviour (tests/lambdas and the zero-downtime test hold it)"),
    NotASecurityClaim("The app reloads its records every `refresh` seconds and once on a miss (rate-limited), so a "
                      "caller that switched to v2 before the app's next reload is accepted at once; a revoked or "
                      "expired value is refused within `refresh` seconds.", SECRETS,
                      "securestack_runtime's behaviour (its tests and the zero-downtime test hold it)"),
    NotASecurityClaim("Webhooks follow the same timeline without a record: the app signs with `AWSCURRENT` and a "
                      "receiver (`WebhookVerifier`) accepts `AWSCURRENT`, `AWSPENDING` and, for `previousGraceDays` "
                      "after the current version was created, `AWSPREVIOUS`.", SECRETS,
                      "securestack_runtime's behaviour (its tests hold it)"),
    NotASecurityClaim("**The app's side** (`securestack_runtime`, stdlib + boto3; no AWS call per request at steady "
                      "state):", SECRETS, "introduces the example"),
    NotASecurityClaim("**A caller's side.** A caller's role (listed in the key's `consumers`) reads the key's current "
                      "value, keeps it, and reads it again when the API refuses it (the key was rotated since):",
                      SECRETS, "how a caller reads"),
    NotASecurityClaim("Its IAM policy needs `secretsmanager:GetSecretValue` on the key's ARN and `kms:Decrypt` on "
                      "`keys.secretsKeyArn` with `kms:ViaService` `secretsmanager.<region>.amazonaws.com`.", SECRETS,
                      "how a consumer outside the stack reads (its own account's IAM)"),
    NotASecurityClaim("A webhook receiver (`WebhookVerifier`) also needs `secretsmanager:DescribeSecret` and "
                      "`secretsmanager:ListSecretVersionIds` on the webhook secret (it reads the stages and when the "
                      "current version was created; neither returns a value).", SECRETS,
                      "how a receiver outside the stack reads (its own account's IAM)"),
    NotASecurityClaim("The previous value keeps working for `previousGraceDays`, so a caller that re-reads on its own "
                      "schedule (or only after a 401) is never refused for a rotation.", SECRETS,
                      "the rotators' and securestack_runtime's run-time behaviour (the zero-downtime test)"),
    NotASecurityClaim("**Add a key.** Append it to `securestack:apiKeys` in `Pulumi.<stack>.yaml` with the fewest "
                      "scopes that work, and name its callers:", SECRETS, "operator instruction"),
    NotASecurityClaim("**Rotate on demand** (a key exposed, someone with access left, an incident), with your own AWS "
                      "credentials (boto3's default chain; the region is the stack's `aws:region` unless `--region` "
                      "says otherwise):", SECRETS, "operator instruction"),
    NotASecurityClaim("It starts the rotation at once (`RotateSecret`) and prints the new version and when the previous "
                      "value stops working; it never reads or prints a value.", SECRETS,
                      "the operator CLI's run-time behaviour (tests/test_secrets_cli.py holds it)"),
    NotASecurityClaim("The rotator creates the new value, adds its digest to the key's verifier record, checks it, "
                      "makes it `AWSCURRENT`, and keeps the previous value valid for the key's `previousGraceDays` "
                      "(tag `securestack:previous-grace-days`, default 7; 0: not at all).", SECRETS,
                      "the rotators' run-time behaviour (tests/lambdas/test_verifier_record.py holds it)"),
    NotASecurityClaim("`--revoke-previous` tags the secret `securestack:revoke-previous=true` first: the rotator then "
                      "drops the previous value (from the verifier record; for a webhook, its `AWSPREVIOUS` label) as "
                      "soon as the new one is current, and removes the tag.", SECRETS,
                      "the CLI's and rotators' run-time behaviour (tests/lambdas/test_verifier_record.py, "
                      "tests/test_secrets_cli.py)"),
    NotASecurityClaim("Nothing is redeployed: callers read `AWSCURRENT` when they need it.", SECRETS,
                      "operations (only the database login's rotator redeploys; lambda-redeploy-failures-alarmed "
                      "covers that one)"),
    NotASecurityClaim("Unknown stack or name, no credentials, a secret not deployed, a rotation already running "
                      "(`AWSPENDING` on a version that is not `AWSCURRENT`), bad arguments: one line on stderr, exit "
                      "2, nothing changed; AWS refusing the call (Secrets Manager's own refusal to rotate, access "
                      "denied): one line, exit 1; Ctrl-C: exit 130.", SECRETS, "the operator CLI's error handling (tests/test_secrets_cli.py)"),
    NotASecurityClaim("A stack deployed before verifier records existed gets empty records from its upgrading `up`: run "
                      "`.venv/bin/python -m infra.secrets rotate <stack> <name>` once per key after it, so the app "
                      "accepts the keys callers hold.", SECRETS, "upgrade instruction"),
    NotASecurityClaim("**Retire a key.** Remove it from its callers' code (and from `securestack:app.verifiesApiKeys` "
                      "if listed) first and deploy; then remove it from `securestack:apiKeys` and `pulumi up`: the key "
                      "and its verifier record go together.", SECRETS, "operator instruction"),
    NotASecurityClaim("To kill a leaked key at once without retiring it, rotate it on demand with its previous value "
                      "revoked (above).", SECRETS, "operator instruction"),
]


def claims_of(policy_name: str) -> list[Claim]:
    return [claim for claim in CLAIMS if policy_name in claim.policies]
