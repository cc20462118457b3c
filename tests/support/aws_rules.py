"""What AWS accepts, as data: each resource type's API mapping (botocore models) and the documented rules.

Adding a resource type is one entry in `TYPES`:
    "aws:signer/signingProfile:SigningProfile": api("signer", "PutSigningProfileRequest", name="profileName"),
(`api(service, *input_shapes, **aliases)`: inputs whose camelCase name equals a member's name, ignoring case, need
no alias; an alias maps an input to a member, to "@Shape", to None (no counterpart), or flattens a nested object).
A type with nothing AWS checks gets `NoApiRules("why")`. Component types (`securestack:*`), providers and Pulumi
dynamic resources are covered by `COMPONENT_PREFIX` / `PROVIDER_PREFIX` / `DYNAMIC_PREFIX`. A documented rule is a `DocRule` in `DOC_RULES`, with its
source. `tests/test_aws_rules.py` runs all of them over every resource of every stack file.
"""
from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import Any, Iterable, Iterator, Optional

from securestack.infra.recording import RecordedResource, Recording, Secret, Unknown
from tests.support.aws_checker import Api, CheckContext, DocRule, Finding, NoApiRules, api, check_api, \
    physical_name, provider_default_tags, unchecked

COMPONENT_PREFIX = "securestack:"     # ComponentResources: logical grouping, the engine calls no API for them
PROVIDER_PREFIX = "pulumi:providers:"  # provider instances: their defaultTags are checked with each resource's tags

