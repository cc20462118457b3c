"""Every resource of every stack file, checked against what AWS accepts (the mock engine accepts anything).

Rules come from botocore's service models (enums, lengths, patterns, ranges, list sizes) and from AWS's
documentation where the models carry none (tests/support/aws_rules.py, each with its source). A resource type
without a mapping fails here until it is mapped; each rule is shown able to fail on a known-bad value.
"""
from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest

from securestack.infra.recording import RecordedResource
from tests.support.aws_checker import Api, CheckContext, NoApiRules, compiled_pattern, mapping_problems, \
    provider_default_tags, reachable_patterns, shape_of, unaccounted_inputs
from tests.support.aws_rules import COMPONENT_PREFIX, DOC_RULES, MAX_TAG_KEY, MAX_TAG_VALUE, MAX_TAGS, \
    PROVIDER_PREFIX, TYPES, UnmappedType, check_recording, check_resource, mapping_for, tag_text_ok
from tests.support.stacks import STACK_FILES, shipped_recording

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_every_stack_file_is_checked():
    assert set(STACK_FILES) == {p.name[len("Pulumi."):-len(".yaml")] for p in REPO_ROOT.glob("Pulumi.*.yaml")}
    assert {"dev", "prod"} <= set(STACK_FILES)


@pytest.mark.parametrize("stack", STACK_FILES)
def test_every_resource_type_is_mapped(stack):
    unmapped = set()
    for resource in shipped_recording(stack).resources:
        try:
            mapping_for(resource.type)
        except UnmappedType:
            unmapped.add(resource.type)
    assert not unmapped, f"add each to TYPES in tests/support/aws_rules.py (api(...) or NoApiRules(reason)): " \
                         f"{sorted(unmapped)}"


@pytest.mark.parametrize("stack", STACK_FILES)
def test_every_input_is_matched_to_an_api_member_or_declared_unchecked(stack):
    """An input the mapping does not place would silently escape the model's rules: alias it (or None it)."""
    unplaced = {}
    for resource in shipped_recording(stack).resources:
        mapping = mapping_for(resource.type)
        if isinstance(mapping, Api) and unaccounted_inputs(resource, mapping):
            unplaced.setdefault(resource.type, set()).update(unaccounted_inputs(resource, mapping))
    assert not unplaced, {type_: sorted(keys) for type_, keys in unplaced.items()}


@pytest.mark.parametrize("stack", STACK_FILES)
def test_recorded_inputs_are_what_aws_accepts(stack):
    findings = check_recording(shipped_recording(stack))
    assert not findings, "AWS would reject:\n" + "\n".join(map(str, findings))


def test_mappings_name_shapes_and_members_the_models_have():
    problems = {type_: mapping_problems(m) for type_, m in TYPES.items() if isinstance(m, Api)}
    assert not {type_: found for type_, found in problems.items() if found}


def test_every_model_pattern_the_mappings_reach_compiles():
    """Java-style patterns (`\\p{L}`, `\\p{Alnum}`) are translated; none may fail only when a value reaches it."""
    patterns = {p for m in TYPES.values() if isinstance(m, Api) for p in reachable_patterns(m)}
    assert len(patterns) > 50
    for pattern in patterns:
        compiled_pattern(pattern)
    assert compiled_pattern("[\\p{Alnum}_-]+").fullmatch("ab_1-") and not compiled_pattern("\\p{Alnum}+").fullmatch("a b")


def test_components_and_providers_are_handled_explicitly():
    assert mapping_for("securestack:index:AppService") is None
    assert mapping_for("pulumi:providers:aws") is None
    assert not any(t.startswith((COMPONENT_PREFIX, PROVIDER_PREFIX)) for t in TYPES)
    assert isinstance(mapping_for("pulumi-python:dynamic:Resource"), NoApiRules)
    assert isinstance(mapping_for("pulumi-python:dynamic/securestack:SecretReadiness"), NoApiRules)
    with pytest.raises(UnmappedType, match="aws:new/thing:Thing"):
        mapping_for("aws:new/thing:Thing")


def test_a_type_without_api_rules_must_say_why():
    with pytest.raises(ValueError):
        NoApiRules("n/a")
    assert all(len(m.reason) >= 20 for m in TYPES.values() if isinstance(m, NoApiRules))


def test_every_doc_rule_cites_its_source():
    assert all("https://docs.aws.amazon.com/" in rule.source for rule in DOC_RULES)


