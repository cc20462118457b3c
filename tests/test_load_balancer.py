"""The edge (issue 4): TLS-only ALB, port 80 redirect, HSTS, WAF, access-log bucket; its settings.

Stack properties are checked on recordings of the shipped dev and prod stacks (one per session); AWS limits the
mock engine does not enforce (names, enums, patterns) are checked against botocore's service models.
"""
from __future__ import annotations

import json
import re
from typing import Any

import botocore.session
import pulumi
import pytest

from securestack.components.load_balancer import (COUNTED_RULES, ELB_LOG_DELIVERY_SERVICE, LEGACY_ELB_LOG_ACCOUNTS,
                                                  MANAGED_RULE_GROUPS, REDACTED_HEADERS, TlsLoadBalancer,
                                                  TlsLoadBalancerArgs, TlsLoadBalancerCertificate,
                                                  access_log_bucket_policy, autoname_fits)
from securestack.infra.recording import Recording, RecordedResource, record
from securestack.infra.settings import SettingsError, build_settings
from securestack.infra.settings.edge import (DEFAULT_TLS_POLICY, ELB17_TLS_POLICIES, WAF_RATE_LIMIT_MAX, WAF_RATE_LIMIT_MIN,
                                 LoadBalancerSettings)
from securestack.infra.stack_config import read_stack_config
from tests.support.stacks import STACK_FILES, settings_of, shipped_recording

STACKS = STACK_FILES  # every stack file; tests of what dev or prod configures name that stack
COMPONENT = "securestack:index:TlsLoadBalancer"
ALB, LISTENER, LISTENER_RULE = "aws:lb/loadBalancer:LoadBalancer", "aws:lb/listener:Listener", \
    "aws:lb/listenerRule:ListenerRule"
TARGET_GROUP, SECURITY_GROUP = "aws:lb/targetGroup:TargetGroup", "aws:ec2/securityGroup:SecurityGroup"
INGRESS, EGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", \
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
HSTS = re.compile(r"^max-age=(\d+)(; ?includeSubDomains)(; ?preload)?$")
# S3 bucket names: 3-63 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit.
S3_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@pytest.fixture(scope="module")
def shipped() -> dict[str, Recording]:
    return {stack: shipped_recording(stack) for stack in STACKS}


@pytest.fixture(scope="module")
def shipped_settings():
    return {stack: settings_of(stack) for stack in STACKS}


@pytest.fixture(params=STACKS)
def stack(request) -> str:
    return request.param


@pytest.fixture
def rec(shipped, stack) -> Recording:
    return shipped[stack]


@pytest.fixture
def lb_settings(shipped_settings, stack) -> LoadBalancerSettings:
    return shipped_settings[stack].load_balancer


@pytest.fixture(scope="module")
def wafv2_model():
    return botocore.session.get_session().get_service_model("wafv2")


@pytest.fixture(scope="module")
def elbv2_model():
    return botocore.session.get_session().get_service_model("elbv2")


def edge(rec: Recording) -> RecordedResource:
    return rec.one(COMPONENT)


def children(rec: Recording, type_: str) -> list[RecordedResource]:
    return [r for r in rec.of_type(type_) if r.parent == edge(rec).urn]


def child(rec: Recording, type_: str) -> RecordedResource:
    found = children(rec, type_)
    assert len(found) == 1, f"expected one {type_} in the edge, found {[r.name for r in found]}"
    return found[0]


def listener_on(rec: Recording, port: int) -> RecordedResource:
    found = [r for r in children(rec, LISTENER) if r.inputs["port"] == port]
    assert len(found) == 1
    return found[0]


def bucket_config(rec: Recording, type_: str) -> dict[str, Any]:
    return child(rec, type_).inputs


# -- the load balancer ------------------------------------------------------------------------------------------

def test_every_edge_resource_is_a_child_of_the_component(rec):
    component = edge(rec)
    assert component.name == "edge"
    edge_resources = [r for r in rec.resources if r.name.startswith("edge-")]
    assert edge_resources and all(r.parent == component.urn for r in edge_resources)