# One entry per resource type the program registers (and the ones parallel work is adding).
TYPES: dict[str, Api | NoApiRules] = {
    # --- network ---
    "aws:ec2/vpc:Vpc": api("ec2", "CreateVpcRequest", "ModifyVpcAttributeRequest",
                           enableDnsSupport=None, enableDnsHostnames=None),
    "aws:ec2/subnet:Subnet": api("ec2", "CreateSubnetRequest", mapPublicIpOnLaunch=None),
    "aws:ec2/internetGateway:InternetGateway": api("ec2", "AttachInternetGatewayRequest"),
    "aws:ec2/routeTable:RouteTable": api("ec2", "CreateRouteTableRequest", routes="@CreateRouteRequest",
                                         nested={"CreateRouteRequest": {"cidrBlock": "DestinationCidrBlock",
                                                                        "ipv6CidrBlock": "DestinationIpv6CidrBlock"}}),
    "aws:ec2/route:Route": api("ec2", "CreateRouteRequest"),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": api("ec2", "AssociateRouteTableRequest"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": api("ec2", "CreateVpcEndpointRequest", policy="PolicyDocument"),
    "aws:ec2/flowLog:FlowLog": api("ec2", "CreateFlowLogsRequest", iamRoleArn="DeliverLogsPermissionArn",
                                   vpcId=None, logDestination="LogDestination"),
    "aws:ec2/securityGroup:SecurityGroup": api("ec2", "CreateSecurityGroupRequest", name="GroupName",
                                               ingress=None, egress=None, name_input="name"),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": NoApiRules(
        "adopts the VPC's existing default group (no create call); its rule descriptions have a DocRule"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": api(
        "ec2", "AuthorizeSecurityGroupIngressRequest", "IpPermission", "IpRange", securityGroupId="GroupId",
        cidrIpv4="CidrIp", referencedSecurityGroupId="GroupId"),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": api(
        "ec2", "AuthorizeSecurityGroupEgressRequest", "IpPermission", "IpRange", securityGroupId="GroupId",
        cidrIpv4="CidrIp", referencedSecurityGroupId="GroupId"),
    # --- keys ---
    "aws:kms/key:Key": api("kms", "CreateKeyRequest", "EnableKeyRotationRequest", "ScheduleKeyDeletionRequest",
                           deletionWindowInDays="PendingWindowInDays", enableKeyRotation=None),
    "aws:kms/alias:Alias": api("kms", "CreateAliasRequest", name="AliasName", name_input="name"),
    # --- database ---
    "aws:rds/instance:Instance": api(
        "rds", "CreateDBInstanceMessage", "ModifyDBInstanceMessage", "DeleteDBInstanceMessage",
        "RestoreDBInstanceToPointInTimeMessage", "RestoreDBInstanceFromDBSnapshotMessage",
        identifier="DBInstanceIdentifier", finalSnapshotIdentifier="FinalDBSnapshotIdentifier",
        performanceInsightsEnabled="EnablePerformanceInsights", snapshotIdentifier="DBSnapshotIdentifier",
        restoreToPointInTime={"sourceDbInstanceIdentifier": "SourceDBInstanceIdentifier",
                              "sourceDbiResourceId": "SourceDbiResourceId",
                              "sourceDbInstanceAutomatedBackupsArn": "SourceDBInstanceAutomatedBackupsArn"},
        instanceClass="DBInstanceClass", username="MasterUsername", backupWindow="PreferredBackupWindow",
        maintenanceWindow="PreferredMaintenanceWindow", multiAz="MultiAZ", parameterGroupName="DBParameterGroupName",
        iamDatabaseAuthenticationEnabled="EnableIAMDatabaseAuthentication",
        enabledCloudwatchLogsExports="EnableCloudwatchLogsExports", caCertIdentifier="CACertificateIdentifier",
        name_input="identifier"),
    "aws:rds/parameterGroup:ParameterGroup": api(
        "rds", "CreateDBParameterGroupMessage", "ModifyDBParameterGroupMessage", name="DBParameterGroupName",
        family="DBParameterGroupFamily", nested={"Parameter": {"name": "ParameterName", "value": "ParameterValue"}},
        name_input="name"),
    "aws:rds/subnetGroup:SubnetGroup": api("rds", "CreateDBSubnetGroupMessage", name="DBSubnetGroupName",
                                           description="DBSubnetGroupDescription", name_input="name"),
    "aws:backup/vault:Vault": api("backup", "CreateBackupVaultInput", name="BackupVaultName",
                                  kmsKeyArn="EncryptionKeyArn", name_input="name"),
    "aws:backup/plan:Plan": api(
        "backup", "BackupPlanInput", name="BackupPlanName", name_input="name",
        nested={"BackupRuleInput": {"targetVaultName": "TargetBackupVaultName", "schedule": "ScheduleExpression",
                                    "startWindow": "StartWindowMinutes", "completionWindow": "CompletionWindowMinutes"},
                "Lifecycle": {"deleteAfter": "DeleteAfterDays", "coldStorageAfter": "MoveToColdStorageAfterDays"},
                "CopyAction": {"destinationVaultArn": "DestinationBackupVaultArn"}}),
    "aws:backup/selection:Selection": api("backup", "CreateBackupSelectionInput", "BackupSelection",
                                          name="SelectionName", planId="BackupPlanId", name_input="name"),
    # --- secrets and rotation ---
    "aws:secretsmanager/secret:Secret": api("secretsmanager", "CreateSecretRequest", recoveryWindowInDays=None,
                                            name_input="name"),
    "aws:secretsmanager/secretPolicy:SecretPolicy": api("secretsmanager", "PutResourcePolicyRequest",
                                                        secretArn="SecretId", policy="ResourcePolicy"),
    "aws:secretsmanager/secretRotation:SecretRotation": api("secretsmanager", "RotateSecretRequest"),
    "aws:secretsmanager/secretVersion:SecretVersion": api("secretsmanager", "PutSecretValueRequest"),
    "aws:lambda/function:Function": api(
        "lambda", "CreateFunctionRequest", "FunctionCode", name="FunctionName", code=None, sourceCodeHash=None,
        reservedConcurrentExecutions=None,  # -1 is the provider's "unreserved": a DocRule checks it
        nested={"Environment": {"variables": "Variables"}}, name_input="name"),
    "aws:lambda/permission:Permission": api("lambda", "AddPermissionRequest", function="FunctionName"),
    "aws:lambda/codeSigningConfig:CodeSigningConfig": api("lambda", "CreateCodeSigningConfigRequest",
                                                          policies="CodeSigningPolicies"),
    "aws:signer/signingProfile:SigningProfile": api("signer", "PutSigningProfileRequest", name="profileName",
                                                    name_input="name"),
    "aws:signer/signingJob:SigningJob": api("signer", "StartSigningJobRequest", ignoreSigningJobFailure=None,
                                            nested={"S3Source": {"bucket": "bucketName"},
                                                    "S3Destination": {"bucket": "bucketName"}}),
    "aws:iam/role:Role": api("iam", "CreateRoleRequest", name="RoleName", assumeRolePolicy="AssumeRolePolicyDocument",
                             name_input="name"),
    "aws:iam/rolePolicy:RolePolicy": api("iam", "PutRolePolicyRequest", name="PolicyName", role="RoleName",
                                         policy="PolicyDocument", name_input="name"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": api("iam", "AttachRolePolicyRequest", role="RoleName"),
    # --- edge ---
    "aws:acm/certificate:Certificate": api("acm", "RequestCertificateRequest"),
    "aws:acm/certificateValidation:CertificateValidation": NoApiRules(
        "waits for ACM to issue the certificate (DescribeCertificate only); it sends AWS nothing to validate"),
    "aws:route53/record:Record": api("route53", "ResourceRecordSet", records=None, aliases="AliasTarget",
                                     zoneId="@ResourceId", allowOverwrite=None,
                                     nested={"AliasTarget": {"name": "DNSName", "zoneId": "HostedZoneId"}}),
    # Load balancer, target group and listener attributes are key/value text (Modify*Attributes): no model rules.
    "aws:lb/loadBalancer:LoadBalancer": api(
        "elbv2", "CreateLoadBalancerInput", loadBalancerType="Type", name_input="name", internal=None,
        **unchecked("accessLogs", "connectionLogs", "desyncMitigationMode", "dropInvalidHeaderFields",
                    "enableDeletionProtection", "enableHttp2", "enableWafFailOpen", "idleTimeout",
                    "xffHeaderProcessingMode", "enableCrossZoneLoadBalancing", "preserveHostHeader")),
    "aws:lb/targetGroup:TargetGroup": api(
        "elbv2", "CreateTargetGroupInput", name_input="name", **unchecked("deregistrationDelay", "stickiness"),
        healthCheck={
            "enabled": "HealthCheckEnabled", "path": "HealthCheckPath", "port": "HealthCheckPort",
            "protocol": "HealthCheckProtocol", "interval": "HealthCheckIntervalSeconds",
            "timeout": "HealthCheckTimeoutSeconds", "healthyThreshold": "HealthyThresholdCount",
            "unhealthyThreshold": "UnhealthyThresholdCount", "matcher": None}),
    "aws:lb/listener:Listener": api(
        "elbv2", "CreateListenerInput", certificateArn=None,
        **unchecked("routingHttpResponseServerEnabled", "routingHttpResponseStrictTransportSecurityHeaderValue",
                    "routingHttpResponseXContentTypeOptionsHeaderValue", "routingHttpResponseXFrameOptionsHeaderValue"),
                                    nested={"Action": {"redirect": "RedirectConfig", "forward": "ForwardConfig",
                                                       "fixedResponse": "FixedResponseConfig",
                                                       "authenticateOidc": "AuthenticateOidcConfig",
                                                       "authenticateCognito": "AuthenticateCognitoConfig"},
                                            "TargetGroupTuple": {"arn": "TargetGroupArn"}}),
    "aws:wafv2/webAcl:WebAcl": api("wafv2", "CreateWebACLRequest", name_input="name"),
    "aws:wafv2/webAclAssociation:WebAclAssociation": api("wafv2", "AssociateWebACLRequest"),
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": api("wafv2", "LoggingConfiguration"),
    # --- buckets (S3 models carry few rules: names and lifecycle days have DocRules) ---
    "aws:s3/bucket:Bucket": api("s3", "CreateBucketRequest", forceDestroy=None, name_input="bucket"),
    "aws:s3/bucketPolicy:BucketPolicy": api("s3", "PutBucketPolicyRequest"),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": api("s3", "PutPublicAccessBlockRequest",
                                                                  "PublicAccessBlockConfiguration"),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": api("s3", "PutBucketOwnershipControlsRequest",
                                                                  rule="@OwnershipControlsRule"),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": api(
        "s3", "PutBucketEncryptionRequest", "ServerSideEncryptionConfiguration"),
    "aws:s3/bucketVersioning:BucketVersioning": api("s3", "PutBucketVersioningRequest"),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": api(
        "s3", "PutBucketLifecycleConfigurationRequest", "BucketLifecycleConfiguration"),
    "aws:s3/bucketLogging:BucketLogging": api("s3", "PutBucketLoggingRequest", "LoggingEnabled"),
    "aws:s3/bucketObjectv2:BucketObjectv2": api("s3", "PutObjectRequest", source=None, sourceHash=None,
                                                content=None, contentBase64=None, forceDestroy=None,
                                                kmsKeyId="SSEKMSKeyId"),
    # --- app ---
    "aws:ecs/cluster:Cluster": api("ecs", "CreateClusterRequest", name="clusterName", name_input="name"),
    "aws:ecs/service:Service": api(
        "ecs", "CreateServiceRequest", name="serviceName", name_input="name", networkConfiguration="@AwsVpcConfiguration",
        deploymentCircuitBreaker="@DeploymentCircuitBreaker", deploymentMinimumHealthyPercent=None,
        deploymentMaximumPercent=None, enableEcsManagedTags="enableECSManagedTags", waitForSteadyState=None,
        alarms="@DeploymentAlarms"),
    "aws:ecs/taskDefinition:TaskDefinition": api("ecs", "RegisterTaskDefinitionRequest",
                                                 json_inputs=("containerDefinitions",), name_input="family"),
    # --- audit ---
    "aws:cloudtrail/trail:Trail": api("cloudtrail", "CreateTrailRequest", "PutEventSelectorsRequest",
                                      enableLogging=None, cloudWatchLogsGroupArn="CloudWatchLogsLogGroupArn",
                                      name_input="name"),
    "aws:cloudwatch/logGroup:LogGroup": api("logs", "CreateLogGroupRequest", "PutRetentionPolicyRequest",
                                            name="logGroupName", name_input="name"),
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": api(
        "logs", "PutMetricFilterRequest", name="filterName", pattern="filterPattern",
        metricTransformation="metricTransformations", name_input="name",
        nested={"MetricTransformation": {"name": "metricName", "namespace": "metricNamespace",
                                         "value": "metricValue"}}),
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": api("logs", "PutResourcePolicyRequest"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": api("cloudwatch", "PutMetricAlarmInput", name="AlarmName",
                                                  dimensions=None, name_input="name"),
    "aws:cloudwatch/eventRule:EventRule": api("events", "PutRuleRequest", name_input="name"),
    "aws:cloudwatch/eventTarget:EventTarget": api(
        "events", "PutTargetsRequest", "Target", targetId="Id", ecsTarget="EcsParameters", sqsTarget="SqsParameters",
        httpTarget="HttpParameters", batchTarget="BatchParameters", kinesisTarget="KinesisParameters",
        nested={"InputTransformer": {"inputPaths": "InputPathsMap"}}),
    "aws:sqs/queue:Queue": api("sqs", "CreateQueueRequest", name="QueueName", name_input="name",  # the rest are
                               **unchecked(  # queue attributes (text values); their ranges have a DocRule
                                   "kmsMasterKeyId", "kmsDataKeyReusePeriodSeconds", "messageRetentionSeconds",
                                   "visibilityTimeoutSeconds", "delaySeconds", "maxMessageSize",
                                   "receiveWaitTimeSeconds", "policy", "redrivePolicy", "redriveAllowPolicy",
                                   "sqsManagedSseEnabled", "fifoQueue", "contentBasedDeduplication")),
    "aws:sns/topic:Topic": api("sns", "CreateTopicInput", name_input="name",  # the rest are topic attributes
                               **unchecked("displayName", "kmsMasterKeyId", "policy", "deliveryPolicy")),
    "aws:sns/topicPolicy:TopicPolicy": api("sns", "SetTopicAttributesInput", arn="TopicArn", policy=None),
    "aws:sns/topicSubscription:TopicSubscription": api("sns", "SubscribeInput", topic="TopicArn"),
    # --- not AWS ---
    "random:index/randomId:RandomId": NoApiRules("pulumi_random computes it in the engine: no AWS API is called"),
}