def test_tag_charset_is_still_what_iam_models():
    """The documented tag rule agrees with IAM's model (the one service model that spells it out)."""
    assert shape_of("iam", "tagValueType").metadata == {"min": 0, "max": MAX_TAG_VALUE,
                                                         "pattern": "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*"}
    assert shape_of("iam", "tagKeyType").metadata == {"min": 1, "max": MAX_TAG_KEY,
                                                       "pattern": "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+"}
    model = compiled_pattern(shape_of("iam", "tagValueType").metadata["pattern"])
    for text in ("securestack:env", "platform-team@example.com", "Größe 12", "it's", "a,b", "x\ty", "日本 語"):
        assert (model.fullmatch(text) is not None) is tag_text_ok(text), text


# --------------------------------------------------------------------------------------------------------------
# Each rule can fail: a known-bad value through the checker gives a finding
# --------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dev():
    return shipped_recording("dev")


def mutated(recording, type_: str, name_suffix: str, change) -> RecordedResource:
    """A copy of one recorded resource whose inputs `change(inputs)` edits in place."""
    original = recording.one(type_, name_suffix)
    resource = dataclasses.replace(original, inputs=copy.deepcopy(original.inputs),
                                   outputs=copy.deepcopy(original.outputs))
    change(resource.inputs)
    return resource


def findings_for(recording, resource) -> list[str]:
    return [str(f) for f in check_resource(resource, CheckContext(recording))]


def set_path(path: str, value):
    """A change that sets inputs[a][b][0]... (dot-separated; digits index lists)."""
    def change(inputs):
        *parents, last = path.split(".")
        target = inputs
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        target[int(last) if last.isdigit() else last] = value
    return change


def drop(key: str):
    return lambda inputs: inputs.pop(key, None)


SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
WAF = "aws:wafv2/webAcl:WebAcl"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
FUNCTION = "aws:lambda/function:Function"
RDS = "aws:rds/instance:Instance"


def _container_log_driver(inputs):
    containers = json.loads(inputs["containerDefinitions"])
    containers[0]["logConfiguration"] = {"logDriver": "syslog-over-carrier-pigeon"}
    inputs["containerDefinitions"] = json.dumps(containers)