def test_alb_is_internet_facing_in_the_public_subnets_of_two_or_more_zones(rec):
    alb = child(rec, ALB).inputs
    public_subnets = [r for r in rec.of_type("aws:ec2/subnet:Subnet") if "-public-" in r.name]
    assert alb["loadBalancerType"] == "application" and alb["internal"] is False
    assert sorted(alb["subnets"]) == sorted(s.id for s in public_subnets)
    assert len({s.inputs["availabilityZone"] for s in public_subnets}) >= 2


def test_alb_hardening(rec, stack, lb_settings):
    alb = child(rec, ALB).inputs
    assert alb["dropInvalidHeaderFields"] is True
    assert alb["desyncMitigationMode"] == "strictest"
    assert alb["enableHttp2"] is True
    assert alb["enableWafFailOpen"] is False
    assert alb["idleTimeout"] == lb_settings.idle_timeout_seconds <= 120
    assert alb["securityGroups"] == [child(rec, SECURITY_GROUP).id]


def test_deletion_protection_in_production(shipped):
    assert child(shipped["prod"], ALB).inputs["enableDeletionProtection"] is True
    # dev asks for the weaker setting explicitly (deletionProtection: false in Pulumi.dev.yaml)
    assert child(shipped["dev"], ALB).inputs["enableDeletionProtection"] is False


def test_access_logs_go_to_the_dedicated_bucket_after_its_policy_exists(rec):
    alb = child(rec, ALB)
    bucket = child(rec, "aws:s3/bucket:Bucket")
    assert alb.inputs["accessLogs"] == {"enabled": True, "bucket": bucket.outputs["bucket"]}
    assert child(rec, "aws:s3/bucketPolicy:BucketPolicy").urn in alb.options["dependsOn"]


def test_alb_and_target_group_logical_names_pass_the_components_own_check(rec):
    """The auto-names AWS receives are checked against ELB's name rules by tests/test_aws_rules.py."""
    for type_ in (ALB, TARGET_GROUP):
        assert autoname_fits(child(rec, type_).name)


@pytest.mark.parametrize("logical_name, fits", [
    ("edge-alb", True), ("a" * 24, True), ("a" * 25, False), ("-edge", False), ("edge-", False),
    ("internal-edge", False), ("edge_alb", False)])
def test_autoname_rule(logical_name, fits):
    assert autoname_fits(logical_name) is fits


# -- listeners --------------------------------------------------------------------------------------------------

def test_https_listener_serves_with_an_elb17_policy_and_hsts(rec, lb_settings):
    https = listener_on(rec, 443).inputs
    assert https["protocol"] == "HTTPS"
    assert https["sslPolicy"] == lb_settings.tls_policy and https["sslPolicy"] in ELB17_TLS_POLICIES
    assert https["defaultActions"] == [{"type": "forward", "targetGroupArn": child(rec, TARGET_GROUP).outputs["arn"]}]
    hsts = HSTS.match(https["routingHttpResponseStrictTransportSecurityHeaderValue"])
    assert hsts and int(hsts.group(1)) >= 31_536_000
    assert https["routingHttpResponseXContentTypeOptionsHeaderValue"] == "nosniff"
    assert https["routingHttpResponseServerEnabled"] is False


def test_port_80_only_redirects_to_https_with_301(rec):
    http = listener_on(rec, 80).inputs
    assert http["protocol"] == "HTTP"
    assert len(http["defaultActions"]) == 1
    action = http["defaultActions"][0]
    assert action["type"] == "redirect"
    assert action["redirect"] == {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}


def test_the_edge_has_exactly_these_two_listeners(rec):
    assert sorted((r.inputs["port"], r.inputs["protocol"]) for r in children(rec, LISTENER)) == \
        [(80, "HTTP"), (443, "HTTPS")]


def _forwards(actions: list[dict]) -> bool:
    return any(a.get("type") != "redirect" for a in actions)


def test_nothing_in_the_stack_forwards_on_http(rec):
    """Every listener and listener rule of the whole stack: plain HTTP may only redirect."""
    listeners = {r.outputs.get("arn"): r for r in rec.of_type(LISTENER, "aws:alb/listener:Listener")}
    assert listeners
    for listener in listeners.values():
        if listener.inputs["protocol"] == "HTTP":
            assert not _forwards(listener.inputs["defaultActions"]), listener.name
        else:
            assert listener.inputs["protocol"] == "HTTPS" and listener.inputs["sslPolicy"] in ELB17_TLS_POLICIES
    for rule in rec.of_type(LISTENER_RULE, "aws:alb/listenerRule:ListenerRule"):
        listener = listeners[rule.inputs["listenerArn"]]
        if listener.inputs["protocol"] == "HTTP":
            assert not _forwards(rule.inputs["actions"]), rule.name