# Pulumi dynamic resources (`pulumi-python:dynamic:Resource`, or `pulumi-python:dynamic/<module>:<Name>` when the
# class names its own type): their provider code calls AWS itself, so there is no engine-side API input.
DYNAMIC_PREFIX = "pulumi-python:dynamic"
DYNAMIC_RESOURCE = NoApiRules(
    "a Pulumi dynamic provider's resource: its own code calls AWS through boto3, whose requests botocore "
    "validates against the same models at run time")


# --- documented rules ------------------------------------------------------------------------------------------

def _text(value: Any) -> Optional[str]:
    value = value.reveal() if isinstance(value, Secret) else value
    return value if isinstance(value, str) else None


# EC2 API reference, CreateSecurityGroup (GroupName, Description) and IpRange/IpPermission/
# SecurityGroupRuleRequest (Description): up to 255 characters of a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*
# https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html
# https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_IpRange.html
EC2_SG_TEXT = re.compile(r"[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]*")
EC2_SG_SOURCE = "EC2 API reference: CreateSecurityGroup, IpRange (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_IpRange.html)"


def _security_group_texts(resource: RecordedResource, context: CheckContext) -> Iterator[tuple[str, Any, str]]:
    inputs = resource.inputs
    texts = [("description", inputs.get("description"))]
    for direction in ("ingress", "egress"):
        for index, rule in enumerate(inputs.get(direction) or []):
            if isinstance(rule, dict):
                texts.append((f"{direction}[{index}].description", rule.get("description")))
    if resource.type == "aws:ec2/securityGroup:SecurityGroup":
        texts.append(("name", physical_name(resource)))
    for path, value in texts:
        text = _text(value)
        if text is None:
            continue
        if len(text) > 255:
            yield path, text, f"at most 255 characters, got {len(text)}"
        if not EC2_SG_TEXT.fullmatch(text):
            bad = sorted({ch for ch in text if not EC2_SG_TEXT.fullmatch(ch)})
            yield path, text, f"only a-z A-Z 0-9, space and ._-:/()#,@[]+=&;{{}}!$* (not {''.join(bad)!r})"
        if path == "name" and text.startswith("sg-"):
            yield path, text, "a group name cannot start with 'sg-'"