KNOWN_BAD = [
    # security-group text (item 1's class)
    ("sg rule apostrophe", SG, "app-sg", set_path("ingress.0.description", "the load balancer's health checks"),
     "security group and rule text"),
    ("sg description apostrophe", SG, "edge-sg", set_path("description", "the edge's group"),
     "security group and rule text"),
    ("sg description too long", SG, "edge-sg", set_path("description", "a" * 256), "at most 255"),
    ("sg egress description", SG, "app-sg", set_path("egress.0.description", "to \"AWS\""),
     "security group and rule text"),
    ("ingress rule apostrophe", INGRESS, "edge-in-443", set_path("description", "it's HTTPS"),
     "security group and rule text"),
    ("group name sg-", SG, "edge-sg", set_path("name", "sg-edge"), "cannot start with 'sg-'"),
    # tags
    ("51 tags with default tags", "aws:s3/bucket:Bucket", "audit-bucket",
     lambda i: i["tags"].update({f"extra-{n}": "x" for n in range(51 - len(i["tags"]))}), "at most 50 tags"),
    ("tag key too long", "aws:s3/bucket:Bucket", "audit-bucket", lambda i: i["tags"].update({"k" * 129: "v"}),
     "a key is 1-128"),
    ("tag value too long", "aws:s3/bucket:Bucket", "audit-bucket", lambda i: i["tags"].update({"k": "v" * 257}),
     "a value is 0-256"),
    ("tag value charset", "aws:s3/bucket:Bucket", "audit-bucket", lambda i: i["tags"].update({"k": "it's"}),
     "a value is 0-256"),
    ("reserved tag prefix", "aws:s3/bucket:Bucket", "audit-bucket", lambda i: i["tags"].update({"aws:x": "v"}),
     "reserved for AWS"),
    # enums from the models, at several depths
    ("waf enum nested", WAF, "edge-waf", set_path("rules.0.statement.rateBasedStatement.aggregateKeyType", "IPV9"),
     "RateBasedStatementAggregateKeyType: one of"),
    ("waf scope", WAF, "edge-waf", set_path("scope", "GLOBAL"), "Scope: one of"),
    ("lambda runtime", FUNCTION, "api-key-rotator-function", set_path("runtime", "python3.99"), "Runtime: one of"),
    ("versioning status", "aws:s3/bucketVersioning:BucketVersioning", "audit-bucket-versioning",
     set_path("versioningConfiguration.status", "On"), "BucketVersioningStatus: one of"),
    ("single block as object", "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "audit-bucket-ownership",
     set_path("rule.objectOwnership", "Mine"), "ObjectOwnership: one of"),
    ("container definitions JSON", "aws:ecs/taskDefinition:TaskDefinition", "app-task", _container_log_driver,
     "LogDriver: one of"),
    ("listener redirect", "aws:lb/listener:Listener", "edge-http-redirect", set_path("defaultActions.0.redirect.statusCode",
                                                                             "HTTP_308"), "RedirectActionStatusCodeEnum"),
    # ranges, lengths, list sizes, map keys, patterns from the models
    ("waf rate limit", WAF, "edge-waf", set_path("rules.0.statement.rateBasedStatement.limit", 5), "RateLimit"),
    ("flattened health check", "aws:lb/targetGroup:TargetGroup", "edge-tg", set_path("healthCheck.interval", 1),
     "HealthCheckIntervalSeconds"),
    ("lambda memory", FUNCTION, "api-key-rotator-function", set_path("memorySize", 64), "MemorySize"),
    ("list size", FUNCTION, "api-key-rotator-function", set_path("architectures", ["arm64", "x86_64"]),
     "ArchitecturesList: 1 to 1 items"),
    ("map key pattern", FUNCTION, "api-key-rotator-function", set_path("environment.variables", {"1BAD": "x"}),
     "EnvironmentVariableName"),
    ("kms rotation period", "aws:kms/key:Key", "keys-data", set_path("rotationPeriodInDays", 30),
     "RotationPeriodInDaysType"),
    ("waf metric name pattern", WAF, "edge-waf", set_path("visibilityConfig.metricName", "has spaces"),
     "MetricName: matches"),
    ("iam role name pattern", "aws:iam/role:Role", "api-key-rotator-role", set_path("name", "role!"),
     "roleNameType: matches"),
    ("metric filter namespace", "aws:cloudwatch/logMetricFilter:LogMetricFilter", "root-user-usage-filter",
     set_path("metricTransformation.namespace", "n" * 256), "MetricNamespace"),
    ("reserved metric namespace", "aws:cloudwatch/logMetricFilter:LogMetricFilter", "root-user-usage-filter",
     set_path("metricTransformation.namespace", "AWS/Audit"), "custom metric namespace"),
    ("rotation days", "aws:secretsmanager/secretRotation:SecretRotation", "api-keys-storefront-read-rotation",
     set_path("rotationRules.automaticallyAfterDays", 1001), "AutomaticallyRotateAfterDaysType"),
    # S3 lifecycle days
    ("expiration days 0", LIFECYCLE, "audit-bucket-lifecycle", set_path("rules.0.expiration.days", 0),
     "S3 lifecycle days"),
    ("noncurrent days 0", LIFECYCLE, "audit-bucket-lifecycle",
     set_path("rules.0.noncurrentVersionExpiration.noncurrentDays", 0), "S3 lifecycle days"),
    ("abort days 0", LIFECYCLE, "audit-bucket-lifecycle",
     set_path("rules.0.abortIncompleteMultipartUpload.daysAfterInitiation", 0), "S3 lifecycle days"),
    ("standard-ia before 30 days", LIFECYCLE, "audit-bucket-lifecycle",
     set_path("rules.0.transitions", [{"storageClass": "STANDARD_IA", "days": 10}]), "at least 30 days"),
    ("lifecycle status enum", LIFECYCLE, "audit-bucket-lifecycle", set_path("rules.0.status", "enabled"),
     "ExpirationStatus: one of"),
    # names
    ("alb name too long", "aws:lb/loadBalancer:LoadBalancer", "edge-alb", set_path("name", "a" * 33), "ALB name"),
    ("alb internal- prefix", "aws:lb/loadBalancer:LoadBalancer", "edge-alb", set_path("name", "internal-edge"),
     "cannot begin with 'internal-'"),
    ("target group name too long", "aws:lb/targetGroup:TargetGroup", "edge-tg", set_path("name", "t" * 33),
     "target group name"),
    ("role name too long", "aws:iam/role:Role", "api-key-rotator-role", set_path("name", "r" * 65), "IAM role name"),
    ("role name prefix too long", "aws:iam/role:Role", "api-key-rotator-role",
     lambda i: (i.pop("name"), i.update(namePrefix="p" * 39)), "namePrefix"),
    ("lambda name too long", FUNCTION, "api-key-rotator-function", set_path("name", "f" * 65),
     "Lambda function name"),
    ("log group name too long", "aws:cloudwatch/logGroup:LogGroup", "network-flow-logs", set_path("name", "l" * 513),
     "log group name"),
    ("secret name too long", "aws:secretsmanager/secret:Secret", "api-keys-storefront-read",
     set_path("name", "s" * 513), "secret name"),
    ("secret name charset", "aws:secretsmanager/secret:Secret", "api-keys-storefront-read",
     set_path("name", "securestack/dev/api keys"), "secret name"),
    ("bucket name uppercase", "aws:s3/bucket:Bucket", "audit-bucket", set_path("bucket", "Securestack-Audit"),
     "S3 bucket name"),
    ("bucket name ip", "aws:s3/bucket:Bucket", "audit-bucket", set_path("bucket", "192.168.1.10"), "not an IP"),
    ("rds identifier double hyphen", RDS, "database-instance", set_path("identifier", "securestack--dev"),
     "DB instance identifier"),
    ("final snapshot trailing hyphen", RDS, "database-instance", set_path("finalSnapshotIdentifier", "final-"),
     "final snapshot identifier"),
    ("kms alias reserved", "aws:kms/alias:Alias", "keys-data-alias", set_path("name", "alias/aws/data"),
     "reserved for AWS managed keys"),
    ("topic name charset", "aws:sns/topic:Topic", "audit-alarms", set_path("name", "alarms.topic"), "SNS topic name"),
    ("trail name adjacent punctuation", "aws:cloudtrail/trail:Trail", "audit-trail", set_path("name", "trail._x"),
     "CloudTrail trail name"),
    # other documented ranges
    ("log retention", "aws:cloudwatch/logGroup:LogGroup", "network-flow-logs", set_path("retentionInDays", 2),
     "log retention days"),
    ("rds backup retention", RDS, "database-instance", set_path("backupRetentionPeriod", 36), "RDS ranges"),
    ("rds monitoring interval", RDS, "database-instance", set_path("monitoringInterval", 7), "RDS ranges"),
    ("rds insights retention", RDS, "database-instance", set_path("performanceInsightsRetentionPeriod", 30),
     "RDS ranges"),
    ("secret recovery window", "aws:secretsmanager/secret:Secret", "api-keys-storefront-read",
     set_path("recoveryWindowInDays", 3), "secret recovery window"),
    ("alarm period", "aws:cloudwatch/metricAlarm:MetricAlarm", "root-user-usage-alarm", set_path("period", 45),
     "alarm period"),
    ("vpc cidr too small", "aws:ec2/vpc:Vpc", "network-vpc", set_path("cidrBlock", "10.0.0.0/29"), "CIDR size"),
    ("kms deletion window", "aws:kms/key:Key", "keys-data", set_path("deletionWindowInDays", 3),
     "KMS deletion window"),
]