# -- certificate ------------------------------------------------------------------------------------------------

def test_dev_uses_the_configured_certificate(shipped, shipped_settings):
    rec = shipped["dev"]
    configured = shipped_settings["dev"].load_balancer.certificate_arn
    assert configured and listener_on(rec, 443).inputs["certificateArn"] == configured
    assert not rec.of_type("aws:acm/certificate:Certificate", "aws:route53/record:Record")


def test_prod_creates_a_dns_validated_certificate_and_points_the_domain_at_the_alb(shipped, shipped_settings):
    rec, settings = shipped["prod"], shipped_settings["prod"].load_balancer
    certificate = child(rec, "aws:acm/certificate:Certificate")
    assert certificate.inputs["domainName"] == settings.domain_name == "api.example.com"
    assert certificate.inputs["validationMethod"] == "DNS"
    challenge = certificate.outputs["domainValidationOptions"][0]
    records = {r.inputs["type"]: r for r in children(rec, "aws:route53/record:Record")}
    validation_record = records["CNAME"].inputs
    assert validation_record["zoneId"] == settings.hosted_zone_id
    assert (validation_record["name"], validation_record["records"]) == \
        (challenge["resourceRecordName"], [challenge["resourceRecordValue"]])
    validation = child(rec, "aws:acm/certificateValidation:CertificateValidation")
    assert validation.inputs["certificateArn"] == certificate.outputs["arn"]
    assert validation.inputs["validationRecordFqdns"] == [records["CNAME"].outputs["fqdn"]]
    # The listener takes the ARN from the validation, so it is created only once the certificate is issued.
    https = listener_on(rec, 443)
    assert https.inputs["certificateArn"] == certificate.outputs["arn"]
    assert validation.urn in https.property_dependencies["certificateArn"]
    alb = child(rec, ALB).outputs
    alias = records["A"].inputs
    assert (alias["name"], alias["zoneId"]) == (settings.domain_name, settings.hosted_zone_id)
    assert alias["aliases"] == [{"name": alb["dnsName"], "zoneId": alb["zoneId"], "evaluateTargetHealth": True}]


# -- security group ---------------------------------------------------------------------------------------------

def test_security_group_admits_only_443_and_80_from_the_internet(rec):
    group = child(rec, SECURITY_GROUP)
    assert "ingress" not in group.inputs and "egress" not in group.inputs  # rules are separate resources
    rules = [r.inputs for r in rec.of_type(INGRESS) if r.inputs["securityGroupId"] == group.id]
    assert sorted((r["fromPort"], r["toPort"]) for r in rules) == [(80, 80), (443, 443)]
    for rule in rules:
        assert rule["ipProtocol"] == "tcp" and rule["cidrIpv4"] == "0.0.0.0/0" and rule["description"]
        assert "cidrIpv6" not in rule and "referencedSecurityGroupId" not in rule


def test_security_group_egress_goes_only_to_the_targets_security_group_and_port(rec, lb_settings):
    group = child(rec, SECURITY_GROUP)
    other_groups = {r.id for r in rec.of_type(SECURITY_GROUP)} - {group.id}
    for rule in (r.inputs for r in rec.of_type(EGRESS) if r.inputs["securityGroupId"] == group.id):
        assert rule["ipProtocol"] == "tcp" and rule["fromPort"] == rule["toPort"] == lb_settings.target_port
        assert rule["referencedSecurityGroupId"] in other_groups
        assert "cidrIpv4" not in rule and "cidrIpv6" not in rule and "prefixListId" not in rule