SECURITY_GROUP_TYPES = frozenset({
    "aws:ec2/securityGroup:SecurityGroup", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "aws:ec2/securityGroupRule:SecurityGroupRule"})


# Tagging AWS resources (user guide), "Tag naming limits and requirements": at most 50 user tags per resource,
# key 1-128 and value 0-256 Unicode characters of letters, numbers, spaces and _ . : / = + - @; the aws: prefix
# is reserved. https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html
# The provider's default_tags are merged into every resource's tags: AWS counts the merged set.
# https://registry.terraform.io/providers/hashicorp/aws/latest/docs/guides/resource-tagging
TAGS_SOURCE = "Tagging AWS resources, tag naming limits (https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html)"
MAX_TAGS, MAX_TAG_KEY, MAX_TAG_VALUE = 50, 128, 256


def tag_text_ok(text: str) -> bool:
    return all(unicodedata.category(ch)[0] in "LZN" or ch in "_.:/=+-@" for ch in text)


def _tags(resource: RecordedResource, context: CheckContext) -> Iterator[tuple[str, Any, str]]:
    if resource.type.startswith(PROVIDER_PREFIX):
        own, path = provider_default_tags(resource), "defaultTags.tags"
        merged = own
    else:
        own, path = resource.inputs.get("tags") or {}, "tags"
        if not isinstance(own, dict):
            return
        merged = {**context.default_tags(resource), **own}
    if len(merged) > MAX_TAGS:
        yield path, len(merged), f"at most {MAX_TAGS} tags including the provider's default tags, got {len(merged)}"
    for key, value in own.items():
        if not 1 <= len(key) <= MAX_TAG_KEY or not tag_text_ok(key):
            yield f"{path}.<key {key}>", key, f"a key is 1-{MAX_TAG_KEY} letters, numbers, spaces or _.:/=+-@"
        if key.lower().startswith("aws:"):
            yield f"{path}.<key {key}>", key, "the aws: prefix is reserved for AWS"
        text = _text(value)
        if text is None:
            if not isinstance(value, Unknown):
                yield f"{path}.{key}", value, "a tag value is text"
            continue
        if len(text) > MAX_TAG_VALUE or not tag_text_ok(text):
            yield f"{path}.{key}", text, f"a value is 0-{MAX_TAG_VALUE} letters, numbers, spaces or _.:/=+-@"