@pytest.mark.parametrize("type_, suffix, change, expected", [case[1:] for case in KNOWN_BAD],
                         ids=[case[0] for case in KNOWN_BAD])
def test_known_bad_value_is_a_finding(dev, type_, suffix, change, expected):
    resource = mutated(dev, type_, suffix, change)
    found = findings_for(dev, resource)
    assert any(expected in finding for finding in found), found
    assert findings_for(dev, dev.one(type_, suffix)) == []  # the recorded original is clean


def test_auto_named_resources_are_checked_by_the_name_aws_receives(dev):
    """Without a name input, Pulumi's auto-name (logical name + '-' + 7 characters) is what AWS gets."""
    original = dev.one("aws:lb/loadBalancer:LoadBalancer", "edge-alb")
    long_logical = dataclasses.replace(original, name="edge-application-load-balancer",
                                       inputs={k: v for k, v in original.inputs.items() if k != "name"}, outputs={})
    assert any("ALB name" in f and "38" in f for f in findings_for(dev, long_logical))


def test_provider_default_tags_count_with_the_resource_own(dev):
    provider = dev.one("pulumi:providers:aws")
    defaults = provider_default_tags(provider)
    assert defaults and all(isinstance(v, str) for v in defaults.values())
    bucket = dev.one("aws:s3/bucket:Bucket", "audit-bucket")
    own = {f"own-{n}": "x" for n in range(MAX_TAGS - len(defaults))}  # none of the default keys
    at_limit = dataclasses.replace(bucket, inputs={**bucket.inputs, "tags": own})
    assert findings_for(dev, at_limit) == []
    over = dataclasses.replace(bucket, inputs={**bucket.inputs, "tags": {**own, "one-more": "x"}})
    assert any("at most 50 tags" in f for f in findings_for(dev, over))