def _standalone_edge(name: str = "edge", with_app: bool = False):
    """A program with just the component (an existing VPC), optionally opening egress to an app."""
    def program():
        certificate = TlsLoadBalancerCertificate(certificate_arn="arn:aws:acm:us-east-1:111111111111:certificate/"
                                                                 "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b")
        lb = TlsLoadBalancer(name, TlsLoadBalancerArgs(
            environment="unit", production=False, certificate=certificate, vpc_id="vpc-0123456789abcdef0",
            public_subnet_ids=["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
            logs_key_arn="arn:aws:kms:us-east-1:111111111111:key/abc", waf_log_retention_days=30))
        if with_app:
            lb.allow_to_targets("app", "sg-0aaaaaaaaaaaaaaaa", 8443)
        pulumi.export("securityGroupId", lb.security_group_id)
    return program


def test_allow_to_targets_adds_the_only_egress_rule():
    rec = record(_standalone_edge(with_app=True), stack="unit", config={"aws:region": "us-east-1"})
    rules = [r.inputs for r in rec.of_type(EGRESS)]
    assert len(rules) == 1
    assert rules[0] == {**rules[0], "securityGroupId": rec.stack_outputs["securityGroupId"], "ipProtocol": "tcp",
                        "fromPort": 8443, "toPort": 8443, "referencedSecurityGroupId": "sg-0aaaaaaaaaaaaaaaa"}
    assert rules[0]["description"]


def test_a_component_name_too_long_for_alb_names_is_refused():
    with pytest.raises(ValueError, match="too long"):
        record(_standalone_edge(name="a-component-name-far-too-long"), stack="unit",
               config={"aws:region": "us-east-1"})


# -- target group -----------------------------------------------------------------------------------------------

def test_target_group_for_fargate_as_configured(rec, lb_settings, elbv2_model):
    tg = child(rec, TARGET_GROUP).inputs
    assert tg["targetType"] == "ip" and "ip" in elbv2_model.shape_for("TargetTypeEnum").enum
    assert (tg["protocol"], tg["port"]) == (lb_settings.target_protocol, lb_settings.target_port)
    assert tg["protocol"] in elbv2_model.shape_for("ProtocolEnum").enum
    assert tg["vpcId"] == rec.one("aws:ec2/vpc:Vpc").id
    assert tg["deregistrationDelay"] == lb_settings.deregistration_delay_seconds
    health = tg["healthCheck"]
    assert health["enabled"] is True and health["protocol"] == tg["protocol"]
    assert (health["path"], health["matcher"]) == (lb_settings.health_check_path, lb_settings.health_check_matcher)


def test_prod_keeps_tls_to_the_targets(shipped):
    assert child(shipped["prod"], TARGET_GROUP).inputs["protocol"] == "HTTPS"


# -- access-log bucket ------------------------------------------------------------------------------------------

def test_access_log_bucket_name_is_unique_and_valid(rec, stack):
    bucket = child(rec, "aws:s3/bucket:Bucket")
    suffix = child(rec, "random:index/randomId:RandomId").outputs["hex"]
    name = bucket.inputs["bucket"]
    assert name == f"securestack-{stack}-alb-logs-{suffix}"
    assert S3_BUCKET_NAME.match(name) and ".." not in name
    # a versioned bucket with logs in it fails `pulumi destroy` unless emptied first: only outside production
    assert bucket.inputs["forceDestroy"] is (not settings_of(stack).is_production)


def test_access_log_bucket_logs_its_requests_to_the_stacks_access_log_bucket(rec):
    bucket = child(rec, "aws:s3/bucket:Bucket").outputs["bucket"]
    logging = bucket_config(rec, "aws:s3/bucketLogging:BucketLogging")
    assert logging == {"bucket": bucket, "targetBucket": rec.one("aws:s3/bucket:Bucket", "access-logs-bucket")
                       .outputs["bucket"], "targetPrefix": "alb-logs/"}


def test_access_log_bucket_is_protected_in_production(shipped):
    prod_bucket = child(shipped["prod"], "aws:s3/bucket:Bucket").options
    assert prod_bucket["protect"] and prod_bucket["retainOnDelete"]
    assert not child(shipped["dev"], "aws:s3/bucket:Bucket").options["protect"]


def test_access_log_bucket_is_sse_s3_private_owner_enforced_and_versioned(rec):
    bucket = child(rec, "aws:s3/bucket:Bucket").outputs["bucket"]
    encryption = bucket_config(rec, "aws:s3/bucketServerSideEncryptionConfiguration:"
                                    "BucketServerSideEncryptionConfiguration")
    assert encryption["bucket"] == bucket
    assert encryption["rules"] == [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
    block = bucket_config(rec, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert block["bucket"] == bucket and all(block[k] is True for k in (
        "blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    ownership = bucket_config(rec, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership == {"bucket": bucket, "rule": {"objectOwnership": "BucketOwnerEnforced"}}
    versioning = bucket_config(rec, "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning == {"bucket": bucket, "versioningConfiguration": {"status": "Enabled"}}


def test_access_logs_expire_as_configured(rec, lb_settings):
    lifecycle = bucket_config(rec, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    rules = {rule["id"]: rule for rule in lifecycle["rules"]}
    assert all(rule["status"] == "Enabled" for rule in rules.values())
    expiry = rules["expire-access-logs"]
    assert expiry["expiration"] == {"days": lb_settings.access_log_expiration_days}
    assert expiry["noncurrentVersionExpiration"]["noncurrentDays"] >= 1
    assert expiry["abortIncompleteMultipartUpload"]["daysAfterInitiation"] >= 1
    assert rules["remove-expired-delete-markers"]["expiration"] == {"expiredObjectDeleteMarker": True}


def _policy(rec: Recording) -> dict[str, Any]:
    return json.loads(bucket_config(rec, "aws:s3/bucketPolicy:BucketPolicy")["policy"])


def test_bucket_policy_lets_only_the_regional_elb_log_delivery_write_our_prefix(rec, stack):
    bucket_arn = child(rec, "aws:s3/bucket:Bucket").outputs["arn"]
    account = read_stack_config(stack).config["aws:allowedAccountIds"].strip('[]"')
    allows = [s for s in _policy(rec)["Statement"] if s["Effect"] == "Allow"]
    assert {json.dumps(s["Principal"], sort_keys=True) for s in allows} == {
        json.dumps({"Service": ELB_LOG_DELIVERY_SERVICE}),
        json.dumps({"AWS": "arn:aws:iam::127311923021:root"})}  # us-east-1's ELB account
    for statement in allows:
        assert statement["Action"] == "s3:PutObject"
        assert statement["Resource"] == f"{bucket_arn}/AWSLogs/{account}/*"


def test_bucket_policy_denies_every_request_without_tls(rec):
    bucket_arn = child(rec, "aws:s3/bucket:Bucket").outputs["arn"]
    denies = [s for s in _policy(rec)["Statement"] if s["Effect"] == "Deny"]
    insecure = [s for s in denies if s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
    assert len(insecure) == 1
    assert insecure[0]["Principal"] == "*" and insecure[0]["Action"] == "s3:*"
    assert sorted(insecure[0]["Resource"]) == sorted([bucket_arn, f"{bucket_arn}/*"])


@pytest.mark.parametrize("region, legacy_account", [("us-east-1", "127311923021"), ("eu-west-1", "156460612806"),
                                                    ("ap-south-2", None), ("eu-central-2", None)])
def test_bucket_policy_names_the_legacy_elb_account_only_where_aws_uses_it(region, legacy_account):
    policy = access_log_bucket_policy("arn:aws:s3:::logs", "123456789012", "aws", region)
    principals = [s["Principal"] for s in policy["Statement"] if s["Effect"] == "Allow"]
    expected = [{"Service": ELB_LOG_DELIVERY_SERVICE}]
    if legacy_account:
        expected.append({"AWS": f"arn:aws:iam::{legacy_account}:root"})
    assert principals == expected
    assert LEGACY_ELB_LOG_ACCOUNTS.get(region) == legacy_account


# -- WAF --------------------------------------------------------------------------------------------------------

def _rules(rec: Recording) -> dict[str, dict]:
    return {rule["name"]: rule for rule in child(rec, WEB_ACL).inputs["rules"]}


def test_web_acl_is_regional_allows_by_default_and_has_metrics_everywhere(rec, wafv2_model):
    acl = child(rec, WEB_ACL).inputs
    assert acl["scope"] == "REGIONAL" and acl["defaultAction"] == {"allow": {}}
    metric_name = re.compile(wafv2_model.shape_for("MetricName").metadata["pattern"])
    entity_name = re.compile(wafv2_model.shape_for("EntityName").metadata["pattern"])
    assert entity_name.match(acl["name"])
    for config in [acl["visibilityConfig"], *(rule["visibilityConfig"] for rule in acl["rules"])]:
        assert config["cloudwatchMetricsEnabled"] is True and config["sampledRequestsEnabled"] is True
        assert metric_name.match(config["metricName"]) and len(config["metricName"]) <= 255
    assert len({rule["priority"] for rule in acl["rules"]}) == len(acl["rules"])
    assert all(entity_name.match(rule["name"]) for rule in acl["rules"])


def test_web_acl_runs_the_aws_managed_rule_groups(rec):
    rules = _rules(rec)
    assert set(MANAGED_RULE_GROUPS) == {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
                                        "AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesAnonymousIpList"}
    for group in set(MANAGED_RULE_GROUPS) - set(COUNTED_RULES):
        assert rules[group]["statement"] == {"managedRuleGroupStatement": {"vendorName": "AWS", "name": group}}
    for group in MANAGED_RULE_GROUPS:
        assert rules[group]["overrideAction"] == {"none": {}}  # the groups' own block actions stay in force


def test_anonymous_ips_are_blocked_but_hosting_providers_only_counted(rec, wafv2_model):
    # API callers (integrations, warehouse sync) run on servers: the hosting-provider rule must not block them
    statement = _rules(rec)["AWSManagedRulesAnonymousIpList"]["statement"]["managedRuleGroupStatement"]
    assert statement == {"vendorName": "AWS", "name": "AWSManagedRulesAnonymousIpList", "ruleActionOverrides": [
        {"name": "HostingProviderIPList", "actionToUse": {"count": {}}}]}
    override = wafv2_model.shape_for("RuleActionOverride")
    assert set(override.required_members) <= {"Name", "ActionToUse"}
    assert "Count" in override.members["ActionToUse"].members


def test_web_acl_hides_credentials_in_sampled_requests_too(rec, wafv2_model):
    # logging redaction covers the log destination only; the web ACL's data protection covers every output
    config = child(rec, WEB_ACL).inputs["dataProtectionConfig"]
    protections = config["dataProtections"]
    assert {(p["field"]["fieldType"], tuple(p["field"]["fieldKeys"])) for p in protections} == {
        ("SINGLE_HEADER", ("authorization",)), ("SINGLE_HEADER", ("cookie",))}
    for protection in protections:
        assert protection["action"] == "SUBSTITUTION"
        assert protection["excludeRuleMatchDetails"] is False and protection["excludeRateBasedDetails"] is False
        assert protection["action"] in wafv2_model.shape_for("DataProtectionAction").enum
        assert protection["field"]["fieldType"] in wafv2_model.shape_for("FieldToProtectType").enum
        key = wafv2_model.shape_for("FieldToProtectKeyName").metadata
        assert all(key["min"] <= len(k) <= key["max"] for k in protection["field"]["fieldKeys"])
    assert 1 <= len(protections) <= wafv2_model.shape_for("DataProtections").metadata["max"]


def test_web_acl_rate_limits_each_ip_as_configured(rec, lb_settings, wafv2_model):
    rate = _rules(rec)["rate-limit-per-ip"]
    assert rate["action"] == {"block": {}}
    statement = rate["statement"]["rateBasedStatement"]
    assert statement == {"limit": lb_settings.rate_limit, "aggregateKeyType": "IP",
                         "evaluationWindowSec": lb_settings.rate_limit_window_seconds}
    assert statement["aggregateKeyType"] in \
        wafv2_model.shape_for("RateBasedStatement").members["AggregateKeyType"].enum


def test_web_acl_is_associated_with_the_alb(rec):
    association = child(rec, "aws:wafv2/webAclAssociation:WebAclAssociation").inputs
    assert association["resourceArn"] == child(rec, ALB).outputs["arn"]
    assert association["webAclArn"] == child(rec, WEB_ACL).outputs["arn"]


def test_waf_logs_to_an_encrypted_log_group_with_credentials_redacted(rec, stack, shipped_settings):
    settings = shipped_settings[stack]
    log_group = child(rec, "aws:cloudwatch/logGroup:LogGroup")
    assert log_group.inputs["name"] == f"aws-waf-logs-securestack-{stack}"
    assert log_group.inputs["kmsKeyId"] == rec.one("aws:kms/key:Key", "keys-logs").outputs["arn"]
    assert log_group.inputs["retentionInDays"] == \
        (settings.load_balancer.waf_log_retention_days or settings.logs.retention_days)
    logging = child(rec, "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration").inputs
    assert logging["resourceArn"] == child(rec, WEB_ACL).outputs["arn"]
    assert logging["logDestinationConfigs"] == [log_group.outputs["arn"]]
    redacted = {field["singleHeader"]["name"] for field in logging["redactedFields"]}
    assert redacted == set(REDACTED_HEADERS) == {"authorization", "cookie"}


def test_waf_log_delivery_is_granted_for_this_log_group_only(rec, stack):
    log_group_arn = child(rec, "aws:cloudwatch/logGroup:LogGroup").outputs["arn"]
    policy = json.loads(child(rec, "aws:cloudwatch/logResourcePolicy:LogResourcePolicy").inputs["policyDocument"])
    [statement] = policy["Statement"]
    assert statement["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert statement["Resource"] == f"{log_group_arn}:log-stream:*"
    account = read_stack_config(stack).config["aws:allowedAccountIds"].strip('[]"')
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": account}


# -- exports ----------------------------------------------------------------------------------------------------

def test_load_balancer_exports(rec, lb_settings):
    exported = rec.stack_outputs["loadBalancer"]
    alb = child(rec, ALB).outputs
    assert exported["dnsName"] == alb["dnsName"] and exported["zoneId"] == alb["zoneId"]
    assert exported["arn"] == alb["arn"]
    assert exported["httpsListenerArn"] == listener_on(rec, 443).outputs["arn"]
    assert exported["httpListenerArn"] == listener_on(rec, 80).outputs["arn"]
    assert exported["targetGroupArn"] == child(rec, TARGET_GROUP).outputs["arn"]
    assert exported["securityGroupId"] == child(rec, SECURITY_GROUP).id
    assert exported["webAclArn"] == child(rec, WEB_ACL).outputs["arn"]
    assert exported["tlsPolicy"] == lb_settings.tls_policy
    assert exported["certificateArn"] == listener_on(rec, 443).inputs["certificateArn"]


# -- settings ---------------------------------------------------------------------------------------------------

CERTIFICATE = "arn:aws:acm:us-east-1:111111111111:certificate/6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
SECTION = "securestack:loadBalancer"


def _problems(section: dict[str, Any], stack: str = "dev") -> list[str]:
    config = dict(read_stack_config(stack).config)
    config[SECTION] = json.dumps(section)
    with pytest.raises(SettingsError) as raised:
        build_settings(config, stack)
    return [p for p in raised.value.problems if p.startswith(SECTION)]


def test_defaults_are_the_safe_settings():
    settings = LoadBalancerSettings(certificate_arn=CERTIFICATE)
    assert settings.tls_policy == DEFAULT_TLS_POLICY == "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"
    assert settings.target_protocol == "HTTPS" and settings.deletion_protection is True
    assert settings.hsts_max_age_seconds >= 31_536_000 and "includeSubDomains" in settings.hsts_header()


def test_elb17_list_is_tls12_plus_only():
    assert DEFAULT_TLS_POLICY in ELB17_TLS_POLICIES
    assert all(re.fullmatch(r"ELBSecurityPolicy-TLS13-1-[23]-(Res-)?(2021-06|FIPS-2023-04)", p)
               for p in ELB17_TLS_POLICIES)


def test_rate_limit_bounds_are_wafs(wafv2_model):
    limit = wafv2_model.shape_for("RateLimit").metadata
    assert (WAF_RATE_LIMIT_MIN, WAF_RATE_LIMIT_MAX) == (limit["min"], limit["max"])


@pytest.mark.parametrize("section, key, message", [
    ({"certificateArn": CERTIFICATE, "tlsPolicy": "ELBSecurityPolicy-2016-08"}, "tlsPolicy", "ELB.17"),
    ({"certificateArn": CERTIFICATE, "tlsPolicy": "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06"}, "tlsPolicy",
     "ELB.17"),
    ({}, "", "no certificate source"),
    ({"domainName": "api.example.com"}, "", "hostedZoneId is required"),
    ({"hostedZoneId": "Z0123456789ABCDEFGHIJ"}, "hostedZoneId", "needs domainName"),
    ({"certificateArn": CERTIFICATE, "domainName": "api.example.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ"},
     "domainName", "not both"),
    ({"certificateArn": CERTIFICATE, "rateLimit": WAF_RATE_LIMIT_MIN - 1}, "rateLimit", ">= 10"),
    ({"certificateArn": CERTIFICATE, "rateLimit": WAF_RATE_LIMIT_MAX + 1}, "rateLimit", "<= 2000000000"),
    ({"certificateArn": CERTIFICATE, "rateLimitWindowSeconds": 30}, "rateLimitWindowSeconds", "300"),
    ({"domainName": "api..example.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ"}, "domainName", "not a DNS name"),
    ({"domainName": "*.example.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ"}, "domainName", "not a DNS name"),
    ({"domainName": "API.example.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ"}, "domainName", "not a DNS name"),
    ({"domainName": "api.example.com", "hostedZoneId": "zone-1"}, "hostedZoneId", "hosted zone id"),
    ({"certificateArn": "arn:aws:acm:us-east-1:111111111111:certificate/not-a-uuid"}, "certificateArn",
     "not an ACM certificate ARN"),
    ({"certificateArn": "arn:aws:iam::111111111111:server-certificate/api"}, "certificateArn",
     "not an ACM certificate ARN"),
    ({"certificateArn": CERTIFICATE.replace("us-east-1", "eu-west-1")}, "certificateArn", "its own region"),
    ({"certificateArn": CERTIFICATE.replace("111111111111", "333333333333")}, "certificateArn",
     "allowedAccountIds"),
    ({"certificateArn": CERTIFICATE, "targetProtocol": "TCP"}, "targetProtocol", "HTTPS"),
    ({"certificateArn": CERTIFICATE, "targetPort": 0}, "targetPort", ">= 1"),
    ({"certificateArn": CERTIFICATE, "healthCheckPath": "health"}, "healthCheckPath", "starting with '/'"),
    ({"certificateArn": CERTIFICATE, "healthCheckMatcher": "100"}, "healthCheckMatcher", "200-499"),
    ({"certificateArn": CERTIFICATE, "hstsMaxAgeSeconds": 86400}, "hstsMaxAgeSeconds", ">= 31536000"),
    ({"certificateArn": CERTIFICATE, "accessLogExpirationDays": 0}, "accessLogExpirationDays", ">= 1"),
    ({"certificateArn": CERTIFICATE, "wafLogRetentionDays": 10}, "wafLogRetentionDays", "retention"),
    ({"certificateArn": CERTIFICATE, "deletionProtection": "no"}, "deletionProtection", ""),
    ({"certificateArn": CERTIFICATE, "tlsPolicyName": DEFAULT_TLS_POLICY}, "tlsPolicyName", "unknown key"),
])
def test_each_invalid_setting_is_reported_at_its_key(section, key, message):
    problems = _problems(section)
    where = f"{SECTION}.{key}:" if key else f"{SECTION}:"
    assert any(p.startswith(where) and message in p for p in problems), problems


@pytest.mark.parametrize("weaker, key", [
    ({"deletionProtection": False}, "deletionProtection"),
    ({"targetProtocol": "HTTP", "targetPort": 8080}, "targetProtocol"),
    ({"accessLogExpirationDays": 90}, "accessLogExpirationDays"),
])
def test_production_refuses_weaker_edge_settings(weaker, key):
    prod = read_stack_config("prod").config
    section = {**json.loads(prod[SECTION]), **weaker}
    problems = _problems(section, stack="prod")
    assert any(p.startswith(f"{SECTION}.{key}:") and "production" in p for p in problems), problems


def test_shipped_stacks_exercise_both_certificate_sources(shipped_settings):
    dev, prod = shipped_settings["dev"].load_balancer, shipped_settings["prod"].load_balancer
    assert dev.certificate_arn and ":111111111111:" in dev.certificate_arn and dev.domain_name is None
    assert prod.certificate_arn is None and prod.domain_name == "api.example.com" and prod.hosted_zone_id