# S3 API reference, LifecycleExpiration / NoncurrentVersionExpiration / AbortIncompleteMultipartUpload (days are
# positive integers), Transition (STANDARD_IA and ONEZONE_IA need at least 30 days; others 0 or more) and
# NoncurrentVersionExpiration.NewerNoncurrentVersions (1-100); a rule's ID is at most 255 characters.
# https://docs.aws.amazon.com/AmazonS3/latest/API/API_Transition.html
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-transition-general-considerations.html
LIFECYCLE_SOURCE = "S3 API reference: LifecycleRule, Transition (https://docs.aws.amazon.com/AmazonS3/latest/API/API_Transition.html)"
INFREQUENT_ACCESS_CLASSES = frozenset({"STANDARD_IA", "ONEZONE_IA"})


def _days_at_least(value: Any, minimum: int) -> bool:
    return not isinstance(value, int) or isinstance(value, bool) or value >= minimum


def _lifecycle(resource: RecordedResource, context: CheckContext) -> Iterator[tuple[str, Any, str]]:
    rules = resource.inputs.get("rules") or []
    if len(rules) > 1000:
        yield "rules", len(rules), "at most 1000 rules"
    for index, rule in enumerate(rules):
        at = f"rules[{index}]"
        rule_id = _text(rule.get("id"))
        if rule_id is not None and len(rule_id) > 255:
            yield f"{at}.id", rule_id, "a rule ID is at most 255 characters"
        for block, key, minimum in (("expiration", "days", 1), ("noncurrentVersionExpiration", "noncurrentDays", 1),
                                    ("abortIncompleteMultipartUpload", "daysAfterInitiation", 1)):
            days = (rule.get(block) or {}).get(key)
            if not _days_at_least(days, minimum):
                yield f"{at}.{block}.{key}", days, f"at least {minimum} day(s)"
        newer = (rule.get("noncurrentVersionExpiration") or {}).get("newerNoncurrentVersions")
        if isinstance(newer, int) and not 1 <= newer <= 100:
            yield f"{at}.noncurrentVersionExpiration.newerNoncurrentVersions", newer, "between 1 and 100"
        for block, key in (("transitions", "days"), ("noncurrentVersionTransitions", "noncurrentDays")):
            for position, transition in enumerate(rule.get(block) or []):
                days = transition.get(key)
                minimum = 30 if transition.get("storageClass") in INFREQUENT_ACCESS_CLASSES else 0
                if not _days_at_least(days, minimum):
                    yield f"{at}.{block}[{position}].{key}", days, \
                        f"at least {minimum} days to {transition.get('storageClass')}"


# --- names AWS checks beyond (or without) the models ---

def name_rule(label: str, types: Iterable[str], key: str, pattern: str, longest: int, source: str,
              shortest: int = 1, forbidden: Iterable[tuple[str, str]] = (), prefix_suffix: int = 26) -> DocRule:
    """A physical-name rule. `forbidden` is (regex searched in the name, why) pairs. A `namePrefix` gets the
    provider's unique suffix (26 characters, terraform's PrefixedUniqueId) appended, so it must leave room."""
    allowed = re.compile(pattern)
    banned = [(re.compile(regex), why) for regex, why in forbidden]

    def check(resource: RecordedResource, context: CheckContext) -> Iterator[tuple[str, Any, str]]:
        prefix = _text(resource.inputs.get("namePrefix"))
        if prefix is not None and key not in resource.inputs:
            if len(prefix) + prefix_suffix > longest:
                yield "namePrefix", prefix, f"at most {longest - prefix_suffix} characters (AWS appends a suffix)"
            return
        name = _text(physical_name(resource, key))
        if name is None:
            return
        if not shortest <= len(name) <= longest:
            yield key, name, f"{shortest}-{longest} characters, got {len(name)}"
        if not allowed.fullmatch(name):
            yield key, name, f"matches {pattern}"
        for regex, why in banned:
            if regex.search(name):
                yield key, name, why

    return DocRule(label, frozenset(types), source, check)