def test_provider_default_tags_themselves_are_checked(dev):
    provider = dev.one("pulumi:providers:aws")
    too_many = json.dumps({"tags": {f"t{n}": "v" for n in range(MAX_TAGS + 1)}})
    assert any("at most 50 tags" in f
               for f in findings_for(dev, dataclasses.replace(provider, inputs={**provider.inputs,
                                                                                  "defaultTags": too_many})))


def test_an_unplaced_input_is_reported(dev):
    bucket = dev.one("aws:s3/bucket:Bucket", "audit-bucket")
    assert unaccounted_inputs(dataclasses.replace(bucket, inputs={**bucket.inputs, "bucketNmae": "x"}),
                              TYPES[bucket.type]) == ["bucketNmae"]


def test_an_unmapped_type_fails_the_stack_check(dev):
    stray = dataclasses.replace(dev.one("aws:s3/bucket:Bucket", "audit-bucket"), type="aws:new/thing:Thing")
    with pytest.raises(UnmappedType):
        check_resource(stray, CheckContext(dev))


# --------------------------------------------------------------------------------------------------------------
# Types parallel work adds (access-log bucket logging, AWS Signer, Lambda code signing, alarms on events, WAF data
# protection, unreserved concurrency): mapped ahead, on the real pulumi-aws classes, so the stack check stays
# green when they land
# --------------------------------------------------------------------------------------------------------------

def _parallel_work_program():
    import pulumi
    import pulumi_aws as aws

    profile = aws.signer.SigningProfile("rotator-signing", platform_id="AWSLambda-SHA384-ECDSA",
                                        name_prefix="securestack_dev_",
                                        signature_validity_period={"value": 135, "type": "MONTHS"})
    aws.signer.SigningJob("rotator-sign", profile_name=profile.name,
                          source={"s3": {"bucket": "securestack-dev-code", "key": "rotator.zip", "version": "v1"}},
                          destination={"s3": {"bucket": "securestack-dev-code", "prefix": "signed/"}},
                          ignore_signing_job_failure=False)
    # Literal ARNs where a mock output would stand in: what AWS returns, not what the mock synthesizes.
    profile_version_arn = "arn:aws:signer:us-east-1:111111111111:/signing-profiles/securestack_dev_1/AbCdEf0123"
    aws.lambda_.CodeSigningConfig("rotator-code-signing", description="only signed rotator code",
                                  allowed_publishers={"signing_profile_version_arns": [profile_version_arn]},
                                  policies={"untrusted_artifact_on_deployment": "Enforce"})
    aws.s3.BucketObjectv2("rotator-unsigned", bucket="securestack-dev-code", key="unsigned/rotator.zip",
                          source=pulumi.StringAsset("zip"), source_hash="0" * 64, content_type="application/zip",
                          server_side_encryption="aws:kms", bucket_key_enabled=True,
                          kms_key_id="arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    aws.s3.BucketLogging("audit-bucket-logging", bucket="securestack-dev-cloudtrail",
                         target_bucket="securestack-dev-access-logs", target_prefix="cloudtrail/",
                         target_object_key_format={"partitioned_prefix": {"partition_date_source": "EventTime"}})
    aws.lambda_.Function("rotator", name="securestack-dev-rotator", role="arn:aws:iam::111111111111:role/rotator",
                         runtime="python3.13", handler="handler.lambda_handler", code=pulumi.AssetArchive({}),
                         code_signing_config_arn="arn:aws:lambda:us-east-1:111111111111:code-signing-config:"
                                                 "csc-0123456789abcdef0", reserved_concurrent_executions=-1)
    rule = aws.cloudwatch.EventRule("redeploy-failed", name="securestack-dev-redeploy-failed", state="ENABLED",
                                    event_pattern=json.dumps({"source": ["aws.ecs"]}))
    aws.cloudwatch.EventTarget("redeploy-failed-alarm", rule=rule.name, target_id="audit-topic",
                               arn="arn:aws:sns:us-east-1:111111111111:securestack-dev-security-alarms",
                               input_transformer={"input_paths": {"service": "$.resources[0]"},
                                                  "input_template": '"<service> failed to redeploy"'})
    aws.sqs.Queue("rotation-dlq", name="securestack-dev-rotation-dlq", message_retention_seconds=1_209_600)
    visibility = {"cloudwatch_metrics_enabled": True, "metric_name": "edge", "sampled_requests_enabled": True}
    aws.wafv2.WebAcl("edge-waf", name="securestack-dev-edge", scope="REGIONAL", default_action={"allow": {}},
                     visibility_config=visibility, data_protection_config={"data_protections": [
                         {"action": "SUBSTITUTION", "field": {"field_type": "SINGLE_HEADER", "field_keys": ["cookie"]}}]},
                     rules=[{"name": "anonymous-ip", "priority": 1, "override_action": {"none": {}},
                             "visibility_config": {**visibility, "metric_name": "edge-anonymous-ip"},
                             "statement": {"managed_rule_group_statement": {
                                 "vendor_name": "AWS", "name": "AWSManagedRulesAnonymousIpList",
                                 "rule_action_overrides": [{"name": "HostingProviderIPList",
                                                            "action_to_use": {"count": {}}}]}}}])


