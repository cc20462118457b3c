"""One compliant stack and one or more violating stacks per policy (resources as the engine records them)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

from securestack.infra.recording import Secret

from tests.policy.builders import ACCOUNT, DELETE, Res, arn_of, changed, policy_document

KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/securestack-dev-role"
OWN_SECRET_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:securestack/dev/api-keys/storefront-AbCdEf"
ADMIN_SECRET_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:securestack/dev/api-keys/admin-AbCdEf"


@dataclass
class Stack:
    resources: list
    tier: str = "production"
    accounts: tuple = (ACCOUNT,)  # the provider's allowedAccountIds
    environment_tag: str = "dev"  # what the provider's default tags say
    config_accounts: tuple = (ACCOUNT,)  # the stack config's aws:allowedAccountIds


@dataclass
class Case:
    policy: str
    compliant: Stack
    violating: list = field(default_factory=list)


def stack(*resources, **options) -> Stack:
    return Stack(list(resources), **options)


CASES: list[Case] = []


def case(policy: str, compliant: Stack, *violating: Stack) -> None:
    CASES.append(Case(policy, compliant, list(violating)))


def variants(base: Res, *changes: dict, extra: tuple = ()) -> list[Stack]:
    return [stack(changed(base, **c), *extra) for c in changes]


# -- RDS -------------------------------------------------------------------------------------------------------

RDS = "aws:rds/instance:Instance"
PARAMS = "aws:rds/parameterGroup:ParameterGroup"
DB = Res(RDS, "db", {
    "engine": "postgres", "storageEncrypted": True, "kmsKeyId": KEY, "backupRetentionPeriod": 7,
    "publiclyAccessible": False, "deletionProtection": True, "multiAz": True, "iamDatabaseAuthenticationEnabled": True,
    "enabledCloudwatchLogsExports": ["postgresql", "upgrade"], "monitoringInterval": 60,
    "monitoringRoleArn": ROLE_ARN, "performanceInsightsEnabled": True, "performanceInsightsKmsKeyId": KEY,
    "autoMinorVersionUpgrade": True, "copyTagsToSnapshot": True, "dbSubnetGroupName": "db-subnets",
    "username": "securestack_admin", "manageMasterUserPassword": True, "masterUserSecretKmsKeyId": KEY,
    "skipFinalSnapshot": False, "finalSnapshotIdentifier": "db-final", "parameterGroupName": "db-params"},
    deps={"parameterGroupName": ["db-params"]})
DB_PARAMS = Res(PARAMS, "db-params", {"name": "db-params", "family": "postgres16", "parameters": [
    {"name": "rds.force_ssl", "value": "1", "applyMethod": "immediate"},
    {"name": "ssl_min_protocol_version", "value": "TLSv1.2", "applyMethod": "immediate"}]})


def rds_case(policy: str, *changes: dict, tier: str = "production") -> None:
    case(policy, stack(DB, tier=tier), *[stack(changed(DB, **c), tier=tier) for c in changes])


rds_case("rds-storage-encrypted-with-cmk", {"storageEncrypted": False}, {"kmsKeyId": "alias/aws/rds"},
         {"kmsKeyId": DELETE})
rds_case("rds-backup-retention", {"backupRetentionPeriod": 1}, {"backupRetentionPeriod": DELETE})
rds_case("rds-not-public", {"publiclyAccessible": True})
rds_case("rds-deletion-protection-in-production", {"deletionProtection": False})
rds_case("rds-multi-az-in-production", {"multiAz": False})
case("rds-multi-az-in-production", stack(changed(DB, multiAz=False), tier="non-production"))  # dev may be single-AZ
rds_case("rds-iam-authentication", {"iamDatabaseAuthenticationEnabled": False})
rds_case("rds-log-exports", {"enabledCloudwatchLogsExports": ["upgrade"]}, {"enabledCloudwatchLogsExports": []})
rds_case("rds-enhanced-monitoring", {"monitoringInterval": 0}, {"monitoringRoleArn": DELETE})
rds_case("rds-performance-insights-encrypted", {"performanceInsightsEnabled": False},
         {"performanceInsightsKmsKeyId": DELETE})
rds_case("rds-auto-minor-version-upgrade", {"autoMinorVersionUpgrade": False})
rds_case("rds-copy-tags-to-snapshots", {"copyTagsToSnapshot": False})
rds_case("rds-in-subnet-group", {"dbSubnetGroupName": DELETE})
rds_case("rds-non-default-admin-name", {"username": "postgres"}, {"username": "admin"})
rds_case("rds-master-password-managed", {"manageMasterUserPassword": DELETE, "password": Secret("hunter2hunter2")},
         {"masterUserSecretKmsKeyId": DELETE})
rds_case("rds-final-snapshot-in-production", {"skipFinalSnapshot": True}, {"finalSnapshotIdentifier": DELETE})


def params_with(**values: str) -> Res:
    parameters = [{"name": name, "value": value} for name, value in values.items()]
    return changed(DB_PARAMS, parameters=parameters)


case("rds-force-ssl", stack(DB, DB_PARAMS),
     stack(DB, params_with(**{"rds.force_ssl": "0", "ssl_min_protocol_version": "TLSv1.2"})),
     stack(replace(changed(DB, parameterGroupName="default.postgres16"), deps={})))
case("rds-minimum-tls-1-2", stack(DB, DB_PARAMS),
     stack(DB, params_with(**{"rds.force_ssl": "1", "ssl_min_protocol_version": "TLSv1"})),
     stack(DB, params_with(**{"rds.force_ssl": "1"})))

# -- load balancers and WAF ------------------------------------------------------------------------------------

LB, ALB = "aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"
LISTENER, ALB_LISTENER = "aws:lb/listener:Listener", "aws:alb/listener:Listener"
SUBNET = "aws:ec2/subnet:Subnet"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
SUBNET_A = Res(SUBNET, "subnet-a", {"availabilityZone": "us-east-1a", "mapPublicIpOnLaunch": False})
SUBNET_B = Res(SUBNET, "subnet-b", {"availabilityZone": "us-east-1b", "mapPublicIpOnLaunch": False})
SUBNET_A2 = Res(SUBNET, "subnet-a2", {"availabilityZone": "us-east-1a", "mapPublicIpOnLaunch": False})
LOAD_BALANCER = Res(LB, "alb", {
    "loadBalancerType": "application", "internal": False, "subnets": ["subnet-a-id", "subnet-b-id"],
    "securityGroups": ["alb-sg-id"], "dropInvalidHeaderFields": True, "desyncMitigationMode": "strictest",
    "enableDeletionProtection": True, "accessLogs": {"bucket": "alb-logs", "enabled": True}},
    deps={"subnets": ["subnet-a", "subnet-b"], "securityGroups": ["alb-sg"], "accessLogs": ["alb-logs"]})
REDIRECT = {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}
FORWARD = {"type": "forward", "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/tg"}
HTTP_LISTENER = Res(ALB_LISTENER, "http", {"protocol": "HTTP", "port": 80, "defaultActions": [REDIRECT]})
HTTPS_LISTENER = Res(LISTENER, "https", {
    "protocol": "HTTPS", "port": 443, "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "certificateArn": f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/abc", "defaultActions": [FORWARD]})

case("lb-http-redirects-to-https", stack(HTTP_LISTENER, HTTPS_LISTENER),
     *variants(HTTP_LISTENER, {"defaultActions": [FORWARD]},
               {"defaultActions": [{"type": "redirect", "redirect": {"protocol": "HTTP", "port": "8080"}}]}))
case("lb-https-tls-policy", stack(HTTPS_LISTENER),
     *variants(HTTPS_LISTENER, {"sslPolicy": "ELBSecurityPolicy-2016-08"}, {"sslPolicy": DELETE},
               {"certificateArn": DELETE}))
case("lb-drop-invalid-headers", stack(LOAD_BALANCER),
     *variants(replace(LOAD_BALANCER, type=ALB), {"dropInvalidHeaderFields": False}))
case("lb-access-logs", stack(LOAD_BALANCER), *variants(LOAD_BALANCER, {"accessLogs": {"enabled": False}},
                                                        {"accessLogs": DELETE}))
case("lb-deletion-protection-in-production", stack(LOAD_BALANCER),
     *variants(LOAD_BALANCER, {"enableDeletionProtection": False}))
case("lb-desync-mitigation", stack(LOAD_BALANCER), *variants(LOAD_BALANCER, {"desyncMitigationMode": "monitor"}))
case("lb-multi-az", stack(LOAD_BALANCER, SUBNET_A, SUBNET_B),
     stack(replace(changed(LOAD_BALANCER, subnets=["subnet-a-id", "subnet-a2-id"]),
                   deps={"subnets": ["subnet-a", "subnet-a2"]}), SUBNET_A, SUBNET_A2),
     stack(replace(changed(LOAD_BALANCER, subnets=["subnet-external"]), deps={})))

WAF_ASSOCIATION = Res("aws:wafv2/webAclAssociation:WebAclAssociation", "waf-association",
                      {"resourceArn": "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/alb",
                       "webAclArn": "arn:aws:wafv2:acl"}, deps={"resourceArn": ["alb"], "webAclArn": ["waf"]})
INTERNAL_LB = changed(replace(LOAD_BALANCER, name="internal-alb"), internal=True)
case("lb-waf-associated", stack(LOAD_BALANCER, WAF_ASSOCIATION, INTERNAL_LB), stack(LOAD_BALANCER, INTERNAL_LB))


def visibility(enabled: bool = True) -> dict:
    return {"cloudwatchMetricsEnabled": enabled, "metricName": "m", "sampledRequestsEnabled": True}


RATE_RULE = {"name": "rate", "priority": 0, "action": {"block": {}}, "visibilityConfig": visibility(),
             "statement": {"rateBasedStatement": {"limit": 2000, "aggregateKeyType": "IP"}}}
BAD_INPUTS_RULE = {"name": "bad-inputs", "priority": 1, "overrideAction": {"none": {}},
                   "visibilityConfig": visibility(), "statement": {"managedRuleGroupStatement": {
                       "name": "AWSManagedRulesKnownBadInputsRuleSet", "vendorName": "AWS"}}}
ACL = Res(WEB_ACL, "waf", {"name": "securestack-dev-edge", "scope": "REGIONAL", "defaultAction": {"allow": {}},
                          "rules": [RATE_RULE, BAD_INPUTS_RULE], "visibilityConfig": visibility()})
case("waf-has-rules", stack(ACL), *variants(ACL, {"rules": []}))
case("waf-metrics-enabled", stack(ACL), *variants(ACL, {"visibilityConfig": visibility(False)},
                                                   {"rules": [{**RATE_RULE, "visibilityConfig": visibility(False)}]}))
case("waf-rate-based-rule", stack(ACL), *variants(ACL, {"rules": [BAD_INPUTS_RULE]}))
case("waf-rate-based-rule", stack(changed(ACL, rules=DELETE, ruleJson=json.dumps([
    {"Name": "rate", "Statement": {"RateBasedStatement": {"Limit": 100}}}]))))
case("waf-known-bad-inputs", stack(ACL), *variants(ACL, {"rules": [RATE_RULE]}))
ANONYMOUS_IP_RULE = {"name": "anonymous-ips", "priority": 2, "overrideAction": {"none": {}},
                     "visibilityConfig": visibility(), "statement": {"managedRuleGroupStatement": {
                         "name": "AWSManagedRulesAnonymousIpList", "vendorName": "AWS", "ruleActionOverrides": [
                             {"name": "HostingProviderIPList", "actionToUse": {"count": {}}}]}}}
case("waf-anonymous-ip-list", stack(changed(ACL, rules=[RATE_RULE, BAD_INPUTS_RULE, ANONYMOUS_IP_RULE])),
     *variants(ACL, {"rules": [RATE_RULE, BAD_INPUTS_RULE]}))


def protection(header: str, action: str = "SUBSTITUTION", field_type: str = "SINGLE_HEADER") -> dict:
    return {"field": {"fieldType": field_type, "fieldKeys": [header]}, "action": action}


PROTECTED_ACL = changed(ACL, dataProtectionConfig={"dataProtections": [protection("authorization"),
                                                                       protection("Cookie", "HASH")]})
case("waf-data-protection-credentials", stack(PROTECTED_ACL), stack(ACL),
     *variants(PROTECTED_ACL, {"dataProtectionConfig": {"dataProtections": [protection("authorization")]}},
               {"dataProtectionConfig": {"dataProtections": [protection("authorization"),
                                                             protection("cookie", field_type="SINGLE_COOKIE")]}}))
WAF_LOGGING = Res("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration", "waf-logging",
                  {"resourceArn": "arn:aws:wafv2:acl", "logDestinationConfigs": ["arn:aws:logs:log-group"]},
                  deps={"resourceArn": ["waf"]})
case("waf-logging", stack(ACL, WAF_LOGGING), stack(ACL), stack(ACL, changed(WAF_LOGGING, logDestinationConfigs=[])))

# -- Secrets Manager -------------------------------------------------------------------------------------------

SECRET_TYPE = "aws:secretsmanager/secret:Secret"
ROTATION_TYPE = "aws:secretsmanager/secretRotation:SecretRotation"
SECRET = Res(SECRET_TYPE, "storefront", {
    "name": "securestack/dev/api-keys/storefront", "description": "storefront read key", "kmsKeyId": KEY,
    "tags": {"securestack:env": "dev", "securestack:scopes": "products:read"}},
    outputs={"name": "securestack/dev/api-keys/storefront", "description": "storefront read key", "kmsKeyId": KEY,
             "tags": {"securestack:env": "dev", "securestack:scopes": "products:read"}, "id": OWN_SECRET_ARN,
             "arn": OWN_SECRET_ARN})
ROTATION = Res(ROTATION_TYPE, "storefront-rotation", {
    "secretId": OWN_SECRET_ARN, "rotationLambdaArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:rotator",
    "rotationRules": {"automaticallyAfterDays": 90}}, deps={"secretId": ["storefront"]})
case("secret-rotation-configured", stack(SECRET, ROTATION), stack(SECRET),
     stack(SECRET, changed(ROTATION, rotationEnabled=False)))
READINESS = Res("pulumi-python:dynamic/securestack:SecretReadiness", "storefront-ready", {
    "secretArn": OWN_SECRET_ARN, "rotationLambdaArn": ROTATION.inputs["rotationLambdaArn"], "rotationDays": 90,
    "timeoutSeconds": 600}, deps={"secretArn": ["storefront"]}, provider=False)
NOT_IMMEDIATE = changed(ROTATION, rotateImmediately=False)
case("secret-first-rotation-only-immediate", stack(SECRET, NOT_IMMEDIATE, READINESS),
     stack(SECRET, ROTATION, READINESS), stack(SECRET, changed(ROTATION, rotateImmediately=True), READINESS),
     stack(SECRET, NOT_IMMEDIATE))
case("secret-rotation-within-90-days", stack(ROTATION, changed(ROTATION, rotationRules={
    "scheduleExpression": "rate(30 days)"})),
     *variants(ROTATION, {"rotationRules": {"automaticallyAfterDays": 120}},
               {"rotationRules": {"scheduleExpression": "rate(100 days)"}},
               {"rotationRules": {"scheduleExpression": "cron(0 4 1 1 ? *)"}}))
case("secret-encrypted-with-cmk", stack(SECRET), *variants(SECRET, {"kmsKeyId": DELETE},
                                                           {"kmsKeyId": "alias/aws/secretsmanager"}))
case("secret-has-description", stack(SECRET), *variants(SECRET, {"description": ""}, {"description": DELETE}))
SECRET_VERSION = Res("aws:secretsmanager/secretVersion:SecretVersion", "storefront-value",
                     {"secretId": OWN_SECRET_ARN, "secretString": Secret("sk_live_0123456789abcdef")})
case("secret-version-no-plaintext", stack(SECRET), stack(SECRET, SECRET_VERSION),
     stack(SECRET, changed(SECRET_VERSION, secretString=DELETE, secretBinary=Secret("c2VjcmV0"))))

# -- KMS -------------------------------------------------------------------------------------------------------

KMS_KEY = "aws:kms/key:Key"
ACCOUNT_ROOT = {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*", "Resource": "*"}
PUBLIC_DECRYPT = {"Sid": "Anyone", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}
DATA_KEY = Res(KMS_KEY, "data", {
    "enableKeyRotation": True, "customerMasterKeySpec": "SYMMETRIC_DEFAULT", "keyUsage": "ENCRYPT_DECRYPT",
    "bypassPolicyLockoutSafetyCheck": False, "policy": policy_document(ACCOUNT_ROOT),
    "tags": {"securestack:env": "dev"}})
case("kms-key-rotation", stack(DATA_KEY, changed(DATA_KEY, customerMasterKeySpec="RSA_2048", keyUsage="SIGN_VERIFY",
                                                 enableKeyRotation=False)),
     *variants(DATA_KEY, {"enableKeyRotation": False}, {"enableKeyRotation": DELETE}))
case("kms-key-policy-no-public-principal", stack(DATA_KEY, changed(DATA_KEY, policy=policy_document(
    ACCOUNT_ROOT, {**PUBLIC_DECRYPT, "Condition": {"StringEquals": {"kms:CallerAccount": ACCOUNT}}}))),
     *variants(DATA_KEY, {"policy": policy_document(ACCOUNT_ROOT, PUBLIC_DECRYPT)},
               {"policy": policy_document({**PUBLIC_DECRYPT, "Principal": {"AWS": ["*"]}})}, {"policy": DELETE}))
case("kms-lockout-safety-check", stack(DATA_KEY), *variants(DATA_KEY, {"bypassPolicyLockoutSafetyCheck": True}))

# -- Lambda ----------------------------------------------------------------------------------------------------

FUNCTION = "aws:lambda/function:Function"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROTATOR_LOGS = Res(LOG_GROUP, "rotator-logs", {"name": "/aws/lambda/securestack-dev-rotator", "kmsKeyId": KEY,
                                               "retentionInDays": 365})
ROTATOR = Res(FUNCTION, "rotator", {
    "name": "securestack-dev-rotator", "runtime": "python3.13", "handler": "handler.lambda_handler",
    "vpcConfig": {"subnetIds": ["subnet-a-id", "subnet-b-id"], "securityGroupIds": ["rotator-sg-id"]},
    "environment": {"variables": {"SECRETS_MANAGER_ENDPOINT": "https://secretsmanager.us-east-1.amazonaws.com",
                                  "LOG_LEVEL": "INFO", "PG_CA_BUNDLE": "/var/task/rds-global-bundle.pem",
                                  "API_KEY_SECRET": "securestack/dev/api-keys/storefront"}},
    "tracingConfig": {"mode": "Active"}, "reservedConcurrentExecutions": 5, "kmsKeyArn": KEY,
    "loggingConfig": {"logFormat": "Text", "logGroup": "/aws/lambda/securestack-dev-rotator"}},
    deps={"vpcConfig": ["subnet-a", "subnet-b"], "loggingConfig": ["rotator-logs"]})
PERMISSION = Res("aws:lambda/permission:Permission", "invoke", {
    "function": "securestack-dev-rotator", "action": "lambda:InvokeFunction",
    "principal": "secretsmanager.amazonaws.com", "sourceAccount": ACCOUNT})
case("lambda-permission-bound-to-source", stack(PERMISSION, changed(PERMISSION, principal=ACCOUNT,
                                                                    sourceAccount=DELETE)),
     *variants(PERMISSION, {"sourceAccount": DELETE}, {"principal": "*"}))
case("lambda-supported-runtime", stack(ROTATOR, changed(ROTATOR, runtime=DELETE, packageType="Image")),
     *variants(ROTATOR, {"runtime": "python3.8"}, {"runtime": "nodejs16.x"}))
case("lambda-in-vpc-multi-az", stack(ROTATOR, SUBNET_A, SUBNET_B),
     stack(replace(changed(ROTATOR, vpcConfig=DELETE), deps={}), SUBNET_A, SUBNET_B),
     stack(replace(changed(ROTATOR, vpcConfig={"subnetIds": ["subnet-a-id"], "securityGroupIds": ["sg"]}),
                   deps={"vpcConfig": ["subnet-a"]}), SUBNET_A),
     stack(changed(ROTATOR, vpcConfig={"subnetIds": ["subnet-a-id", "subnet-b-id"], "securityGroupIds": []}),
           SUBNET_A, SUBNET_B))
case("lambda-no-secrets-in-environment", stack(ROTATOR),
     *variants(ROTATOR, {"environment": {"variables": {"STRIPE": "sk_live_0123456789abcdef"}}},
               {"environment": {"variables": {"DB_PASSWORD": "hunter2Hunter2"}}},
               # A secret input reaches the analyzer unwrapped, as the engine sends it.
               {"environment": {"variables": {"API_TOKEN": Secret("Zx9sQ2pL0aVb7Yt4")}}}))
case("lambda-tracing-active", stack(ROTATOR), *variants(ROTATOR, {"tracingConfig": {"mode": "PassThrough"}},
                                                         {"tracingConfig": DELETE}))
case("lambda-concurrency-not-zero", stack(changed(ROTATOR, reservedConcurrentExecutions=DELETE)),
     *variants(ROTATOR, {"reservedConcurrentExecutions": 0}))
case("lambda-log-group-managed", stack(ROTATOR, ROTATOR_LOGS),
     stack(replace(changed(ROTATOR, loggingConfig={"logGroup": "/elsewhere"}), deps={}), ROTATOR_LOGS),
     stack(ROTATOR))
case("lambda-environment-encrypted-with-cmk", stack(ROTATOR, changed(ROTATOR, environment=DELETE, kmsKeyArn=DELETE)),
     *variants(ROTATOR, {"kmsKeyArn": DELETE}, {"kmsKeyArn": "arn:aws:kms:us-east-1:111111111111:alias/aws/lambda"}))

CODE_BUCKET = "securestack-dev-lambda-code-111111111111"
SIGNING_PROFILE = Res("aws:signer/signingProfile:SigningProfile", "signing-profile", {
    "platformId": "AWSLambda-SHA384-ECDSA", "namePrefix": "securestack_dev_rotators_"}, outputs={
    "platformId": "AWSLambda-SHA384-ECDSA", "name": "securestack_dev_rotators_1", "id": "securestack_dev_rotators_1",
    "versionArn": f"arn:aws:signer:us-east-1:{ACCOUNT}:/signing-profiles/securestack_dev_rotators_1/abc",
    "arn": f"arn:aws:signer:us-east-1:{ACCOUNT}:/signing-profiles/securestack_dev_rotators_1"})
CODE_SIGNING_CONFIG = Res("aws:lambda/codeSigningConfig:CodeSigningConfig", "code-signing", {
    "allowedPublishers": {"signingProfileVersionArns": [SIGNING_PROFILE.outputs["versionArn"]]},
    "policies": {"untrustedArtifactOnDeployment": "Enforce"}}, deps={"allowedPublishers": ["signing-profile"]})
SIGNING_JOB = Res("aws:signer/signingJob:SigningJob", "signing-job", {
    "profileName": "securestack_dev_rotators_1", "ignoreSigningJobFailure": False,
    "source": {"s3": {"bucket": CODE_BUCKET, "key": "unsigned/rotator-0a1b.zip", "version": "v1"}},
    "destination": {"s3": {"bucket": CODE_BUCKET, "prefix": "signed/rotator/"}}}, deps={
    "profileName": ["signing-profile"]})
SIGNED_ROTATOR = changed(replace(ROTATOR, deps={**ROTATOR.deps, "codeSigningConfigArn": ["code-signing"],
                                                "s3Key": ["signing-job"], "s3Bucket": ["signing-job"]}),
                         codeSigningConfigArn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:code-signing-config:csc-1",
                         s3Bucket=CODE_BUCKET, s3Key="signed/rotator/job-1.zip")
SIGNING = (SIGNING_PROFILE, CODE_SIGNING_CONFIG, SIGNING_JOB)
case("lambda-code-signing-enforced", stack(SIGNED_ROTATOR, *SIGNING),
     stack(ROTATOR, *SIGNING),  # no code-signing configuration
     stack(SIGNED_ROTATOR, SIGNING_PROFILE, SIGNING_JOB, changed(
         CODE_SIGNING_CONFIG, policies={"untrustedArtifactOnDeployment": "Warn"})),
     stack(SIGNED_ROTATOR, SIGNING_JOB, replace(CODE_SIGNING_CONFIG, deps={}, inputs={
         **CODE_SIGNING_CONFIG.inputs, "allowedPublishers": {"signingProfileVersionArns": [
             "arn:aws:signer:us-east-1:999999999999:/signing-profiles/elsewhere/abc"]}})),  # a foreign publisher
     stack(replace(SIGNED_ROTATOR, deps={k: v for k, v in SIGNED_ROTATOR.deps.items() if k not in ("s3Key", "s3Bucket")},
                   inputs={**SIGNED_ROTATOR.inputs, "s3Key": "unsigned/rotator-0a1b.zip"}), *SIGNING))  # unsigned code

# -- log groups, S3, backup ------------------------------------------------------------------------------------

case("log-group-encrypted", stack(ROTATOR_LOGS), *variants(ROTATOR_LOGS, {"kmsKeyId": DELETE}))
case("log-group-retention", stack(ROTATOR_LOGS, changed(ROTATOR_LOGS, retentionInDays=30), tier="non-production"),
     *variants(ROTATOR_LOGS, {"retentionInDays": DELETE}, {"retentionInDays": 30}))

BUCKET_TYPE = "aws:s3/bucket:Bucket"
PAB_TYPE = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
SSE_TYPE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING_TYPE = "aws:s3/bucketVersioning:BucketVersioning"


def bucket(name: str) -> Res:
    return Res(BUCKET_TYPE, name, {"bucket": name}, outputs={"bucket": name, "id": name, "arn": f"arn:aws:s3:::{name}"})


DATA_BUCKET, ALB_LOGS = bucket("trail-bucket"), bucket("alb-logs")
PAB = Res(PAB_TYPE, "trail-bucket-pab", {"bucket": "trail-bucket", "blockPublicAcls": True, "blockPublicPolicy": True,
                                         "ignorePublicAcls": True, "restrictPublicBuckets": True},
          deps={"bucket": ["trail-bucket"]})
case("s3-public-access-blocked", stack(DATA_BUCKET, PAB), stack(DATA_BUCKET),
     stack(DATA_BUCKET, changed(PAB, blockPublicPolicy=False)))
DENY_HTTP = {"Sid": "DenyWithoutTls", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": ["arn:aws:s3:::trail-bucket", "arn:aws:s3:::trail-bucket/*"],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
TLS_POLICY = Res(BUCKET_POLICY, "trail-bucket-policy", {"bucket": "trail-bucket", "policy": policy_document(DENY_HTTP)},
                 deps={"bucket": ["trail-bucket"]})
case("s3-tls-only", stack(DATA_BUCKET, TLS_POLICY), stack(DATA_BUCKET),
     stack(DATA_BUCKET, changed(TLS_POLICY, policy=policy_document({**DENY_HTTP, "Condition": {}}))))


def encryption(bucket_name: str, algorithm: str, key: str = None) -> Res:
    default = {"sseAlgorithm": algorithm, **({"kmsMasterKeyId": key} if key else {})}
    return Res(SSE_TYPE, f"{bucket_name}-sse", {"bucket": bucket_name, "rules": [
        {"applyServerSideEncryptionByDefault": default, "bucketKeyEnabled": True}]}, deps={"bucket": [bucket_name]})


LOGGING_LB = replace(LOAD_BALANCER, deps={"accessLogs": ["alb-logs"]})
case("s3-default-encryption",
     stack(DATA_BUCKET, encryption("trail-bucket", "aws:kms", KEY), ALB_LOGS, encryption("alb-logs", "AES256"),
           LOGGING_LB),
     stack(DATA_BUCKET, encryption("trail-bucket", "AES256")),
     stack(DATA_BUCKET, encryption("trail-bucket", "aws:kms")),
     stack(DATA_BUCKET),
     stack(ALB_LOGS, encryption("alb-logs", "aws:kms", KEY), LOGGING_LB))
LOGGING_TYPE = "aws:s3/bucketLogging:BucketLogging"
ACCESS_LOGS = bucket("access-logs")
TRAIL_BUCKET_LOGGING = Res(LOGGING_TYPE, "trail-bucket-logging", {
    "bucket": "trail-bucket", "targetBucket": "access-logs", "targetPrefix": "cloudtrail/"},
    deps={"bucket": ["trail-bucket"], "targetBucket": ["access-logs"]})
case("s3-default-encryption", stack(ACCESS_LOGS, encryption("access-logs", "AES256"), TRAIL_BUCKET_LOGGING),
     stack(ACCESS_LOGS, encryption("access-logs", "aws:kms", KEY), TRAIL_BUCKET_LOGGING))
case("s3-server-access-logging", stack(DATA_BUCKET, ACCESS_LOGS, TRAIL_BUCKET_LOGGING),
     stack(DATA_BUCKET), stack(DATA_BUCKET, ACCESS_LOGS),
     stack(DATA_BUCKET, replace(changed(TRAIL_BUCKET_LOGGING, targetBucket="trail-bucket"),
                                deps={"bucket": ["trail-bucket"], "targetBucket": ["trail-bucket"]})))
LOG_DELIVERY = {"Sid": "S3LogDelivery", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject", "Resource": "arn:aws:s3:::access-logs/*",
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}
ACCESS_LOGS_POLICY = Res(BUCKET_POLICY, "access-logs-policy", {"bucket": "access-logs", "policy": policy_document(
    LOG_DELIVERY)}, deps={"bucket": ["access-logs"]})
case("s3-access-log-delivery-bounded", stack(DATA_BUCKET, ACCESS_LOGS, TRAIL_BUCKET_LOGGING, ACCESS_LOGS_POLICY),
     stack(DATA_BUCKET, ACCESS_LOGS, TRAIL_BUCKET_LOGGING),
     stack(DATA_BUCKET, ACCESS_LOGS, TRAIL_BUCKET_LOGGING, changed(ACCESS_LOGS_POLICY, policy=policy_document(
         {**LOG_DELIVERY, "Condition": {}}))))
case("s3-no-force-destroy-in-production", stack(DATA_BUCKET, changed(DATA_BUCKET, forceDestroy=False)),
     stack(changed(DATA_BUCKET, forceDestroy=True)))
case("s3-no-force-destroy-in-production", stack(changed(DATA_BUCKET, forceDestroy=True), tier="non-production"))
VERSIONING = Res(VERSIONING_TYPE, "trail-bucket-versioning", {"bucket": "trail-bucket", "versioningConfiguration": {
    "status": "Enabled"}}, deps={"bucket": ["trail-bucket"]})
case("s3-versioning", stack(DATA_BUCKET, VERSIONING), stack(DATA_BUCKET),
     stack(DATA_BUCKET, changed(VERSIONING, versioningConfiguration={"status": "Suspended"})))
VAULT = Res("aws:backup/vault:Vault", "vault", {"name": "securestack-dev", "kmsKeyArn": KEY})
case("backup-vault-encrypted-with-cmk", stack(VAULT), *variants(VAULT, {"kmsKeyArn": DELETE}))

# -- CloudTrail and SNS ----------------------------------------------------------------------------------------

TRAIL = Res("aws:cloudtrail/trail:Trail", "trail", {
    "name": "securestack-dev", "s3BucketName": "trail-bucket", "isMultiRegionTrail": True,
    "includeGlobalServiceEvents": True, "enableLogFileValidation": True, "kmsKeyId": KEY,
    "cloudWatchLogsGroupArn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/securestack/dev/cloudtrail:*",
    "cloudWatchLogsRoleArn": ROLE_ARN})
case("cloudtrail-multi-region", stack(TRAIL), *variants(TRAIL, {"isMultiRegionTrail": False},
                                                         {"includeGlobalServiceEvents": False},
                                                         {"enableLogging": False}))
case("cloudtrail-encrypted-with-cmk", stack(TRAIL), *variants(TRAIL, {"kmsKeyId": DELETE}))
case("cloudtrail-log-file-validation", stack(TRAIL), *variants(TRAIL, {"enableLogFileValidation": False}))
case("cloudtrail-cloudwatch-logs", stack(TRAIL), *variants(TRAIL, {"cloudWatchLogsGroupArn": DELETE},
                                                            {"cloudWatchLogsRoleArn": DELETE}))
case("cloudtrail-sns-notifications", stack(changed(TRAIL, snsTopicName="securestack-dev-cloudtrail-deliveries")),
     stack(TRAIL))
TRAIL_ARN = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/securestack-dev"
TRAIL_WRITES = {"Sid": "CloudTrailWrites", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::trail-bucket/AWSLogs/{ACCOUNT}/*",
                "Condition": {"StringEquals": {"aws:SourceArn": TRAIL_ARN}}}
DENY_OTHER_WRITERS = {"Sid": "DenyOtherWriters", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                      "Resource": "arn:aws:s3:::trail-bucket/*",
                      "Condition": {"StringNotEquals": {"aws:SourceArn": TRAIL_ARN}}}
WRITING_TRAIL = replace(TRAIL, deps={"s3BucketName": ["trail-bucket"]})


def trail_bucket_policy(*statements: dict) -> Res:
    return changed(TLS_POLICY, policy=policy_document(DENY_HTTP, TRAIL_WRITES, *statements))


case("cloudtrail-bucket-written-only-by-trail",
     stack(WRITING_TRAIL, DATA_BUCKET, trail_bucket_policy(DENY_OTHER_WRITERS)),
     stack(WRITING_TRAIL, DATA_BUCKET, trail_bucket_policy()),
     # a deny narrowed to one IP range still lets every other caller of the account write
     stack(WRITING_TRAIL, DATA_BUCKET, trail_bucket_policy({**DENY_OTHER_WRITERS, "Condition": {
         "StringNotEquals": {"aws:SourceArn": TRAIL_ARN}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}})),
     stack(WRITING_TRAIL, DATA_BUCKET, trail_bucket_policy({**DENY_OTHER_WRITERS, "Action": "s3:GetObject"})))
case("cloudtrail-bucket-written-only-by-trail", stack(WRITING_TRAIL, DATA_BUCKET, trail_bucket_policy(
    {**DENY_OTHER_WRITERS, "Condition": {"StringNotEquals": {"aws:PrincipalServiceName": "cloudtrail.amazonaws.com"}}})))
TOPIC_ARN = f"arn:aws:sns:us-east-1:{ACCOUNT}:securestack-dev-alarms"
ALARMS_PUBLISH = {"Sid": "AlarmsPublish", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
                  "Action": "sns:Publish", "Resource": TOPIC_ARN,
                  "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}
DENY_OTHER_PUBLISHERS = {"Sid": "DenyOthers", "Effect": "Deny", "Principal": "*", "Action": "sns:Publish",
                         "Resource": TOPIC_ARN, "Condition": {"StringNotEquals": {
                             "aws:PrincipalServiceName": "cloudwatch.amazonaws.com"}}}
TOPIC_POLICY = Res("aws:sns/topicPolicy:TopicPolicy", "alarms-policy", {
    "arn": TOPIC_ARN, "policy": policy_document(ALARMS_PUBLISH, DENY_OTHER_PUBLISHERS)})
case("sns-publish-only-by-granted-service", stack(TOPIC_POLICY, changed(TOPIC_POLICY, policy=policy_document(
    {**DENY_OTHER_PUBLISHERS, "Sid": "OnlyDenies"}))),
     *variants(TOPIC_POLICY, {"policy": policy_document(ALARMS_PUBLISH)},
               {"policy": policy_document(ALARMS_PUBLISH, {**DENY_OTHER_PUBLISHERS, "Condition": {
                   "Bool": {"aws:SecureTransport": "false"}}})},
               {"policy": policy_document(ALARMS_PUBLISH, {**DENY_OTHER_PUBLISHERS, "Action": "sns:Subscribe"})}),
     stack(Res("aws:sns/topic:Topic", "inline", {"name": "t", "policy": policy_document(ALARMS_PUBLISH)})))
TOPIC = Res("aws:sns/topic:Topic", "alarms", {"name": "securestack-dev-alarms", "kmsMasterKeyId": KEY})
case("sns-topic-encrypted-with-cmk", stack(TOPIC), *variants(TOPIC, {"kmsMasterKeyId": DELETE},
                                                             {"kmsMasterKeyId": "alias/aws/sns"}))

# -- ECS -------------------------------------------------------------------------------------------------------

TASK_TYPE = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE_TYPE = "aws:ecs/service:Service"
EXECUTION_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/securestack-dev-app-execution"
TASK_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/securestack-dev-app-task"
CONTAINER = {"name": "app", "image": "app:1", "essential": True, "privileged": False,
             "readonlyRootFilesystem": True, "environment": [{"name": "SESSION_TTL", "value": "604800"}],
             "secrets": [{"name": "API_KEY", "valueFrom": f"{OWN_SECRET_ARN}:key::"}],
             "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/securestack/dev/app"}}}


def task(**container_changes) -> Res:
    container = {k: v for k, v in {**CONTAINER, **container_changes}.items() if v is not DELETE}
    return Res(TASK_TYPE, "task", {"family": "securestack-dev-app", "executionRoleArn": EXECUTION_ROLE_ARN,
                                   "taskRoleArn": TASK_ROLE_ARN, "containerDefinitions": json.dumps([container])},
               deps={"containerDefinitions": ["storefront"]})


SERVICE = Res(SERVICE_TYPE, "service", {"networkConfiguration": {"assignPublicIp": False, "subnets": ["subnet-a-id"],
                                                                 "securityGroups": ["app-sg-id"]}})
case("ecs-no-public-ip", stack(SERVICE), *variants(SERVICE, {"networkConfiguration": {"assignPublicIp": True}}))
case("ecs-no-secrets-in-environment", stack(task()),
     stack(task(environment=[{"name": "API_KEY", "value": "sk_test_0123456789abcdef"}])),
     stack(task(environment=[{"name": "WEBHOOK_SECRET", "value": "Zx9sQ2pL0aVb7Yt4"}])),
     stack(task(secrets=[{"name": "API_KEY", "valueFrom": "plaintext-in-the-definition"}])))
case("ecs-container-logging", stack(task()), stack(task(logConfiguration=DELETE)))
case("ecs-not-privileged", stack(task()), stack(task(privileged=True)))
case("ecs-read-only-root-filesystem", stack(task()), stack(task(readonlyRootFilesystem=False)),
     stack(task(readonlyRootFilesystem=DELETE)))
case("ecs-distinct-execution-and-task-roles", stack(task()), stack(changed(task(), taskRoleArn=EXECUTION_ROLE_ARN)))

# -- network ---------------------------------------------------------------------------------------------------

SG_TYPE = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_TYPE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG_RULE_TYPE = "aws:ec2/securityGroupRule:SecurityGroupRule"
ALB_SG = Res(SG_TYPE, "alb-sg", {"description": "ALB: 443 and 80 from the internet", "vpcId": "vpc-id"})
DB_SG = Res(SG_TYPE, "db-sg", {"description": "PostgreSQL from named groups", "vpcId": "vpc-id"})
HTTPS_IN = Res(INGRESS_TYPE, "alb-in-443", {"securityGroupId": "alb-sg-id", "ipProtocol": "tcp", "fromPort": 443,
                                            "toPort": 443, "cidrIpv4": "0.0.0.0/0", "description": "HTTPS"},
               deps={"securityGroupId": ["alb-sg"]})
case("sg-internet-ingress-web-ports-only", stack(HTTPS_IN, changed(HTTPS_IN, fromPort=80, toPort=80)),
     *variants(HTTPS_IN, {"fromPort": 5432, "toPort": 5432}, {"ipProtocol": "-1"}, {"fromPort": 0, "toPort": 65535}),
     stack(changed(DB_SG, ingress=[{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"],
                                    "description": "everything"}])),
     stack(Res(SG_RULE_TYPE, "ssh", {"type": "ingress", "protocol": "tcp", "fromPort": 22, "toPort": 22,
                                     "ipv6CidrBlocks": ["::/0"], "securityGroupId": "db-sg-id"})))
FRONTED_LB = replace(LOAD_BALANCER, deps={"securityGroups": ["alb-sg"]})
case("sg-internet-ingress-only-to-load-balancers", stack(ALB_SG, HTTPS_IN, FRONTED_LB),
     stack(DB_SG, replace(changed(HTTPS_IN, securityGroupId="db-sg-id"), deps={"securityGroupId": ["db-sg"]}),
           FRONTED_LB),
     stack(ALB_SG, HTTPS_IN, changed(FRONTED_LB, internal=True)))
case("sg-descriptions", stack(changed(ALB_SG, ingress=[{"protocol": "tcp", "fromPort": 443, "toPort": 443,
                                                       "cidrBlocks": ["0.0.0.0/0"], "description": "HTTPS"}]),
                              HTTPS_IN),
     *variants(ALB_SG, {"description": "Managed by Pulumi"}, {"description": DELETE},
               {"egress": [{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["10.0.0.0/16"]}]}),
     *variants(HTTPS_IN, {"description": DELETE}))
VPC = Res("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.20.0.0/16"})
DEFAULT_SG = Res("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "default-sg",
                 {"vpcId": "vpc-id", "ingress": [], "egress": []}, deps={"vpcId": ["vpc"]})
case("vpc-default-security-group-closed", stack(VPC, DEFAULT_SG), stack(VPC),
     stack(VPC, changed(DEFAULT_SG, ingress=[{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}])))
FLOW_LOG = Res("aws:ec2/flowLog:FlowLog", "flow-log", {"vpcId": "vpc-id", "trafficType": "ALL",
                                                       "logDestinationType": "cloud-watch-logs"},
               deps={"vpcId": ["vpc"]})
case("vpc-flow-logs", stack(VPC, FLOW_LOG), stack(VPC), stack(VPC, changed(FLOW_LOG, trafficType="ACCEPT")))
# An existing VPC (network.existingVpc): no Vpc resource, only resources that name its id.
EXISTING_VPC_ID = "vpc-0a1b2c3d4e5f60718"
SG_IN_EXISTING_VPC = changed(DB_SG, vpcId=EXISTING_VPC_ID)
DEFAULT_SG_OF_EXISTING = Res(DEFAULT_SG.type, "default-sg", {"vpcId": EXISTING_VPC_ID, "ingress": [], "egress": []})
FLOW_LOG_OF_EXISTING = Res(FLOW_LOG.type, "flow-log", {"vpcId": EXISTING_VPC_ID, "trafficType": "ALL",
                                                       "logDestinationType": "cloud-watch-logs"})
case("vpc-default-security-group-closed", stack(SG_IN_EXISTING_VPC, DEFAULT_SG_OF_EXISTING), stack(SG_IN_EXISTING_VPC),
     stack(SG_IN_EXISTING_VPC, changed(DEFAULT_SG_OF_EXISTING, vpcId="vpc-0fffffffffffffff0")))
case("vpc-flow-logs", stack(SG_IN_EXISTING_VPC, FLOW_LOG_OF_EXISTING), stack(SG_IN_EXISTING_VPC),
     stack(SG_IN_EXISTING_VPC, changed(FLOW_LOG_OF_EXISTING, trafficType="ACCEPT")))

VPC_ENDPOINT_TYPE = "aws:ec2/vpcEndpoint:VpcEndpoint"


def interface_endpoint(service: str, **changes) -> Res:
    return changed(Res(VPC_ENDPOINT_TYPE, f"{service}-endpoint", {
        "vpcId": "vpc-id", "serviceName": f"com.amazonaws.us-east-1.{service}", "vpcEndpointType": "Interface",
        "privateDnsEnabled": True, "subnetIds": ["subnet-a-id", "subnet-b-id"]}), **changes)


S3_GATEWAY = Res(VPC_ENDPOINT_TYPE, "s3-endpoint", {"vpcId": "vpc-id", "serviceName": "com.amazonaws.us-east-1.s3",
                                                    "vpcEndpointType": "Gateway", "routeTableIds": ["rtb-id"]})
REDEPLOY_POLICY = Res("aws:iam/rolePolicy:RolePolicy", "rotator-secrets", {
    "role": "securestack-dev-rotator-role", "policy": policy_document(
        {"Effect": "Allow", "Action": "ecs:UpdateService",
         "Resource": f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/securestack-dev/securestack-dev-app"})})
APP_ENDPOINTS = ("secretsmanager", "kms", "logs", "sts", "ecr.api", "ecr.dkr", "ecs", "xray")


def private_code_stack(*, leave_out: str = "", extra: tuple = ()) -> Stack:
    """A traced rotator that redeploys the app, the app, and the endpoints they call (but `leave_out`)."""
    endpoints = [interface_endpoint(s) for s in APP_ENDPOINTS if s != leave_out]
    endpoints += [S3_GATEWAY] if leave_out != "s3" else []
    return stack(ROTATOR, SERVICE, REDEPLOY_POLICY, *endpoints, *extra)


# a rotator that is not traced and redeploys nothing, no app: the baseline is enough
case("vpc-endpoints-for-private-code", stack(changed(ROTATOR, tracingConfig={"mode": "PassThrough"}),
                                             *[interface_endpoint(s) for s in ("secretsmanager", "kms", "logs", "sts")],
                                             S3_GATEWAY))
case("vpc-endpoints-for-private-code", private_code_stack(),
     *[private_code_stack(leave_out=service) for service in ("ecs", "xray", "ecr.dkr", "secretsmanager", "s3")],
     private_code_stack(leave_out="ecs", extra=(interface_endpoint("ecs", privateDnsEnabled=False),)),
     private_code_stack(leave_out="s3", extra=(changed(S3_GATEWAY, routeTableIds=[]),)))
case("subnet-no-public-ip-on-launch", stack(SUBNET_A), *variants(SUBNET_A, {"mapPublicIpOnLaunch": True}))

# -- IAM and resource policies ---------------------------------------------------------------------------------

ROLE_POLICY_TYPE = "aws:iam/rolePolicy:RolePolicy"
LOG_WRITE = {"Sid": "OwnLogGroup", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/securestack/dev/app:*"}
DESCRIBE_IN_REGION = {"Sid": "Describe", "Effect": "Allow", "Action": ["ec2:DescribeSubnets"], "Resource": "*",
                      "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}}
ROLE_POLICY = Res(ROLE_POLICY_TYPE, "role-policy", {"role": "securestack-dev-role",
                                                    "policy": policy_document(LOG_WRITE, DESCRIBE_IN_REGION)})


def role_policy(*statements: dict) -> Res:
    return changed(ROLE_POLICY, policy=policy_document(*statements))


case("iam-no-full-admin", stack(ROLE_POLICY),
     stack(role_policy({"Effect": "Allow", "Action": "*", "Resource": "*"})),
     stack(role_policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})),
     stack(Res("aws:iam/role:Role", "admin", {"assumeRolePolicy": policy_document(), "inlinePolicies": [
         {"name": "all", "policy": policy_document({"Effect": "Allow", "Action": "*:*", "Resource": "*"})}]})),
     stack(Res("aws:iam/policy:Policy", "managed", {"policy": policy_document(
         {"Effect": "Allow", "Action": ["s3:GetObject", "*"], "Resource": "*"})})))
case("iam-no-service-wildcard-actions", stack(ROLE_POLICY),
     stack(role_policy({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::trail-bucket/*"})),
     stack(Res("aws:iam/userPolicy:UserPolicy", "user", {"policy": policy_document(
         {"Effect": "Allow", "Action": ["kms:*"], "Resource": KEY})})))
case("iam-wildcard-resource-needs-condition", stack(ROLE_POLICY),
     stack(role_policy({**DESCRIBE_IN_REGION, "Condition": {}})),
     stack(role_policy({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "NotResource": KEY})))
ROLE = Res("aws:iam/role:Role", "role", {"assumeRolePolicy": policy_document(
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole",
     "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}})})
case("iam-trust-policy-names-principal", stack(ROLE),
     *variants(ROLE, {"assumeRolePolicy": policy_document({"Effect": "Allow", "Principal": {"AWS": "*"},
                                                           "Action": "sts:AssumeRole"})}))
SECRET_POLICY = Res("aws:secretsmanager/secretPolicy:SecretPolicy", "storefront-policy", {
    "secretArn": OWN_SECRET_ARN, "blockPublicPolicy": True, "policy": policy_document(
        {"Sid": "DenyOthers", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "secretsmanager:GetSecretValue",
         "Resource": OWN_SECRET_ARN, "Condition": {"StringNotEquals": {"aws:PrincipalArn": [ROLE_ARN]}}})})
PUBLIC_READ = {"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
case("resource-policy-no-public-principal", stack(SECRET_POLICY, TLS_POLICY),
     *variants(SECRET_POLICY, {"policy": policy_document(PUBLIC_READ)}),
     *variants(TLS_POLICY, {"policy": policy_document({"Effect": "Allow", "Principal": {"AWS": "*"},
                                                       "Action": "s3:GetObject", "Resource": "arn:aws:s3:::x/*"})}),
     stack(Res("aws:sns/topicPolicy:TopicPolicy", "alarms-policy", {"arn": "arn:aws:sns:topic", "policy":
                                                                    policy_document({**PUBLIC_READ,
                                                                                     "Action": "sns:Publish"})})),
     stack(Res("aws:cloudwatch/logResourcePolicy:LogResourcePolicy", "log-delivery", {
         "policyName": "x", "policyDocument": policy_document({**PUBLIC_READ, "Action": "logs:PutLogEvents"})})))

# -- accounts and environments ---------------------------------------------------------------------------------

ELB_LOG_WRITE = {"Sid": "ElbLogDelivery", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::127311923021:root"},
                 "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::alb-logs/AWSLogs/{ACCOUNT}/*"}
case("aws-provider-pins-accounts", stack(SECRET), stack(SECRET, accounts=()),
     stack(SECRET, accounts=("333333333333",)), stack(SECRET, accounts=("not-an-account",)))
case("aws-resources-use-pinned-provider", stack(SECRET, VPC), stack(SECRET, replace(VPC, provider=False)),
     stack(SECRET, accounts=()))
case("arns-within-allowed-accounts",
     stack(ROLE_POLICY, ROLE, PERMISSION, changed(TLS_POLICY, policy=policy_document(DENY_HTTP, ELB_LOG_WRITE))),
     stack(role_policy({**LOG_WRITE, "Resource": "arn:aws:logs:us-east-1:999999999999:log-group:x:*"})),
     *variants(ROLE, {"assumeRolePolicy": policy_document({"Effect": "Allow", "Principal": {"Service": "x"},
                                                           "Condition": {"StringEquals": {
                                                               "aws:SourceAccount": "999999999999"}}})}),
     *variants(PERMISSION, {"sourceAccount": "999999999999"}),
     *variants(DATA_KEY, {"policy": policy_document({**ACCOUNT_ROOT, "Principal": {
         "AWS": "arn:aws:iam::127311923021:root"}})}),
     stack(role_policy({**LOG_WRITE, "Resource": "arn:aws:logs:us-east-1:*:log-group:x:*"})))
case("secrets-and-keys-tagged-with-environment", stack(SECRET, changed(DATA_KEY, tags=DELETE)),
     *variants(SECRET, {"tags": {"securestack:env": "prod"}}),
     stack(changed(DATA_KEY, tags=DELETE), environment_tag="prod"))
ALIAS = Res("aws:kms/alias:Alias", "data-alias", {"name": "alias/securestack/dev/data", "targetKeyId": "data-key-id"})
OWN_KEY = changed(DATA_KEY, **{})
OWN_KEY.outputs = {**OWN_KEY.inputs, "id": "data-key-id", "arn": KEY}
case("no-cross-environment-references",
     stack(SECRET, OWN_KEY, ALIAS, task(), role_policy({**LOG_WRITE, "Resource": [KEY, f"{OWN_SECRET_ARN[:-7]}*"]}),
           Res(SG_TYPE, "ecr-repo-users", {"description": "pulls securestack-app from the shared repository"})),
     stack(SECRET, OWN_KEY, task(secrets=[{"name": "API_KEY",
                                           "valueFrom": OWN_SECRET_ARN.replace("/dev/", "/prod/") + ":key::"}])),
     *variants(ALIAS, {"name": "alias/securestack/prod/data"}),
     stack(OWN_KEY, role_policy({**LOG_WRITE, "Resource": KEY.replace("11111111-", "99999999-")})),
     stack(Res(SG_TYPE, "db-sg", {"description": "PostgreSQL securestack-prod-postgres"})))

ADMIN_SECRET = Res(SECRET_TYPE, "admin", {
    "name": "securestack/dev/api-keys/admin", "description": "admin", "kmsKeyId": KEY,
    "tags": {"securestack:env": "dev", "securestack:scopes": "ALL_SCOPES"}},
    outputs={"name": "securestack/dev/api-keys/admin", "id": ADMIN_SECRET_ARN, "arn": ADMIN_SECRET_ARN,
             "tags": {"securestack:env": "dev", "securestack:scopes": "ALL_SCOPES"}})
TARGET_GROUP = Res("aws:lb/targetGroup:TargetGroup", "tg", {"port": 8443, "protocol": "HTTPS"})
APP_LISTENER = changed(replace(HTTPS_LISTENER, deps={"defaultActions": ["tg"], "loadBalancerArn": ["alb"]}))
APP_SERVICE = replace(changed(SERVICE, loadBalancers=[{"containerName": "app", "containerPort": 8443}]),
                      deps={"taskDefinition": ["task"], "loadBalancers": ["tg"]})
EDGE = (TARGET_GROUP, APP_LISTENER, LOAD_BALANCER, APP_SERVICE)
ADMIN_TASK = replace(task(secrets=[{"name": "ADMIN_KEY", "valueFrom": f"{ADMIN_SECRET_ARN}:key::"}]),
                     deps={"containerDefinitions": ["admin"]})
EXECUTION_ROLE = Res("aws:iam/role:Role", "execution-role", {"name": "securestack-dev-app-execution"},
                     outputs={"name": "securestack-dev-app-execution", "id": "securestack-dev-app-execution",
                              "arn": EXECUTION_ROLE_ARN})
ADMIN_GRANT = replace(role_policy({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                                   "Resource": ADMIN_SECRET_ARN}), deps={"role": ["execution-role"],
                                                                          "policy": ["admin"]})
case("no-wildcard-key-in-internet-facing-service", stack(SECRET, ADMIN_SECRET, task(), *EDGE),
     stack(SECRET, ADMIN_SECRET, ADMIN_TASK, *EDGE),
     stack(SECRET, ADMIN_SECRET, replace(task(), deps={"containerDefinitions": ["storefront"],
                                                       "executionRoleArn": ["execution-role"]}),
           EXECUTION_ROLE, ADMIN_GRANT, *EDGE))

# -- README's claims (policy/claims.py): edge ------------------------------------------------------------------

HARDENED_HTTPS = changed(HTTPS_LISTENER, routingHttpResponseStrictTransportSecurityHeaderValue=(
    "max-age=31536000; includeSubDomains"), routingHttpResponseXContentTypeOptionsHeaderValue="nosniff",
    routingHttpResponseServerEnabled=False)
HSTS = "routingHttpResponseStrictTransportSecurityHeaderValue"
case("lb-https-security-headers", stack(HARDENED_HTTPS, HTTP_LISTENER),
     *variants(HARDENED_HTTPS, {HSTS: "max-age=300; includeSubDomains"}, {HSTS: "max-age=31536000"}, {HSTS: DELETE},
               {"routingHttpResponseXContentTypeOptionsHeaderValue": DELETE},
               {"routingHttpResponseServerEnabled": True}, {"routingHttpResponseServerEnabled": DELETE}))
case("lb-http-redirects-to-https", stack(HTTP_LISTENER),
     *variants(HTTP_LISTENER, {"defaultActions": [{**REDIRECT, "redirect": {**REDIRECT["redirect"],
                                                                            "statusCode": "HTTP_302"}}]},
               {"defaultActions": [{**REDIRECT, "redirect": {"protocol": "HTTPS", "statusCode": "HTTP_301"}}]}))
HTTPS_TARGETS = changed(TARGET_GROUP, targetType="ip", healthCheck={"protocol": "HTTPS", "path": "/health"})
case("lb-https-to-targets-in-production", stack(HTTPS_TARGETS),
     *variants(HTTPS_TARGETS, {"protocol": "HTTP"}, {"healthCheck": {"protocol": "HTTP", "path": "/health"}}))
case("lb-https-to-targets-in-production", stack(changed(HTTPS_TARGETS, protocol="HTTP", healthCheck={
    "protocol": "HTTP"}), tier="non-production"))
case("lb-desync-mitigation-strictest", stack(LOAD_BALANCER),
     *variants(LOAD_BALANCER, {"desyncMitigationMode": "defensive"}, {"desyncMitigationMode": DELETE}))
case("lb-waf-fail-closed", stack(LOAD_BALANCER, changed(replace(LOAD_BALANCER, name="alb2"), enableWafFailOpen=False)),
     *variants(LOAD_BALANCER, {"enableWafFailOpen": True}))


def managed_rule(group: str, priority: int, override: dict = None) -> dict:
    return {"name": group, "priority": priority, "overrideAction": override or {"none": {}},
            "visibilityConfig": visibility(), "statement": {"managedRuleGroupStatement": {
                "name": group, "vendorName": "AWS"}}}


IP_REPUTATION, COMMON = "AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesCommonRuleSet"
ANONYMOUS = "AWSManagedRulesAnonymousIpList"


def anonymous_rule(*counted: str) -> dict:
    rule = managed_rule(ANONYMOUS, 4)
    rule["statement"]["managedRuleGroupStatement"]["ruleActionOverrides"] = [
        {"name": name, "actionToUse": {"count": {}}} for name in counted]
    return rule


FULL_ACL = changed(ACL, rules=[RATE_RULE, managed_rule(IP_REPUTATION, 1), managed_rule(COMMON, 2),
                               {**BAD_INPUTS_RULE, "priority": 3}, anonymous_rule("HostingProviderIPList")])
case("waf-managed-rule-groups", stack(FULL_ACL),
     *variants(FULL_ACL, {"rules": [RATE_RULE, managed_rule(IP_REPUTATION, 1), BAD_INPUTS_RULE]},
               {"rules": [RATE_RULE, managed_rule(IP_REPUTATION, 1), managed_rule(COMMON, 2, {"count": {}}),
                          {**BAD_INPUTS_RULE, "priority": 3}, anonymous_rule()]},
               {"rules": [RATE_RULE, managed_rule(IP_REPUTATION, 1), managed_rule(COMMON, 2),
                          {**BAD_INPUTS_RULE, "priority": 3},
                          anonymous_rule("HostingProviderIPList", "AnonymousIPList")]}))
case("waf-rate-limit-blocks-first", stack(FULL_ACL),
     *variants(ACL, {"rules": [{**RATE_RULE, "priority": 5}, BAD_INPUTS_RULE]},
               {"rules": [{**RATE_RULE, "action": {"count": {}}}, BAD_INPUTS_RULE]}, {"rules": [BAD_INPUTS_RULE]}))
UNSAMPLED = {**visibility(), "sampledRequestsEnabled": False}
case("waf-sampled-requests", stack(ACL), *variants(ACL, {"visibilityConfig": UNSAMPLED},
                                                    {"rules": [{**RATE_RULE, "visibilityConfig": UNSAMPLED}]}))
REDACTING_LOGGING = changed(WAF_LOGGING, redactedFields=[{"singleHeader": {"name": "authorization"}},
                                                         {"singleHeader": {"name": "Cookie"}}])
case("waf-logging-redacts-credentials", stack(REDACTING_LOGGING),
     *variants(REDACTING_LOGGING, {"redactedFields": [{"singleHeader": {"name": "authorization"}}]},
               {"redactedFields": DELETE}))

# -- README's claims: log buckets, protection, backups ---------------------------------------------------------

OWNERSHIP = Res("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "trail-bucket-ownership",
                {"bucket": "trail-bucket", "rule": {"objectOwnership": "BucketOwnerEnforced"}},
                deps={"bucket": ["trail-bucket"]})
case("s3-acls-disabled", stack(DATA_BUCKET, OWNERSHIP), stack(DATA_BUCKET),
     stack(DATA_BUCKET, changed(OWNERSHIP, rule={"objectOwnership": "ObjectWriter"})))


def lifecycle(bucket_name: str, days: int, status: str = "Enabled") -> Res:
    return Res("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", f"{bucket_name}-lifecycle",
               {"bucket": bucket_name, "rules": [{"id": "expire", "status": status, "filter": {"prefix": ""},
                                                  "expiration": {"days": days}}]}, deps={"bucket": [bucket_name]})


case("s3-log-buckets-expire",
     stack(DATA_BUCKET, TRAIL, lifecycle("trail-bucket", 2557), ALB_LOGS, LOGGING_LB, lifecycle("alb-logs", 365)),
     stack(DATA_BUCKET, TRAIL), stack(DATA_BUCKET, TRAIL, lifecycle("trail-bucket", 30)),
     stack(ALB_LOGS, LOGGING_LB, lifecycle("alb-logs", 365, status="Disabled")))
case("s3-log-buckets-expire", stack(DATA_BUCKET, TRAIL, lifecycle("trail-bucket", 30), tier="non-production"))
case("s3-log-buckets-expire", stack(ACCESS_LOGS, TRAIL_BUCKET_LOGGING, lifecycle("access-logs", 365)),
     stack(ACCESS_LOGS, TRAIL_BUCKET_LOGGING), stack(ACCESS_LOGS, TRAIL_BUCKET_LOGGING, lifecycle("access-logs", 30)))
TRAIL_ARN = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/securestack-dev"
TRAIL_ACL_CHECK = {"Sid": "CloudTrailChecksBucketAcl", "Effect": "Allow", "Principal": {
    "Service": "cloudtrail.amazonaws.com"}, "Action": "s3:GetBucketAcl", "Resource": "arn:aws:s3:::trail-bucket",
    "Condition": {"StringEquals": {"aws:SourceArn": TRAIL_ARN}}}
TRAIL_WRITE = {**TRAIL_ACL_CHECK, "Sid": "CloudTrailWrites", "Action": "s3:PutObject",
               "Resource": f"arn:aws:s3:::trail-bucket/AWSLogs/{ACCOUNT}/*"}
ELB_SERVICE_WRITE = {"Sid": "ElbLogDeliveryService", "Effect": "Allow", "Principal": {
    "Service": "logdelivery.elasticloadbalancing.amazonaws.com"}, "Action": "s3:PutObject",
    "Resource": f"arn:aws:s3:::alb-logs/AWSLogs/{ACCOUNT}/*"}
DENY_OLD_TLS = {"Sid": "DenyTlsOlderThan12", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": ["arn:aws:s3:::alb-logs", "arn:aws:s3:::alb-logs/*"],
                "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}}


def trail_bucket_policy(*statements: dict) -> Res:
    return changed(TLS_POLICY, policy=policy_document(DENY_HTTP, *statements))


def alb_bucket_policy(*statements: dict) -> Res:
    return Res(BUCKET_POLICY, "alb-logs-policy", {"bucket": "alb-logs", "policy": policy_document(*statements)},
               deps={"bucket": ["alb-logs"]})


ALB_LOGS_POLICY = alb_bucket_policy(ELB_SERVICE_WRITE, {**ELB_LOG_WRITE, "Resource": ELB_SERVICE_WRITE["Resource"]},
                                    DENY_OLD_TLS)
LOG_BUCKETS = (DATA_BUCKET, TRAIL, ALB_LOGS, LOGGING_LB)
case("s3-log-buckets-accept-only-their-delivery",
     stack(*LOG_BUCKETS, trail_bucket_policy(TRAIL_ACL_CHECK, TRAIL_WRITE), ALB_LOGS_POLICY),
     stack(*LOG_BUCKETS, trail_bucket_policy(TRAIL_ACL_CHECK, {**TRAIL_WRITE, "Condition": {}})),
     stack(*LOG_BUCKETS, trail_bucket_policy({**TRAIL_WRITE, "Resource": "arn:aws:s3:::trail-bucket/*"})),
     stack(*LOG_BUCKETS, alb_bucket_policy(ELB_SERVICE_WRITE, {
         "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::alb-logs/*"})),
     stack(*LOG_BUCKETS, alb_bucket_policy({**ELB_SERVICE_WRITE, "Principal": {
         "AWS": f"arn:aws:iam::{ACCOUNT}:root"}})))
case("s3-alb-log-bucket-tls-1-2", stack(ALB_LOGS, LOGGING_LB, ALB_LOGS_POLICY),
     stack(ALB_LOGS, LOGGING_LB, alb_bucket_policy(ELB_SERVICE_WRITE)),
     stack(ALB_LOGS, LOGGING_LB, alb_bucket_policy(ELB_SERVICE_WRITE, {**DENY_OLD_TLS, "Effect": "Allow"})))
case("stateful-resources-protected-in-production",
     stack(*(replace(r, protect=True) for r in (DB, SECRET, DATA_KEY, VAULT, DATA_BUCKET))),
     *(stack(r) for r in (DB, SECRET, DATA_KEY, VAULT, DATA_BUCKET)))
case("stateful-resources-protected-in-production", stack(DB, SECRET, tier="non-production"))

COPY_KEY_ARN = f"arn:aws:kms:us-west-2:{ACCOUNT}:key/99999999-2222-3333-4444-555555555555"
COPY_KEY = Res(KMS_KEY, "copy-key", {**DATA_KEY.inputs, "region": "us-west-2"},
               outputs={**DATA_KEY.inputs, "region": "us-west-2", "id": "copy-key-id", "arn": COPY_KEY_ARN})
COPY_VAULT = Res("aws:backup/vault:Vault", "copy-vault", {"name": "securestack-dev-copy", "region": "us-west-2",
                                                          "kmsKeyArn": COPY_KEY_ARN}, deps={"kmsKeyArn": ["copy-key"]})
DAILY_RULE = {"ruleName": "daily", "targetVaultName": "securestack-dev", "schedule": "cron(0 5 ? * * *)",
              "copyActions": [{"destinationVaultArn": f"arn:aws:backup:us-west-2:{ACCOUNT}:backup-vault:copy"}]}
PLAN = Res("aws:backup/plan:Plan", "plan", {"name": "securestack-dev-database", "rules": [DAILY_RULE]},
           deps={"rules": ["vault", "copy-vault"]})
SELECTION = Res("aws:backup/selection:Selection", "selection", {
    "name": "securestack-dev-database", "planId": "plan-id", "iamRoleArn": ROLE_ARN,
    "resources": [f"arn:aws:rds:us-east-1:{ACCOUNT}:instance/db"]}, deps={"resources": ["db"], "planId": ["plan"]})
BACKED_UP = (DB, SELECTION, PLAN, VAULT, COPY_VAULT, COPY_KEY)
case("backup-cross-region-copy-in-production", stack(DB, tier="non-production"))
case("backup-cross-region-copy-in-production", stack(*BACKED_UP),
     stack(DB), stack(DB, SELECTION, changed(PLAN, rules=[{**DAILY_RULE, "schedule": "cron(0 5 ? * 1 *)"}]), VAULT,
                      COPY_VAULT, COPY_KEY),
     stack(DB, SELECTION, PLAN, VAULT, changed(COPY_VAULT, region="us-east-1"), COPY_KEY),
     stack(DB, SELECTION, PLAN, VAULT, COPY_VAULT, changed(COPY_KEY, region="us-east-1")))

# -- README's claims: audit ------------------------------------------------------------------------------------

case("cloudtrail-all-management-events",
     stack(TRAIL, changed(TRAIL, eventSelectors=[{"readWriteType": "All", "includeManagementEvents": True}])),
     *variants(TRAIL, {"eventSelectors": [{"readWriteType": "WriteOnly", "includeManagementEvents": True}]},
               {"eventSelectors": [{"readWriteType": "All", "includeManagementEvents": False}]},
               {"eventSelectors": [{"readWriteType": "All", "excludeManagementEventSources": ["kms.amazonaws.com"]}]},
               {"advancedEventSelectors": [{"fieldSelectors": [{"field": "eventCategory", "equals": ["Data"]}]}]}))

ALARM_TYPE, FILTER_TYPE = "aws:cloudwatch/metricAlarm:MetricAlarm", "aws:cloudwatch/logMetricFilter:LogMetricFilter"
ALARM_TOPIC_ARN = f"arn:aws:sns:us-east-1:{ACCOUNT}:securestack-dev-security-alarms"
ALARM_TOPIC = replace(TOPIC, outputs={**TOPIC.inputs, "id": ALARM_TOPIC_ARN, "arn": ALARM_TOPIC_ARN})


def watched_patterns() -> dict:
    """The patterns the audit component really writes (CIS CloudWatch.1-14 and the project's own)."""
    from securestack.components import audit
    patterns = {alarm.slug: alarm.pattern for alarm in audit.CIS_ALARMS}
    patterns.update({"secrets-access-denied": audit.secrets_denied_pattern(["securestack/dev/*"]),
                     "secrets-unexpected-principal": audit.secrets_unexpected_principal_pattern(
                         ["securestack/dev/*"], [ROLE_ARN]),
                     "secret-rotation-failures": audit.ROTATION_FAILURE_PATTERN,
                     "rds-deletion-protection-off": audit.RDS_DELETION_PROTECTION_OFF_PATTERN})
    return patterns


def alarm(slug: str, metric: str, namespace: str = "securestack/dev/audit", **changes) -> Res:
    return Res(ALARM_TYPE, f"{slug}-alarm", {
        "name": f"securestack-dev-{slug}", "metricName": metric, "namespace": namespace, "statistic": "Sum",
        "period": 300, "evaluationPeriods": 1, "threshold": 1, "comparisonOperator": "GreaterThanOrEqualToThreshold",
        "actionsEnabled": True, "alarmActions": [ALARM_TOPIC_ARN], **changes}, deps={"alarmActions": ["alarms"]})


def watched(slug: str, pattern: str) -> tuple:
    metric = "".join(part.title() for part in slug.split("-"))
    return (Res(FILTER_TYPE, f"{slug}-filter", {"name": f"securestack-dev-{slug}", "pattern": pattern,
                                                "logGroupName": "/securestack/dev/cloudtrail",
                                                "metricTransformation": {"name": metric, "value": "1",
                                                                         "namespace": "securestack/dev/audit"}}),
            alarm(slug, metric))


WATCHED = [r for slug, pattern in watched_patterns().items() for r in watched(slug, pattern)]
WAF_ALARM = alarm("waf-blocked-requests-spike", "BlockedRequests", "AWS/WAFV2")
case("audit-security-alarms", stack(*WATCHED, ALARM_TOPIC))  # no web ACL, no WAF alarm needed
case("audit-security-alarms", stack(*WATCHED, ALARM_TOPIC, ACL, WAF_ALARM),
     stack(*[r for r in WATCHED if r.name != "console-signin-without-mfa-alarm"], ALARM_TOPIC),
     stack(*[changed(r, pattern='{ ($.eventName = "ConsoleLogin") }') if r.name.startswith("root-user") else r
             for r in WATCHED], ALARM_TOPIC),
     stack(*WATCHED, ALARM_TOPIC, ACL))
ROOT_ALARM = WATCHED[1]
OTHER_TOPIC = Res("aws:sns/topic:Topic", "other", {"name": "other", "kmsMasterKeyId": KEY})
case("audit-alarms-to-encrypted-topic", stack(ROOT_ALARM, ALARM_TOPIC, WAF_ALARM),
     stack(ROOT_ALARM, changed(ALARM_TOPIC, kmsMasterKeyId=DELETE)),
     stack(changed(ROOT_ALARM, actionsEnabled=False), ALARM_TOPIC),
     stack(replace(changed(ROOT_ALARM, alarmActions=[]), deps={}), ALARM_TOPIC),
     stack(ROOT_ALARM, ALARM_TOPIC, replace(WAF_ALARM, deps={"alarmActions": ["other"]}), OTHER_TOPIC))
CLOUDWATCH_PUBLISHES = {"Sid": "CloudWatchAlarmsOfThisAccountPublish", "Effect": "Allow",
                        "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish",
                        "Resource": ALARM_TOPIC_ARN, "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}
DENY_PLAIN_PUBLISH = {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "sns:Publish",
                      "Resource": ALARM_TOPIC_ARN, "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def topic_policy(*statements: dict) -> Res:
    return Res("aws:sns/topicPolicy:TopicPolicy", "alarms-policy", {
        "arn": ALARM_TOPIC_ARN, "policy": policy_document(*statements)}, deps={"arn": ["alarms"]})


case("sns-alarm-topic-publish-scoped", stack(ROOT_ALARM, ALARM_TOPIC, topic_policy(CLOUDWATCH_PUBLISHES,
                                                                                    DENY_PLAIN_PUBLISH)),
     stack(ROOT_ALARM, ALARM_TOPIC),
     stack(ROOT_ALARM, ALARM_TOPIC, topic_policy({**CLOUDWATCH_PUBLISHES, "Condition": {}}, DENY_PLAIN_PUBLISH)),
     stack(ROOT_ALARM, ALARM_TOPIC, topic_policy({**CLOUDWATCH_PUBLISHES, "Principal": {
         "AWS": f"arn:aws:iam::{ACCOUNT}:root"}}, DENY_PLAIN_PUBLISH)),
     stack(ROOT_ALARM, ALARM_TOPIC, topic_policy(CLOUDWATCH_PUBLISHES)),
     stack(ROOT_ALARM, ALARM_TOPIC, topic_policy({**CLOUDWATCH_PUBLISHES, "Condition": {"StringEquals": {
         "aws:SourceAccount": "999999999999"}}}, DENY_PLAIN_PUBLISH)))

# -- README's claims: network ----------------------------------------------------------------------------------

ROUTE_TABLE_TYPE = "aws:ec2/routeTable:RouteTable"
PRIVATE_RT = Res(ROUTE_TABLE_TYPE, "private-rt", {"vpcId": "vpc-id"})
PRIVATE_RTA = Res("aws:ec2/routeTableAssociation:RouteTableAssociation", "private-a-rta", {
    "subnetId": "subnet-a-id", "routeTableId": "private-rt-id"}, deps={"subnetId": ["subnet-a"],
                                                                        "routeTableId": ["private-rt"]})
PLACED_ROTATOR = (ROTATOR, SUBNET_A, SUBNET_B, PRIVATE_RTA)
case("private-subnets-no-default-route", stack(*PLACED_ROTATOR, PRIVATE_RT),
     stack(*PLACED_ROTATOR, changed(PRIVATE_RT, routes=[{"cidrBlock": "0.0.0.0/0", "gatewayId": "igw-id"}])),
     stack(*PLACED_ROTATOR, PRIVATE_RT, Res("aws:ec2/route:Route", "nat-route", {
         "routeTableId": "private-rt-id", "destinationIpv6CidrBlock": "::/0", "natGatewayId": "nat-id"},
         deps={"routeTableId": ["private-rt"]})))


def endpoint(service: str, endpoint_type: str = "Interface", **changes) -> Res:
    return Res("aws:ec2/vpcEndpoint:VpcEndpoint", f"{service}-endpoint", {
        "vpcId": "vpc-id", "vpcEndpointType": endpoint_type, "serviceName": f"com.amazonaws.us-east-1.{service}",
        **({"privateDnsEnabled": True} if endpoint_type == "Interface" else {}), **changes})


ENDPOINTS = [endpoint(s) for s in ("secretsmanager", "kms", "logs", "sts")] + [
    endpoint("s3", "Gateway", routeTableIds=["private-rt-id"])]
case("vpc-endpoints-for-private-code", stack(VPC))  # no private code, nothing to reach
case("vpc-endpoints-for-private-code", stack(SERVICE, VPC, *ENDPOINTS, endpoint("ecr.api"), endpoint("ecr.dkr")))
case("vpc-endpoints-for-private-code", stack(ROTATOR, VPC, *ENDPOINTS, endpoint("xray")),
     stack(ROTATOR, VPC, *[e for e in ENDPOINTS if e.name != "kms-endpoint"]),
     stack(ROTATOR, VPC, *[changed(e, privateDnsEnabled=False) if e.name == "sts-endpoint" else e
                           for e in ENDPOINTS]),
     stack(ROTATOR, VPC, *ENDPOINTS[:-1]),
     stack(SERVICE, VPC, *ENDPOINTS))
EGRESS_TYPE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
TO_APP = Res(EGRESS_TYPE, "alb-to-app", {"securityGroupId": "alb-sg-id", "ipProtocol": "tcp", "fromPort": 8443,
                                         "toPort": 8443, "referencedSecurityGroupId": "app-sg-id",
                                         "description": "to app"}, deps={"securityGroupId": ["alb-sg"]})
ROTATOR_SG = Res(SG_TYPE, "rotator-sg", {"description": "rotator: egress only", "egress": [
    {"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["10.20.0.0/16"], "description": "APIs"}]})
case("sg-no-internet-egress", stack(ALB_SG, TO_APP, ROTATOR_SG),
     *variants(ROTATOR_SG, {"egress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}]}),
     *variants(TO_APP, {"referencedSecurityGroupId": DELETE, "cidrIpv4": "0.0.0.0/0"}),
     stack(Res(SG_RULE_TYPE, "out", {"type": "egress", "protocol": "tcp", "fromPort": 443, "toPort": 443,
                                     "ipv6CidrBlocks": ["::/0"], "securityGroupId": "db-sg-id"})))

# -- README's claims: database ---------------------------------------------------------------------------------

GUARDED_DB = replace(changed(DB, vpcSecurityGroupIds=["db-sg-id"]), deps={**DB.deps, "vpcSecurityGroupIds": ["db-sg"]})
DB_FROM_APP = Res(INGRESS_TYPE, "db-from-app", {
    "securityGroupId": "db-sg-id", "ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432,
    "referencedSecurityGroupId": "app-sg-id", "description": "PostgreSQL from app"}, deps={"securityGroupId": ["db-sg"]})
case("rds-ingress-only-from-security-groups", stack(GUARDED_DB, DB_SG, DB_FROM_APP),
     stack(GUARDED_DB, DB_SG, changed(DB_FROM_APP, referencedSecurityGroupId=DELETE, cidrIpv4="10.20.0.0/16")),
     stack(GUARDED_DB, DB_SG, changed(DB_FROM_APP, fromPort=22, toPort=22)),
     stack(GUARDED_DB, changed(DB_SG, ingress=[{"protocol": "tcp", "fromPort": 5432, "toPort": 5432,
                                                 "cidrBlocks": ["10.0.0.0/8"], "description": "VPC"}])),
     stack(DB))
NAMED_DB = changed(DB, identifier="securestack-dev-postgres")
DB_LOG_GROUPS = [changed(replace(ROTATOR_LOGS, name=f"db-{export}-logs"),
                         name=f"/aws/rds/instance/securestack-dev-postgres/{export}")
                 for export in ("postgresql", "upgrade")]
case("rds-log-groups-managed", stack(NAMED_DB, *DB_LOG_GROUPS), stack(NAMED_DB, DB_LOG_GROUPS[0]), stack(NAMED_DB))
case("rds-backup-retention-35-days-in-production", stack(changed(DB, backupRetentionPeriod=35)),
     *variants(DB, {"backupRetentionPeriod": 14}, {"backupRetentionPeriod": DELETE}))
case("rds-backup-retention-35-days-in-production", stack(DB, tier="non-production"))

# -- README's claims: keys -------------------------------------------------------------------------------------

case("kms-key-rotation", stack(changed(DATA_KEY, rotationPeriodInDays=365)),
     *variants(DATA_KEY, {"rotationPeriodInDays": 730}))


def purpose_key(purpose: str) -> Res:
    arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{purpose}-0000-0000"
    tags = {"securestack:env": "dev", "securestack:key-purpose": purpose}
    return Res(KMS_KEY, f"{purpose}-key", {**DATA_KEY.inputs, "tags": tags},
               outputs={**DATA_KEY.inputs, "tags": tags, "id": f"{purpose}-key-id", "arn": arn})


KEYS = {p: purpose_key(p) for p in ("data", "secrets", "logs")}


def keyed(resource: Res, prop: str, purpose: str) -> Res:
    return replace(changed(resource, **{prop: KEYS[purpose].outputs["arn"]}),
                   deps={**resource.deps, prop: [KEYS[purpose].name]})


KEYED = (keyed(DB, "kmsKeyId", "data"), keyed(SECRET, "kmsKeyId", "secrets"), keyed(ROTATOR_LOGS, "kmsKeyId", "logs"))
case("kms-keys-by-purpose", stack(*KEYS.values(), *KEYED),
     stack(*KEYS.values(), keyed(SECRET, "kmsKeyId", "data")),
     stack(*KEYS.values(), keyed(ROTATOR_LOGS, "kmsKeyId", "secrets")),
     stack(*KEYS.values(), replace(KEYS["logs"], name="second-logs-key")),
     stack(DATA_KEY))
# The functions' code bucket (signed rotator archives) and their environments take the secrets key, not the logs key.
CODE_BUCKET = bucket("lambda-code")
CODE_FUNCTION = replace(changed(ROTATOR, s3Bucket="lambda-code", s3Key="signed/rotator.zip"),
                        deps={**ROTATOR.deps, "s3Bucket": ["lambda-code"]})


def code_bucket_sse(purpose: str) -> Res:
    return Res(SSE_TYPE, "lambda-code-sse", {"bucket": "lambda-code", "rules": [{
        "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms",
                                               "kmsMasterKeyId": KEYS[purpose].outputs["arn"]}}]},
               deps={"bucket": ["lambda-code"], "rules": [KEYS[purpose].name]})


case("kms-keys-by-purpose", stack(*KEYS.values(), CODE_BUCKET, CODE_FUNCTION, code_bucket_sse("secrets"),
                                  keyed(ROTATOR, "kmsKeyArn", "secrets")),
     stack(*KEYS.values(), CODE_BUCKET, CODE_FUNCTION, code_bucket_sse("logs")),
     stack(*KEYS.values(), CODE_BUCKET, code_bucket_sse("secrets")),
     stack(*KEYS.values(), keyed(ROTATOR, "kmsKeyArn", "logs")))

# -- README's claims: secrets ----------------------------------------------------------------------------------

case("secret-named-for-environment", stack(SECRET),
     *variants(SECRET, {"name": "securestack/prod/api-keys/storefront"}, {"name": "securestack/dev/misc/storefront"},
               {"name": "storefront"}))
case("secret-recovery-window", stack(SECRET, changed(SECRET, recoveryWindowInDays=30)),
     *variants(SECRET, {"recoveryWindowInDays": 0}, {"recoveryWindowInDays": 7}))
case("secret-recovery-window", stack(changed(SECRET, recoveryWindowInDays=7), tier="non-production"))

ROTATOR_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/securestack-dev-rotator-role"
ROTATOR_ROLE = Res("aws:iam/role:Role", "rotator-role", {"name": "securestack-dev-rotator-role"}, outputs={
    "name": "securestack-dev-rotator-role", "id": "securestack-dev-rotator-role", "arn": ROTATOR_ROLE_ARN})
ROLED_ROTATOR = replace(changed(ROTATOR, role=ROTATOR_ROLE_ARN), deps={**ROTATOR.deps, "role": ["rotator-role"]})
WIRED_ROTATION = replace(ROTATION, deps={"secretId": ["storefront"], "rotationLambdaArn": ["rotator"]})


def deny_except(sid: str, actions, principals: list) -> dict:
    return {"Sid": sid, "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": actions, "Resource": OWN_SECRET_ARN,
            "Condition": {"StringNotEquals": {"aws:PrincipalArn": principals}}}


READS = deny_except("DenyReads", ["secretsmanager:GetSecretValue"], [EXECUTION_ROLE_ARN, ROTATOR_ROLE_ARN])
WRITES = deny_except("DenyWrites", ["secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"],
                     [ROTATOR_ROLE_ARN])
NO_PLAIN = {"Sid": "DenyWithoutTls", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "secretsmanager:*",
            "Resource": OWN_SECRET_ARN, "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def secret_policy(*statements: dict, block: bool = True) -> Res:
    return changed(SECRET_POLICY, policy=policy_document(*statements), blockPublicPolicy=block)


ROTATED = (SECRET, WIRED_ROTATION, ROLED_ROTATOR, ROTATOR_ROLE)
case("secret-resource-policy-deny-only", stack(*ROTATED, secret_policy(READS, WRITES, NO_PLAIN)),
     stack(*ROTATED),
     stack(*ROTATED, secret_policy(READS, WRITES, NO_PLAIN, {"Effect": "Allow", "Principal": {
         "AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "secretsmanager:GetSecretValue", "Resource": "*"})),
     stack(*ROTATED, secret_policy(READS, {**WRITES, "Condition": {"StringNotEquals": {
         "aws:PrincipalArn": [ROTATOR_ROLE_ARN, EXECUTION_ROLE_ARN]}}}, NO_PLAIN)),
     stack(*ROTATED, secret_policy(READS, WRITES)),
     stack(*ROTATED, secret_policy(WRITES, NO_PLAIN)),
     stack(*ROTATED, secret_policy(READS, WRITES, NO_PLAIN, block=False)))

# -- README's claims: rotation functions -----------------------------------------------------------------------

ROTATE_OWN = {"Sid": "RotateOnlySecretsThatNameThisFunction", "Effect": "Allow",
              "Action": ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"],
              "Resource": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:securestack/dev/api-keys/*",
              "Condition": {"StringEquals": {"secretsmanager:resource/AllowRotationLambdaArn": "arn:aws:lambda:x"}}}
KEY_VIA_SECRETS_MANAGER = {"Sid": "SecretsKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                           "Resource": KEY, "Condition": {"StringEquals": {
                               "kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}}


def rotator_policy(*statements: dict) -> Res:
    return Res(ROLE_POLICY_TYPE, "rotator-secrets", {"role": "securestack-dev-rotator-role",
                                                     "policy": policy_document(*statements)},
               deps={"role": ["rotator-role"]})


case("lambda-rotator-role-scoped",
     stack(ROLED_ROTATOR, ROTATOR_ROLE, rotator_policy(ROTATE_OWN, KEY_VIA_SECRETS_MANAGER, LOG_WRITE)),
     stack(ROLED_ROTATOR, ROTATOR_ROLE, rotator_policy({**ROTATE_OWN, "Condition": {}}, KEY_VIA_SECRETS_MANAGER)),
     stack(ROLED_ROTATOR, ROTATOR_ROLE, rotator_policy(ROTATE_OWN, {**KEY_VIA_SECRETS_MANAGER, "Condition": {}})),
     stack(ROLED_ROTATOR, ROTATOR_ROLE, replace(ROLED_ROTATOR, name="second-rotator")))

# -- README's claims: app --------------------------------------------------------------------------------------

CLUSTER = Res("aws:ecs/cluster:Cluster", "cluster", {"name": "securestack-dev", "settings": [
    {"name": "containerInsights", "value": "enabled"}]})
case("ecs-container-insights", stack(CLUSTER),
     *variants(CLUSTER, {"settings": [{"name": "containerInsights", "value": "disabled"}]}, {"settings": DELETE}))
HARDENED = {"user": "10001:10001", "linuxParameters": {"capabilities": {"drop": ["ALL"]}}}
case("ecs-non-root-no-capabilities", stack(task(**HARDENED)),
     stack(task(**{**HARDENED, "user": DELETE})), stack(task(**{**HARDENED, "user": "0"})),
     stack(task(**{**HARDENED, "user": "root:root"})), stack(task(**{**HARDENED, "linuxParameters": {}})),
     stack(task(**{**HARDENED, "linuxParameters": {"capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}}})))


def execution_policy(*resources: str) -> Res:
    return replace(changed(ROLE_POLICY, role="securestack-dev-app-execution", policy=policy_document(
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": list(resources)})),
        deps={"role": ["execution-role"]})


case("ecs-execution-role-reads-only-injected-secrets",
     stack(task(), EXECUTION_ROLE, execution_policy(OWN_SECRET_ARN)),
     stack(task(), EXECUTION_ROLE, execution_policy(OWN_SECRET_ARN, ADMIN_SECRET_ARN)),
     stack(task(), EXECUTION_ROLE, execution_policy(
         f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:securestack/dev/*")))
TASK_ROLE = Res("aws:iam/role:Role", "task-role", {"name": "securestack-dev-app-task"}, outputs={
    "name": "securestack-dev-app-task", "id": "securestack-dev-app-task", "arn": TASK_ROLE_ARN})
TASK_DECRYPT = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY, "Condition": {"StringEquals": {
    "kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}}
TASK_READS = Res(ROLE_POLICY_TYPE, "task-role-secrets", {"role": "securestack-dev-app-task", "policy": policy_document(
    {"Effect": "Allow", "Action": "secretsmanager:DescribeSecret", "Resource": [OWN_SECRET_ARN]},
    {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": [OWN_SECRET_ARN]}, TASK_DECRYPT)},
    deps={"role": ["task-role"]})
case("ecs-task-role-grants-only-runtime-secret-reads", stack(task(), TASK_ROLE, TASK_READS))
case("ecs-task-role-grants-only-runtime-secret-reads", stack(task(), TASK_ROLE),
     stack(task(), changed(TASK_ROLE, managedPolicyArns=["arn:aws:iam::aws:policy/ReadOnlyAccess"])),
     stack(task(), TASK_ROLE, Res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "task-admin", {
         "role": "securestack-dev-app-task", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
         deps={"role": ["task-role"]})),
     stack(task(), TASK_ROLE, changed(TASK_READS, policy=policy_document(
         {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"}))),
     stack(task(), TASK_ROLE, changed(TASK_READS, policy=policy_document({**TASK_DECRYPT, "Condition": {}}))))

WAITING_SERVICE = replace(changed(SERVICE, taskDefinition=f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/app:1",
                                  waitForSteadyState=True),
                          deps={"taskDefinition": ["task"], "dependsOn": ["storefront-ready"]})
case("ecs-service-waits-for-its-secrets", stack(SECRET, READINESS, task(), WAITING_SERVICE),
     stack(SECRET, READINESS, task(), changed(WAITING_SERVICE, waitForSteadyState=False)),
     stack(SECRET, READINESS, task(), replace(WAITING_SERVICE, deps={"taskDefinition": ["task"]})),
     stack(SECRET, task(), WAITING_SERVICE))
# a secret whose ARN is only configuration (read at run time, reloaded) is not waited for
case("ecs-service-waits-for-its-secrets", stack(SECRET, task(secrets=[], environment=[
    {"name": "SECURESTACK_API_KEY_VERIFIERS", "value": json.dumps([OWN_SECRET_ARN])}]), WAITING_SERVICE))

# -- component docstrings' claims ------------------------------------------------------------------------------

LOGS_SERVICE = {"Sid": "CloudWatchLogs", "Effect": "Allow", "Principal": {"Service": "logs.us-east-1.amazonaws.com"},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*"], "Resource": "*",
                "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                          f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:*"}}}
case("kms-key-policy-service-grants-bounded", stack(changed(DATA_KEY, policy=policy_document(ACCOUNT_ROOT,
                                                                                             LOGS_SERVICE))),
     *variants(DATA_KEY, {"policy": policy_document(ACCOUNT_ROOT, {**LOGS_SERVICE, "Condition": {}})},
               {"policy": policy_document({**LOGS_SERVICE, "Principal": {"Service": ["cloudtrail.amazonaws.com"]},
                                           "Condition": {}})}))
BACKUP_ROLE = Res("aws:iam/role:Role", "backup-role", {"assumeRolePolicy": policy_document(
    {"Effect": "Allow", "Principal": {"Service": "backup.amazonaws.com"}, "Action": "sts:AssumeRole"})})
# CloudTrail's role for CloudWatch Logs: its documented trust has no condition (README "Audit").
TRAIL_LOGS_ROLE = Res("aws:iam/role:Role", "trail-logs-role", {"assumeRolePolicy": policy_document(
    {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "sts:AssumeRole"})})
case("iam-service-trust-bound-to-account", stack(ROLE, BACKUP_ROLE, TRAIL_LOGS_ROLE),
     *variants(ROLE, {"assumeRolePolicy": policy_document({"Effect": "Allow", "Principal": {
         "Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"})},
               {"assumeRolePolicy": policy_document({"Effect": "Allow", "Principal": {"Service": [
                   "lambda.amazonaws.com", "backup.amazonaws.com"]}, "Action": "sts:AssumeRole"})}))
APP_SG = Res(SG_TYPE, "app-sg", {"description": "app: from the load balancer only", "vpcId": "vpc-id", "ingress": [
    {"protocol": "tcp", "fromPort": 8443, "toPort": 8443, "securityGroups": ["alb-sg-id"], "description": "ALB"}]},
    deps={"ingress": ["alb-sg"]})
PLACED_SERVICE = replace(changed(SERVICE, networkConfiguration={"assignPublicIp": False, "subnets": ["subnet-a-id"],
                                                                "securityGroups": ["app-sg-id"]}),
                         deps={"networkConfiguration": ["app-sg"]})
LB_FRONTED = (PLACED_SERVICE, ALB_SG, FRONTED_LB)
case("ecs-ingress-only-from-load-balancer", stack(*LB_FRONTED, APP_SG),
     stack(*LB_FRONTED, changed(APP_SG, ingress=[{"protocol": "tcp", "fromPort": 8443, "toPort": 8443,
                                                  "cidrBlocks": ["10.20.0.0/16"], "description": "VPC"}])),
     stack(*LB_FRONTED, APP_SG, Res(INGRESS_TYPE, "app-from-db", {
         "securityGroupId": "app-sg-id", "ipProtocol": "tcp", "fromPort": 8443, "toPort": 8443,
         "referencedSecurityGroupId": "db-sg-id", "description": "db"}, deps={
             "securityGroupId": ["app-sg"], "referencedSecurityGroupId": ["db-sg"]}), DB_SG))
API_KEY_TAGS = {"securestack:env": "dev", "securestack:name": "storefront", "securestack:kind": "api-key",
                "securestack:scopes": "products:read", "securestack:key-prefix": "sk_live_"}
TAGGED_KEY = changed(SECRET, tags=API_KEY_TAGS)
WEBHOOK_TAGS = {"securestack:env": "dev", "securestack:name": "order-events", "securestack:kind": "webhook-secret"}
case("secret-metadata-tags", stack(TAGGED_KEY, changed(SECRET, tags=WEBHOOK_TAGS)),
     *variants(TAGGED_KEY, {"tags": {**API_KEY_TAGS, "securestack:key-prefix": "sk_test_"}},
               {"tags": {k: v for k, v in API_KEY_TAGS.items() if k != "securestack:scopes"}},
               {"tags": {"securestack:env": "dev"}}))
case("secret-metadata-tags", stack(changed(SECRET, tags={**API_KEY_TAGS, "securestack:key-prefix": "sk_test_"}),
                                   tier="non-production"))

# -- a rotator that redeploys the app: its failed redeploys are alarmed -----------------------------------------

REDEPLOY_ROLE = Res("aws:iam/role:Role", "rotator-role", {"assumeRolePolicy": policy_document()})
REDEPLOYER = replace(changed(ROTATOR, role=f"arn:aws:iam::{ACCOUNT}:role/rotator-role"),
                     deps={**ROTATOR.deps, "role": ["rotator-role"]})
REDEPLOY_GRANT = Res(ROLE_POLICY_TYPE, "rotator-secrets", {"role": "rotator-role-id", "policy": policy_document(
    {"Effect": "Allow", "Action": "ecs:UpdateService",
     "Resource": f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/app/api"})}, deps={"role": ["rotator-role"]})
REDEPLOY_METRIC = {"name": "RotatorRedeployFailures", "namespace": "securestack/dev/rotation", "value": "1"}
REDEPLOY_FILTER = Res("aws:cloudwatch/logMetricFilter:LogMetricFilter", "rotator-redeploy-failures-filter", {
    "name": "securestack-dev-rotator-redeploy-failures", "logGroupName": "/aws/lambda/securestack-dev-rotator",
    "pattern": '{ $.outcome = "redeploy-failed" }', "metricTransformation": REDEPLOY_METRIC},
    deps={"logGroupName": ["rotator-logs"]})
REDEPLOY_ALARM = Res("aws:cloudwatch/metricAlarm:MetricAlarm", "rotator-redeploy-failures-alarm", {
    "name": "securestack-dev-rotator-redeploy-failures", "metricName": "RotatorRedeployFailures",
    "namespace": "securestack/dev/rotation", "statistic": "Sum", "period": 300, "evaluationPeriods": 1,
    "threshold": 1, "comparisonOperator": "GreaterThanOrEqualToThreshold",
    "alarmActions": [arn_of("aws:sns/topic:Topic", "alarms")]}, deps={"alarmActions": ["alarms"]})
REDEPLOYING = (REDEPLOYER, ROTATOR_LOGS, REDEPLOY_ROLE, REDEPLOY_GRANT)
case("lambda-redeploy-failures-alarmed", stack(*REDEPLOYING, REDEPLOY_FILTER, REDEPLOY_ALARM, TOPIC),
     stack(*REDEPLOYING, REDEPLOY_FILTER, TOPIC),
     stack(*REDEPLOYING, changed(REDEPLOY_FILTER, pattern='{ $.level = "ERROR" }'), REDEPLOY_ALARM, TOPIC),
     stack(*REDEPLOYING, REDEPLOY_FILTER, replace(changed(REDEPLOY_ALARM, alarmActions=[]), deps={}), TOPIC),
     stack(*REDEPLOYING, replace(REDEPLOY_FILTER, deps={}, inputs={**REDEPLOY_FILTER.inputs,
                                                                   "logGroupName": "/elsewhere"}),
           REDEPLOY_ALARM, TOPIC))


# -- issue 15: the secret age function and its alarms ---------------------------------------------------------

EVENT_RULE_TYPE, EVENT_TARGET_TYPE = "aws:cloudwatch/eventRule:EventRule", "aws:cloudwatch/eventTarget:EventTarget"
AGE_NAMESPACE = "Securestack/Secrets"
MEASURED_KEY = Res(SECRET_TYPE, "stackbe", {"name": "securestack/dev/api-keys/stackbe", "kmsKeyId": KEY, "tags": {
    "securestack:env": "dev", "securestack:kind": "api-key", "securestack:issuer": "vendor"}})
AGE_ROLE = Res("aws:iam/role:Role", "secret-age-role", {"name": "securestack-dev-secret-age-role",
                                                        "assumeRolePolicy": policy_document()})
PUBLISH_AGES = {"Sid": "PublishSecretMetricsOnly", "Effect": "Allow", "Action": "cloudwatch:PutMetricData",
                "Resource": "*", "Condition": {"StringEquals": {"cloudwatch:namespace": AGE_NAMESPACE}}}
DESCRIBE_SECRETS = {"Effect": "Allow", "Action": ["secretsmanager:DescribeSecret",
                                                  "secretsmanager:ListSecretVersionIds"],
                    "Resource": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:securestack/dev/*"}
AGE_GRANT = Res(ROLE_POLICY_TYPE, "secret-age-check", {"role": "secret-age-role-id", "policy": policy_document(
    PUBLISH_AGES, DESCRIBE_SECRETS)}, deps={"role": ["secret-age-role"]})
AGE_FUNCTION = Res(FUNCTION, "secret-age-function", {
    "name": "securestack-dev-secret-age", "role": arn_of("aws:iam/role:Role", "secret-age-role")},
    deps={"role": ["secret-age-role"]})
AGE_RULE = Res(EVENT_RULE_TYPE, "secret-age-schedule", {"name": "securestack-dev-secret-age",
                                                        "scheduleExpression": "rate(1 day)"})
AGE_TARGET = Res(EVENT_TARGET_TYPE, "secret-age-target", {
    "rule": "securestack-dev-secret-age", "arn": arn_of(FUNCTION, "secret-age-function")},
    deps={"rule": ["secret-age-schedule"], "arn": ["secret-age-function"]})
AGE_INVOKE = Res("aws:lambda/permission:Permission", "secret-age-invoke", {
    "function": "securestack-dev-secret-age", "action": "lambda:InvokeFunction", "principal": "events.amazonaws.com",
    "sourceArn": arn_of(EVENT_RULE_TYPE, "secret-age-schedule")},
    deps={"function": ["secret-age-function"], "sourceArn": ["secret-age-schedule"]})


def age_alarm(metric: str, **changes) -> Res:
    alarm = Res(ALARM_TYPE, f"{metric}-alarm", {
        "name": f"securestack-dev-{metric}", "namespace": AGE_NAMESPACE, "metricName": metric,
        "dimensions": {"Environment": "dev"}, "statistic": "Maximum", "period": 86400, "evaluationPeriods": 1,
        "threshold": 0, "comparisonOperator": "GreaterThanThreshold", "treatMissingData": "breaching",
        "actionsEnabled": True, "alarmActions": [arn_of("aws:sns/topic:Topic", "alarms")],
        "okActions": [arn_of("aws:sns/topic:Topic", "alarms")]}, deps={"alarmActions": ["alarms"], "okActions": ["alarms"]})
    return changed(alarm, **changes)


AGE_COUNTS = ("OverdueSecrets", "SecretsWithoutCurrentValue", "CompromisedSecrets")
AGE_ALARMS = tuple(age_alarm(metric) for metric in AGE_COUNTS)
AGE_ERRORS_ALARM = Res(ALARM_TYPE, "secret-age-errors-alarm", {
    "namespace": "AWS/Lambda", "metricName": "Errors", "dimensions": {"FunctionName": "securestack-dev-secret-age"},
    "statistic": "Sum", "period": 86400, "evaluationPeriods": 1, "threshold": 0,
    "comparisonOperator": "GreaterThanThreshold", "alarmActions": [arn_of("aws:sns/topic:Topic", "alarms")]},
    deps={"alarmActions": ["alarms"], "dimensions": ["secret-age-function"]})
AGE_FUNCTION_PARTS = (AGE_ROLE, AGE_GRANT, AGE_FUNCTION, AGE_RULE, AGE_TARGET, AGE_INVOKE, AGE_ERRORS_ALARM)


def age_stack(*parts: Res, alarms: tuple = AGE_ALARMS) -> Stack:
    return stack(MEASURED_KEY, TOPIC, *parts, *alarms)


def without(parts: tuple, name: str, *replacements: Res) -> tuple:
    return tuple(part for part in parts if part.name != name) + replacements


case("secret-age-alarmed", age_stack(*AGE_FUNCTION_PARTS),
     age_stack(),  # no age function at all
     age_stack(*without(AGE_FUNCTION_PARTS, "secret-age-schedule",
                        changed(AGE_RULE, scheduleExpression="rate(7 days)"))),
     age_stack(*without(AGE_FUNCTION_PARTS, "secret-age-schedule",
                        changed(AGE_RULE, scheduleExpression="cron(0 6 ? * MON *)"))),
     age_stack(*without(AGE_FUNCTION_PARTS, "secret-age-invoke")),  # EventBridge may not invoke it
     age_stack(*without(AGE_FUNCTION_PARTS, "secret-age-check", changed(AGE_GRANT, policy=policy_document(
         {**PUBLISH_AGES, "Condition": {"StringEquals": {"cloudwatch:namespace": "Elsewhere"}}}, DESCRIBE_SECRETS)))),
     age_stack(*without(AGE_FUNCTION_PARTS, "secret-age-check", changed(AGE_GRANT, policy=policy_document(
         PUBLISH_AGES, {**DESCRIBE_SECRETS, "Action": ["secretsmanager:DescribeSecret",
                                                       "secretsmanager:GetSecretValue"]})))),
     age_stack(*AGE_FUNCTION_PARTS, alarms=AGE_ALARMS[:2]),  # nothing watches CompromisedSecrets
     age_stack(*AGE_FUNCTION_PARTS, alarms=(*AGE_ALARMS[1:], age_alarm("OverdueSecrets",
                                                                       treatMissingData="notBreaching"))),
     age_stack(*AGE_FUNCTION_PARTS, alarms=(*AGE_ALARMS[1:], age_alarm("OverdueSecrets",
                                                                       dimensions={"Environment": "prod"}))),
     age_stack(*AGE_FUNCTION_PARTS, alarms=(*AGE_ALARMS[1:], age_alarm("OverdueSecrets", threshold=5))),
     age_stack(*AGE_FUNCTION_PARTS, alarms=(*AGE_ALARMS[1:], replace(age_alarm("OverdueSecrets", alarmActions=[]),
                                                                     deps={"okActions": ["alarms"]}))),
     age_stack(*AGE_FUNCTION_PARTS, alarms=(*AGE_ALARMS[1:], replace(age_alarm("OverdueSecrets", okActions=[]),
                                                                     deps={"alarmActions": ["alarms"]}))),
     age_stack(*without(AGE_FUNCTION_PARTS, "secret-age-errors-alarm")))
# Only keys and webhook secrets call for it (the database login has its rotator and the audit's rotation alarm).
case("secret-age-alarmed", stack(changed(MEASURED_KEY, tags={"securestack:env": "dev",
                                                             "securestack:kind": "database-user"})))


# -- issue 12: verifier records, and who reads and writes what -------------------------------------------------

def secret_arn(name: str) -> str:
    return f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{name}-AbCdEf"


def secret_res(resource: str, name: str, kind: str, **tags: str) -> Res:
    inputs = {"name": name, "description": resource, "kmsKeyId": KEY,
              "tags": {"securestack:env": "dev", "securestack:kind": kind, **tags}}
    return Res(SECRET_TYPE, resource, inputs, outputs={**inputs, "id": secret_arn(name), "arn": secret_arn(name)})


def role_res(name: str) -> Res:
    arn = f"arn:aws:iam::{ACCOUNT}:role/{name}"
    inputs = {"name": name, "assumeRolePolicy": policy_document()}
    return Res("aws:iam/role:Role", name, inputs, outputs={**inputs, "id": name, "arn": arn})


def grant(name: str, role: str, *statements: dict) -> Res:
    return Res(ROLE_POLICY_TYPE, name, {"role": role, "policy": policy_document(*statements)}, deps={"role": [role]})


KEY_NAME, RECORD_NAME = "securestack/dev/api-keys/checkout", "securestack/dev/api-key-verifiers/checkout"
KEY_ARN_, RECORD_ARN = secret_arn(KEY_NAME), secret_arn(RECORD_NAME)
HOOK_ARN = secret_arn("securestack/dev/webhooks/order-events")
VERIFIED_KEY = secret_res("checkout", KEY_NAME, "api-key", **{"securestack:verifier-secret": RECORD_NAME,
                                                             "securestack:scopes": "orders:write"})
VERIFIER_RECORD = secret_res("checkout-verifier", RECORD_NAME, "api-key-verifier",
                             **{"securestack:key-secret": KEY_NAME})
HOOK = secret_res("order-events", "securestack/dev/webhooks/order-events", "webhook-secret")
KEY_ROTATOR_ROLE, TASK_ROLE = role_res("securestack-dev-api-key-rotation-role"), role_res("securestack-dev-app-task")
KEY_ROTATOR = Res(FUNCTION, "key-rotator", {"name": "securestack-dev-api-key-rotation",
                                            "role": KEY_ROTATOR_ROLE.outputs["arn"]},
                  outputs={"name": "securestack-dev-api-key-rotation", "role": KEY_ROTATOR_ROLE.outputs["arn"],
                           "id": "key-rotator", "arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:key-rotator"},
                  deps={"role": [KEY_ROTATOR_ROLE.name]})
KEY_ROTATION = Res(ROTATION_TYPE, "checkout-rotation", {
    "secretId": KEY_ARN_, "rotationLambdaArn": KEY_ROTATOR.outputs["arn"],
    "rotationRules": {"automaticallyAfterDays": 90}},
    deps={"secretId": ["checkout"], "rotationLambdaArn": ["key-rotator"]})


def record_policy(writers: list) -> Res:
    return Res("aws:secretsmanager/secretPolicy:SecretPolicy", "checkout-verifier-policy", {
        "secretArn": RECORD_ARN, "blockPublicPolicy": True, "policy": policy_document(
            {"Sid": "DenyValueChangesExceptRotator", "Effect": "Deny", "Principal": {"AWS": "*"},
             "Action": ["secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"],
             "Resource": RECORD_ARN, "Condition": {"StringNotEquals": {"aws:PrincipalArn": writers}}})},
        deps={"secretArn": ["checkout-verifier"]})


RECORD_POLICY = record_policy([KEY_ROTATOR_ROLE.outputs["arn"]])
WRITE_RECORDS = {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"],
                 "Resource": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:securestack/dev/api-key-verifiers/*"}
ROTATOR_GRANT = grant("key-rotator-secrets", KEY_ROTATOR_ROLE.name, WRITE_RECORDS)
VERIFIER_WORLD = (VERIFIED_KEY, VERIFIER_RECORD, KEY_ROTATOR_ROLE, KEY_ROTATOR, KEY_ROTATION, RECORD_POLICY)

case("secret-rotation-configured", stack(*VERIFIER_WORLD),  # the record rotates with its key
     stack(VERIFIED_KEY, VERIFIER_RECORD, KEY_ROTATOR_ROLE, KEY_ROTATOR, RECORD_POLICY),
     stack(*VERIFIER_WORLD, secret_res("stray", "securestack/dev/api-key-verifiers/stray", "api-key-verifier")))
case("api-key-has-verifier-record", stack(*VERIFIER_WORLD),
     stack(VERIFIED_KEY, KEY_ROTATOR_ROLE, KEY_ROTATOR, KEY_ROTATION),
     stack(changed(VERIFIED_KEY, tags={"securestack:env": "dev", "securestack:kind": "api-key"}), *VERIFIER_WORLD[1:]),
     stack(VERIFIED_KEY, changed(VERIFIER_RECORD, kmsKeyId=KEY.replace("1111", "9999")), *VERIFIER_WORLD[2:]),
     stack(*VERIFIER_WORLD[:-1], record_policy([KEY_ROTATOR_ROLE.outputs["arn"], TASK_ROLE.outputs["arn"]])),
     stack(*VERIFIER_WORLD[:-1]))

APP_TASK = Res(TASK_TYPE, "task", {"family": "securestack-dev-app", "executionRoleArn": EXECUTION_ROLE_ARN,
                                   "taskRoleArn": TASK_ROLE.outputs["arn"],
                                   "containerDefinitions": json.dumps([{**CONTAINER, "secrets": []}])},
               deps={"taskRoleArn": [TASK_ROLE.name]})
FIND_RECORDS = {"Effect": "Allow", "Action": "secretsmanager:DescribeSecret", "Resource": [KEY_ARN_]}
READ_RECORDS = {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": [RECORD_ARN, HOOK_ARN]}
APP_WORLD = (VERIFIED_KEY, VERIFIER_RECORD, HOOK, TASK_ROLE, APP_TASK)
case("app-task-role-reads-only-verifier-records-and-webhook-secrets",
     stack(*APP_WORLD, grant("task-secrets", TASK_ROLE.name, FIND_RECORDS, READ_RECORDS)),
     stack(*APP_WORLD, grant("task-secrets", TASK_ROLE.name, {**READ_RECORDS, "Resource": [RECORD_ARN, KEY_ARN_]})),
     stack(*APP_WORLD, grant("task-secrets", TASK_ROLE.name, {**FIND_RECORDS, "Action": "secretsmanager:Get*"})),
     stack(*APP_WORLD, grant("task-secrets", TASK_ROLE.name, {
         **READ_RECORDS, "Resource": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:securestack/dev/*"})))
case("verifier-records-written-only-by-this-environments-key-rotators",
     stack(*VERIFIER_WORLD, ROTATOR_GRANT, TASK_ROLE, grant("task-secrets", TASK_ROLE.name, READ_RECORDS)),
     stack(*VERIFIER_WORLD, TASK_ROLE,
           grant("task-secrets", TASK_ROLE.name, {**WRITE_RECORDS, "Resource": RECORD_ARN})),
     stack(*VERIFIER_WORLD, grant("key-rotator-secrets", KEY_ROTATOR_ROLE.name, {
         **WRITE_RECORDS, "Resource": WRITE_RECORDS["Resource"].replace("/dev/", "/*/")})),
     stack(*VERIFIER_WORLD, grant("key-rotator-secrets", KEY_ROTATOR_ROLE.name, {
         **WRITE_RECORDS, "Action": "secretsmanager:*", "Resource": "*"})))

KEY_VALUE_TASK = replace(task(secrets=[{"name": "CHECKOUT_KEY", "valueFrom": f"{KEY_ARN_}:key::"}]),
                         deps={"containerDefinitions": ["checkout"]})
EXPOSED_SERVICE = (TARGET_GROUP, APP_LISTENER, LOAD_BALANCER, APP_SERVICE)
case("no-key-value-in-internet-facing-service",
     stack(*APP_WORLD[:3], TASK_ROLE, replace(changed(APP_TASK, containerDefinitions=json.dumps([{
         **CONTAINER, "secrets": [], "environment": [{"name": "SECURESTACK_API_KEY_VERIFIERS",
                                                       "value": json.dumps([KEY_ARN_])}]}])),
         deps={"taskRoleArn": [TASK_ROLE.name], "containerDefinitions": ["checkout"]}),
         grant("task-secrets", TASK_ROLE.name, FIND_RECORDS, READ_RECORDS), *EXPOSED_SERVICE),
     stack(VERIFIED_KEY, KEY_VALUE_TASK, *EXPOSED_SERVICE),
     stack(*APP_WORLD, grant("task-secrets", TASK_ROLE.name, {**READ_RECORDS, "Resource": "*"}), *EXPOSED_SERVICE))
# the app's runtime configuration: JSON of ARNs is a reference, JSON of anything else is not
case("ecs-no-secrets-in-environment", stack(task(environment=[
    {"name": "SECURESTACK_WEBHOOK_SECRETS", "value": json.dumps({"order-events": HOOK_ARN})},
    {"name": "SECURESTACK_API_KEY_VERIFIERS", "value": json.dumps([KEY_ARN_])}])),
     stack(task(environment=[{"name": "SECURESTACK_WEBHOOK_SECRETS", "value": json.dumps({"x": "Zx9sQ2pL0aVb7Yt4"})}])))

# -- issue 15: vendor-issued secrets -----------------------------------------------------------------------------

OPERATOR_ROLE = role_res("securestack-dev-secrets-operator")
OPERATOR_ARN = OPERATOR_ROLE.outputs["arn"]
VENDOR_KEY_NAME = "securestack/dev/api-keys/stackbe"
VENDOR_KEY_ARN = secret_arn(VENDOR_KEY_NAME)
VENDOR_TAGS = {"securestack:name": "stackbe", "securestack:issuer": "vendor", "securestack:vendor": "stackbe",
               "securestack:rotation-days": "90", "securestack:scopes": "app:read"}
VENDOR_KEY = secret_res("stackbe", VENDOR_KEY_NAME, "api-key", **VENDOR_TAGS)
EXECUTION_ROLE_RES = role_res("securestack-dev-app-execution")


def vendor_policy(readers: list, writers: list, secret: str = VENDOR_KEY_ARN, resource: str = "stackbe",
                  tls: bool = True) -> Res:
    reads = {"Sid": "DenyReadsExceptConsumers", "Effect": "Deny", "Principal": {"AWS": "*"},
             "Action": ["secretsmanager:GetSecretValue"], "Resource": secret}
    if readers:
        reads["Condition"] = {"StringNotEquals": {"aws:PrincipalArn": readers}}
    return Res("aws:secretsmanager/secretPolicy:SecretPolicy", f"{resource}-policy", {
        "secretArn": secret, "blockPublicPolicy": True, "policy": policy_document(
            reads,
            {"Sid": "DenyValueChangesExceptOperators", "Effect": "Deny", "Principal": {"AWS": "*"},
             "Action": ["secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"],
             "Resource": secret, "Condition": {"StringNotEquals": {"aws:PrincipalArn": writers}}},
            *([{"Sid": "DenyWithoutTls", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "secretsmanager:*",
                "Resource": secret, "Condition": {"Bool": {"aws:SecureTransport": "false"}}}] if tls else []))},
        deps={"secretArn": [resource]})


VENDOR_POLICY = vendor_policy([EXECUTION_ROLE_ARN], [OPERATOR_ARN])
VENDOR_APP_TASK = Res(TASK_TYPE, "task", {
    "family": "securestack-dev-app", "executionRoleArn": EXECUTION_ROLE_ARN, "taskRoleArn": TASK_ROLE.outputs["arn"],
    "containerDefinitions": json.dumps([{**CONTAINER, "secrets": [
        {"name": "STACKBE_API_KEY", "valueFrom": f"{VENDOR_KEY_ARN}:key::"}]}])},
    deps={"executionRoleArn": ["securestack-dev-app-execution"], "taskRoleArn": [TASK_ROLE.name],
          "containerDefinitions": ["stackbe"]})
VENDOR_WORLD = (VENDOR_KEY, VENDOR_POLICY, OPERATOR_ROLE, EXECUTION_ROLE_RES, TASK_ROLE, VENDOR_APP_TASK,
                KEY_ROTATOR_ROLE, KEY_ROTATOR)
VENDOR_ROTATION = Res(ROTATION_TYPE, "stackbe-rotation", {
    "secretId": VENDOR_KEY_ARN, "rotationLambdaArn": KEY_ROTATOR.outputs["arn"],
    "rotationRules": {"automaticallyAfterDays": 90}}, deps={"secretId": ["stackbe"], "rotationLambdaArn": ["key-rotator"]})


def vendor_key_tagged(**tags) -> Res:
    return changed(VENDOR_KEY, tags={k: v for k, v in {**VENDOR_KEY.inputs["tags"], **tags}.items() if v is not DELETE})


case("vendor-secret-staged-by-operators-only", stack(*VENDOR_WORLD),
     stack(vendor_key_tagged(**{"securestack:rotation-days": DELETE}), *VENDOR_WORLD[1:]),
     stack(vendor_key_tagged(**{"securestack:rotation-days": "120"}), *VENDOR_WORLD[1:]),
     stack(vendor_key_tagged(**{"securestack:rotation-days": "0"}), *VENDOR_WORLD[1:]),
     stack(vendor_key_tagged(**{"securestack:vendor": DELETE}), *VENDOR_WORLD[1:]),
     stack(*VENDOR_WORLD, VENDOR_ROTATION),
     stack(VENDOR_KEY, *VENDOR_WORLD[2:]),  # no resource policy
     stack(VENDOR_KEY, vendor_policy([EXECUTION_ROLE_ARN], [OPERATOR_ARN, EXECUTION_ROLE_ARN]), *VENDOR_WORLD[2:]),
     stack(VENDOR_KEY, vendor_policy([EXECUTION_ROLE_ARN], [KEY_ROTATOR_ROLE.outputs["arn"]]), *VENDOR_WORLD[2:]),
     stack(VENDOR_KEY, vendor_policy([EXECUTION_ROLE_ARN], [OPERATOR_ARN, TASK_ROLE.outputs["arn"]]),
           *VENDOR_WORLD[2:]))
# a vendor's value has no rotation function; a secret that is not tagged vendor-issued still needs one
case("secret-rotation-configured", stack(*VENDOR_WORLD),
     stack(vendor_key_tagged(**{"securestack:issuer": "self"}), *VENDOR_WORLD[1:]),
     stack(vendor_key_tagged(**{"securestack:issuer": DELETE}), *VENDOR_WORLD[1:]))
# the vendor verifies the keys it issues: no verifier record; a self-issued key still needs one
case("api-key-has-verifier-record", stack(*VENDOR_WORLD),
     stack(vendor_key_tagged(**{"securestack:issuer": "self"}), *VENDOR_WORLD[1:]))
# the operators write, nobody else; a vendor secret nobody consumes denies every read
case("secret-resource-policy-deny-only", stack(*VENDOR_WORLD),
     stack(VENDOR_KEY, vendor_policy([EXECUTION_ROLE_ARN], [OPERATOR_ARN], tls=False), *VENDOR_WORLD[2:]))
case("secret-resource-policy-deny-only", stack(VENDOR_KEY, vendor_policy([], [OPERATOR_ARN]), *VENDOR_WORLD[2:]))
# a vendor that marks no tier in its keys: no key prefix (a self-issued key still needs one)
case("secret-metadata-tags", stack(VENDOR_KEY),
     stack(vendor_key_tagged(**{"securestack:issuer": "self"})))
# the app calls its vendor with the vendor's key: not a value of a key this API verifies
case("no-key-value-in-internet-facing-service",
     stack(VENDOR_KEY, replace(VENDOR_APP_TASK, name="task"), *EXPOSED_SERVICE),
     stack(vendor_key_tagged(**{"securestack:issuer": "self"}), replace(VENDOR_APP_TASK, name="task"),
           *EXPOSED_SERVICE))
# a vendor-issued key with '*' is still never given to an internet-facing service
case("no-wildcard-key-in-internet-facing-service", stack(VENDOR_KEY, VENDOR_APP_TASK, *EXPOSED_SERVICE),
     stack(vendor_key_tagged(**{"securestack:scopes": "ALL_SCOPES"}), VENDOR_APP_TASK, *EXPOSED_SERVICE))
# verifying a vendor's webhooks lists the secret's versions (when current was created starts the grace)
VENDOR_HOOK_ARN = secret_arn("securestack/dev/webhooks/barecommerce-orders")
case("ecs-task-role-grants-only-runtime-secret-reads", stack(task(), TASK_ROLE, grant(
    "task-role-secrets", TASK_ROLE.name, {"Effect": "Allow", "Action": [
        "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:ListSecretVersionIds"],
        "Resource": [VENDOR_HOOK_ARN]}, TASK_DECRYPT)),
     stack(task(), TASK_ROLE, grant("task-role-secrets", TASK_ROLE.name, {"Effect": "Allow", "Action": [
         "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"], "Resource": [VENDOR_HOOK_ARN]})))
# the app's tasks wait for a vendor key's readiness check (vendor mode: no rotation function)
VENDOR_READINESS = Res("pulumi-python:dynamic/securestack:SecretReadiness", "stackbe-ready", {
    "secretArn": VENDOR_KEY_ARN, "rotationDays": 90, "timeoutSeconds": 600}, deps={"secretArn": ["stackbe"]},
    provider=False)
VENDOR_WAITING_SERVICE = replace(WAITING_SERVICE, deps={"taskDefinition": ["task"], "dependsOn": ["stackbe-ready"]})
case("ecs-service-waits-for-its-secrets", stack(VENDOR_KEY, VENDOR_READINESS, VENDOR_APP_TASK, VENDOR_WAITING_SERVICE),
     stack(VENDOR_KEY, VENDOR_READINESS, VENDOR_APP_TASK, replace(WAITING_SERVICE, deps={"taskDefinition": ["task"]})))

DATABASE_LOGIN_NAME = "securestack/dev/database/app"
DATABASE_LOGIN = secret_res("database-login", DATABASE_LOGIN_NAME, "postgres-user")


def injecting(*references: tuple[str, str]) -> Res:
    return changed(VENDOR_APP_TASK, containerDefinitions=json.dumps([{**CONTAINER, "secrets": [
        {"name": name, "valueFrom": value_from} for name, value_from in references]}]))


DB_LOGIN_ARN = secret_arn(DATABASE_LOGIN_NAME)
case("ecs-injects-only-database-login-and-vendor-keys",
     stack(VENDOR_KEY, DATABASE_LOGIN, HOOK, VERIFIED_KEY, VERIFIER_RECORD, injecting(
         ("DB_USERNAME", f"{DB_LOGIN_ARN}:username::"), ("DB_PASSWORD", f"{DB_LOGIN_ARN}:password::"),
         ("STACKBE_API_KEY", f"{VENDOR_KEY_ARN}:key::"))),
     stack(VENDOR_KEY, VERIFIED_KEY, injecting(("CHECKOUT_KEY", f"{KEY_ARN_}:key::"))),
     stack(VERIFIER_RECORD, injecting(("RECORD", f"{RECORD_ARN}:current::"))),
     stack(HOOK, injecting(("ORDER_EVENTS_SECRET", f"{HOOK_ARN}:secret::"))),
     stack(vendor_key_tagged(**{"securestack:scopes": "ALL_SCOPES"}),
           injecting(("STACKBE_API_KEY", f"{VENDOR_KEY_ARN}:key::"))),
     stack(VENDOR_KEY, injecting(("ELSEWHERE", f"{secret_arn('securestack/dev/api-keys/unknown')}:key::"))))