RDS_IDENTIFIER = r"[A-Za-z](?:[A-Za-z0-9]|-(?!-))*(?<!-)"  # a letter first, no '--', no '-' last
ELB_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"

NAME_RULES = [
    name_rule("ALB name", ["aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"], "name", ELB_NAME,
              32, "ELBv2 API reference, CreateLoadBalancer Name "
                  "(https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html)",
              forbidden=[(r"^internal-", "cannot begin with 'internal-'")], prefix_suffix=26),
    name_rule("target group name", ["aws:lb/targetGroup:TargetGroup", "aws:alb/targetGroup:TargetGroup"], "name",
              ELB_NAME, 32, "ELBv2 API reference, CreateTargetGroup Name "
                            "(https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html)"),
    name_rule("Lambda function name", ["aws:lambda/function:Function"], "name", r"[A-Za-z0-9_-]+", 64,
              "Lambda API reference, CreateFunction FunctionName: a name alone is limited to 64 characters "
              "(https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html)"),
    name_rule("IAM role name", ["aws:iam/role:Role"], "name", r"[\w+=,.@-]+", 64,
              "IAM API reference, CreateRole RoleName (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html)"),
    name_rule("secret name", ["aws:secretsmanager/secret:Secret"], "name", r"[A-Za-z0-9/_+=.@-]+", 512,
              "Secrets Manager API reference, CreateSecret Name "
              "(https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html)"),
    name_rule("log group name", ["aws:cloudwatch/logGroup:LogGroup"], "name", r"[.\-_/#A-Za-z0-9]+", 512,
              "CloudWatch Logs API reference, CreateLogGroup logGroupName "
              "(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html)",
              forbidden=[(r"^aws/", "cannot start with 'aws/' (reserved)")]),
    name_rule("S3 bucket name", ["aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"], "bucket",
              r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?", 63,
              "S3 user guide, general purpose bucket naming rules "
              "(https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html)", shortest=3,
              forbidden=[(r"\.\.", "no two adjacent periods"), (r"^\d+\.\d+\.\d+\.\d+$", "not an IP address"),
                         (r"^(xn--|sthree-|amzn-s3-demo-)", "a reserved prefix"),
                         (r"(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$", "a reserved suffix")]),
    name_rule("DB instance identifier", ["aws:rds/instance:Instance"], "identifier", RDS_IDENTIFIER, 63,
              "RDS API reference, CreateDBInstance DBInstanceIdentifier "
              "(https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html)"),
    name_rule("final snapshot identifier", ["aws:rds/instance:Instance"], "finalSnapshotIdentifier", RDS_IDENTIFIER,
              255, "RDS API reference, DeleteDBInstance FinalDBSnapshotIdentifier "
                   "(https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBInstance.html)"),
    name_rule("DB parameter group name", ["aws:rds/parameterGroup:ParameterGroup"], "name", RDS_IDENTIFIER, 255,
              "RDS API reference, CreateDBParameterGroup DBParameterGroupName "
              "(https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBParameterGroup.html)"),
    name_rule("DB subnet group name", ["aws:rds/subnetGroup:SubnetGroup"], "name", r"[A-Za-z0-9._ -]+", 255,
              "RDS API reference, CreateDBSubnetGroup DBSubnetGroupName "
              "(https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSubnetGroup.html)",
              forbidden=[(r"^(?i:default)$", "cannot be 'default'")]),
    name_rule("SNS topic name", ["aws:sns/topic:Topic"], "name", r"[A-Za-z0-9_-]+(\.fifo)?", 256,
              "SNS API reference, CreateTopic Name (https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html)"),
    name_rule("CloudTrail trail name", ["aws:cloudtrail/trail:Trail"], "name",
              r"[A-Za-z0-9](?:[A-Za-z0-9]|[._-](?=[A-Za-z0-9]))*", 128,
              "CloudTrail API reference, CreateTrail Name "
              "(https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_CreateTrail.html)", shortest=3),
    name_rule("ECS cluster name", ["aws:ecs/cluster:Cluster"], "name", r"[A-Za-z0-9_-]+", 255,
              "ECS API reference, CreateCluster clusterName "
              "(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html)"),
    name_rule("ECS service name", ["aws:ecs/service:Service"], "name", r"[A-Za-z0-9_-]+", 255,
              "ECS API reference, CreateService serviceName "
              "(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html)"),
    name_rule("ECS task definition family", ["aws:ecs/taskDefinition:TaskDefinition"], "family", r"[A-Za-z0-9_-]+",
              255, "ECS API reference, RegisterTaskDefinition family "
                   "(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html)"),
    name_rule("KMS alias name", ["aws:kms/alias:Alias"], "name", r"alias/[a-zA-Z0-9/_-]+", 256,
              "KMS API reference, CreateAlias AliasName "
              "(https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html)",
              forbidden=[(r"^alias/aws/", "the alias/aws/ prefix is reserved for AWS managed keys")]),
]