@pytest.fixture(scope="module")
def parallel_work_recording():
    from securestack.infra.recording import record

    return record(_parallel_work_program, stack="dev", config={"aws:region": "us-east-1"})


def test_types_parallel_work_adds_are_mapped_and_pass(parallel_work_recording):
    added = [r for r in parallel_work_recording.resources if not r.type.startswith(PROVIDER_PREFIX)]
    assert {r.type for r in added} >= {"aws:signer/signingProfile:SigningProfile", "aws:signer/signingJob:SigningJob",
                                       "aws:lambda/codeSigningConfig:CodeSigningConfig",
                                       "aws:s3/bucketLogging:BucketLogging", "aws:sqs/queue:Queue",
                                       "aws:s3/bucketObjectv2:BucketObjectv2",
                                       "aws:cloudwatch/eventRule:EventRule", "aws:cloudwatch/eventTarget:EventTarget"}
    assert {r.type: unaccounted_inputs(r, TYPES[r.type]) for r in added} == {r.type: [] for r in added}
    assert check_recording(parallel_work_recording) == []


def test_signer_profile_names_allow_no_hyphen(parallel_work_recording):
    profile = parallel_work_recording.one("aws:signer/signingProfile:SigningProfile")
    hyphenated = dataclasses.replace(profile, inputs={**profile.inputs, "name": "securestack-dev"})
    assert any("ProfileName: matches" in f for f in findings_for(parallel_work_recording, hyphenated))


@pytest.mark.parametrize("type_, change, expected", [
    ("aws:lambda/function:Function", set_path("reservedConcurrentExecutions", -2), "Lambda reserved concurrency"),
    ("aws:sqs/queue:Queue", set_path("messageRetentionSeconds", 30), "SQS queue attributes"),
    ("aws:cloudwatch/eventRule:EventRule", set_path("state", "ON"), "RuleState: one of"),
    ("aws:cloudwatch/eventTarget:EventTarget", set_path("targetId", "audit topic"), "TargetId: matches"),
    ("aws:wafv2/webAcl:WebAcl", set_path("dataProtectionConfig.dataProtections.0.action", "REDACT"),
     "DataProtectionAction: one of"),
    ("aws:lambda/codeSigningConfig:CodeSigningConfig", set_path("policies.untrustedArtifactOnDeployment", "Block"),
     "CodeSigningPolicy: one of"),
    ("aws:s3/bucketObjectv2:BucketObjectv2", set_path("serverSideEncryption", "kms"), "ServerSideEncryption: one of"),
    ("aws:lambda/function:Function", set_path("codeSigningConfigArn", "csc-1"), "CodeSigningConfigArn: matches"),
    ("aws:s3/bucketLogging:BucketLogging",
     set_path("targetObjectKeyFormat.partitionedPrefix.partitionDateSource", "Today"), "PartitionDateSource: one of"),
])
def test_known_bad_value_in_a_type_parallel_work_adds(parallel_work_recording, type_, change, expected):
    resource = mutated(parallel_work_recording, type_, "", change)
    assert any(expected in f for f in findings_for(parallel_work_recording, resource)), \
        findings_for(parallel_work_recording, resource)