# CloudWatch Logs API reference, PutRetentionPolicy retentionInDays: only these values (the provider's 0 means
# never expire, i.e. no retention policy).
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
LOG_RETENTION_DAYS = frozenset({0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                                2557, 2922, 3288, 3653})


def _log_retention(resource, context):
    days = resource.inputs.get("retentionInDays")
    if isinstance(days, int) and days not in LOG_RETENTION_DAYS:
        yield "retentionInDays", days, f"one of {sorted(LOG_RETENTION_DAYS)}"


# RDS API reference, CreateDBInstance: BackupRetentionPeriod 0-35; MonitoringInterval one of 0, 1, 5, 10, 15, 30,
# 60; PerformanceInsightsRetentionPeriod 7, 731, or a month count times 31 (1-23).
# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html
RDS_MONITORING_INTERVALS = frozenset({0, 1, 5, 10, 15, 30, 60})
RDS_INSIGHTS_RETENTION = frozenset({7, 731, *(31 * months for months in range(1, 24))})


def _rds_ranges(resource, context):
    inputs = resource.inputs
    retention = inputs.get("backupRetentionPeriod")
    if isinstance(retention, int) and not 0 <= retention <= 35:
        yield "backupRetentionPeriod", retention, "between 0 and 35 days"
    interval = inputs.get("monitoringInterval")
    if isinstance(interval, int) and interval not in RDS_MONITORING_INTERVALS:
        yield "monitoringInterval", interval, f"one of {sorted(RDS_MONITORING_INTERVALS)}"
    insights = inputs.get("performanceInsightsRetentionPeriod")
    if isinstance(insights, int) and insights not in RDS_INSIGHTS_RETENTION:
        yield "performanceInsightsRetentionPeriod", insights, "7, 731 or a number of months times 31"


# Secrets Manager API reference, DeleteSecret RecoveryWindowInDays: 7-30 (the provider's 0 forces deletion).
# https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html
def _secret_recovery_window(resource, context):
    days = resource.inputs.get("recoveryWindowInDays")
    if isinstance(days, int) and days != 0 and not 7 <= days <= 30:
        yield "recoveryWindowInDays", days, "0 (delete at once) or 7-30 days"


# CloudWatch API reference, PutMetricAlarm Period: 10, 20, 30 or a multiple of 60 seconds.
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
def _alarm_period(resource, context):
    period = resource.inputs.get("period")
    if isinstance(period, int) and period not in (10, 20, 30) and period % 60:
        yield "period", period, "10, 20, 30 or a multiple of 60 seconds"


# VPC user guide, "VPC CIDR blocks" and "Subnet CIDR blocks": IPv4 blocks between /16 and /28.
# https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html
def _cidr_size(resource, context):
    cidr = _text(resource.inputs.get("cidrBlock"))
    if cidr is None:
        return
    try:
        network = ipaddress.ip_network(cidr)
    except ValueError:
        yield "cidrBlock", cidr, "an IPv4 CIDR block"
        return
    if not 16 <= network.prefixlen <= 28:
        yield "cidrBlock", cidr, "a /16 to /28 block"


# KMS API reference, ScheduleKeyDeletion PendingWindowInDays: 7-30 days (the model says 1-365).
# https://docs.aws.amazon.com/kms/latest/APIReference/API_ScheduleKeyDeletion.html
def _kms_deletion_window(resource, context):
    days = resource.inputs.get("deletionWindowInDays")
    if isinstance(days, int) and not 7 <= days <= 30:
        yield "deletionWindowInDays", days, "between 7 and 30 days"


# AWS Backup API reference, BackupRuleInput StartWindowMinutes: if given, at least 60 minutes.
# https://docs.aws.amazon.com/aws-backup/latest/devguide/API_BackupRuleInput.html
def _backup_start_window(resource, context):
    for index, rule in enumerate(resource.inputs.get("rules") or []):
        minutes = rule.get("startWindow")
        if isinstance(minutes, int) and minutes < 60:
            yield f"rules[{index}].startWindow", minutes, "at least 60 minutes"


# CloudWatch user guide, "Namespaces": names starting with AWS/ are reserved for AWS's own metrics.
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Namespace
def _custom_metric_namespace(resource, context):
    transformations = resource.inputs.get("metricTransformation") or []
    for index, transformation in enumerate([transformations] if isinstance(transformations, dict) else transformations):
        namespace = _text(transformation.get("namespace"))
        if namespace is not None and namespace.startswith("AWS/"):
            yield f"metricTransformation[{index}].namespace", namespace, "the AWS/ namespace prefix is reserved"


# Lambda API reference, PutFunctionConcurrency ReservedConcurrentExecutions: 0 or more; the provider's -1 means
# "no reservation" (it calls DeleteFunctionConcurrency instead).
# https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionConcurrency.html
def _reserved_concurrency(resource, context):
    reserved = resource.inputs.get("reservedConcurrentExecutions")
    if isinstance(reserved, int) and reserved < -1:
        yield "reservedConcurrentExecutions", reserved, "-1 (unreserved) or 0 and more"


# SQS API reference, SetQueueAttributes: MessageRetentionPeriod 60-1209600 s, VisibilityTimeout 0-43200 s,
# DelaySeconds 0-900 s, ReceiveMessageWaitTimeSeconds 0-20 s, MaximumMessageSize 1024-1048576 bytes.
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html
SQS_ATTRIBUTE_RANGES = {"messageRetentionSeconds": (60, 1_209_600), "visibilityTimeoutSeconds": (0, 43_200),
                        "delaySeconds": (0, 900), "receiveWaitTimeSeconds": (0, 20), "maxMessageSize": (1024, 1_048_576)}


def _sqs_attributes(resource, context):
    for key, (low, high) in SQS_ATTRIBUTE_RANGES.items():
        value = resource.inputs.get(key)
        if isinstance(value, int) and not low <= value <= high:
            yield key, value, f"between {low} and {high}"


DOC_RULES: list[DocRule] = [
    DocRule("security group and rule text", SECURITY_GROUP_TYPES, EC2_SG_SOURCE, _security_group_texts),
    DocRule("tags", frozenset(), TAGS_SOURCE, _tags),  # empty: every resource
    DocRule("S3 lifecycle days", frozenset({"aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                                            "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2"}),
            LIFECYCLE_SOURCE, _lifecycle),
    DocRule("log retention days", frozenset({"aws:cloudwatch/logGroup:LogGroup"}),
            "CloudWatch Logs API reference, PutRetentionPolicy "
            "(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html)",
            _log_retention),
    DocRule("RDS ranges", frozenset({"aws:rds/instance:Instance"}),
            "RDS API reference, CreateDBInstance "
            "(https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html)", _rds_ranges),
    DocRule("secret recovery window", frozenset({"aws:secretsmanager/secret:Secret"}),
            "Secrets Manager API reference, DeleteSecret "
            "(https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html)",
            _secret_recovery_window),
    DocRule("alarm period", frozenset({"aws:cloudwatch/metricAlarm:MetricAlarm"}),
            "CloudWatch API reference, PutMetricAlarm "
            "(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html)", _alarm_period),
    DocRule("VPC and subnet CIDR size", frozenset({"aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet"}),
            "VPC user guide, VPC CIDR blocks (https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html)",
            _cidr_size),
    DocRule("KMS deletion window", frozenset({"aws:kms/key:Key"}),
            "KMS API reference, ScheduleKeyDeletion "
            "(https://docs.aws.amazon.com/kms/latest/APIReference/API_ScheduleKeyDeletion.html)", _kms_deletion_window),
    DocRule("backup start window", frozenset({"aws:backup/plan:Plan"}),
            "AWS Backup API reference, BackupRuleInput "
            "(https://docs.aws.amazon.com/aws-backup/latest/devguide/API_BackupRuleInput.html)", _backup_start_window),
    DocRule("custom metric namespace", frozenset({"aws:cloudwatch/logMetricFilter:LogMetricFilter"}),
            "CloudWatch user guide, Namespaces "
            "(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Namespace)",
            _custom_metric_namespace),
    DocRule("Lambda reserved concurrency", frozenset({"aws:lambda/function:Function"}),
            "Lambda API reference, PutFunctionConcurrency "
            "(https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionConcurrency.html)", _reserved_concurrency),
    DocRule("SQS queue attributes", frozenset({"aws:sqs/queue:Queue"}),
            "SQS API reference, SetQueueAttributes "
            "(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html)",
            _sqs_attributes),
    *NAME_RULES,
]


# --- running them ----------------------------------------------------------------------------------------------

class UnmappedType(LookupError):
    """A resource type with no entry in TYPES: map it (or say why AWS checks nothing) before it can pass."""


def mapping_for(type_: str) -> Api | NoApiRules | None:
    """The type's API mapping; None for components and providers (their rules are DocRules only)."""
    if type_.startswith(COMPONENT_PREFIX) or type_.startswith(PROVIDER_PREFIX):
        return None
    if type_.startswith(DYNAMIC_PREFIX):
        return DYNAMIC_RESOURCE
    if type_ not in TYPES:
        raise UnmappedType(f"{type_} has no entry in tests/support/aws_rules.py TYPES")
    return TYPES[type_]


def check_resource(resource: RecordedResource, context: CheckContext = CheckContext()) -> list[Finding]:
    """Every finding for one recorded resource: its API mapping's model rules, then the documented rules."""
    mapping = mapping_for(resource.type)
    findings = check_api(resource, mapping) if isinstance(mapping, Api) else []
    for rule in DOC_RULES:
        if not rule.types or resource.type in rule.types:
            findings.extend(rule.findings(resource, context))
    return findings


def check_recording(recording: Recording) -> list[Finding]:
    context = CheckContext(recording)
    return [finding for resource in recording.resources for finding in check_resource(resource, context)]
