"""TlsLoadBalancer: the internet-facing edge. HTTPS only (ELB.17 TLS policy, HSTS), port 80 only redirects,
WAFv2 in front, access logs to a locked-down bucket."""
import json
import re
from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from .args import ArgsError, as_args, check_all
from .common import (ServerAccessLogTarget, aws_identity, concatenated, encrypted_log_group, formatted, policy_json,
                     private_bucket, renamed_from)

HTTPS_PORT, HTTP_PORT = 443, 80

# The policies Security Hub control ELB.17 accepts ("sslPolicies", not customizable), from the control's page in
# the Security Hub user guide. Every one allows TLS 1.2+ only; anything else (the API default
# ELBSecurityPolicy-2016-08 allows TLS 1.0) fails the control.
ELB17_TLS_POLICIES = (
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04",
)
DEFAULT_TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"
TARGET_PROTOCOLS = ("HTTPS", "HTTP")
# botocore's wafv2 model: RateLimit min 10, max 2,000,000,000; EvaluationWindowSec 60/120/300/600.
WAF_RATE_LIMIT_MIN, WAF_RATE_LIMIT_MAX = 10, 2_000_000_000
WAF_RATE_LIMIT_WINDOWS = (60, 120, 300, 600)
HSTS_MIN_MAX_AGE_SECONDS = 31_536_000  # one year, the minimum browsers' HSTS preload lists accept
DEFAULT_ACCESS_LOG_DAYS = 365  # a year of request history for incident response (PCI DSS 10.5.1)
HEALTH_CHECK_PATH = re.compile(r"^/[\x21-\x7e]{0,1023}$")
# ALB matcher: codes 200-499 as a value, a comma list or a range.
HEALTH_CHECK_MATCHER = re.compile(r"^[2-4]\d\d(-[2-4]\d\d)?(,[2-4]\d\d(-[2-4]\d\d)?)*$")
# CloudWatch Logs' accepted retentions (PutRetentionPolicy).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)
INTERNET_IPV4 = "0.0.0.0/0"

# AWS limits ALB and target group names to 32 letters, digits and '-' (no leading/trailing '-', no
# 'internal-' prefix); Pulumi's auto-naming appends '-' and 7 random characters to the logical name.
ELB_NAME_MAX, AUTONAME_SUFFIX = 32, 8
ELB_NAME = re.compile(r"^(?!internal-)(?!-)[A-Za-z0-9-]{1,32}(?<!-)$")

# ALB access logs: regions launched from August 2022 deliver as this service principal; older regions deliver
# from a regional Elastic Load Balancing account (list from "Enable access logs for your Application Load
# Balancer", ELB user guide). The bucket names both where it applies, so either delivery path works.
ELB_LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"
LEGACY_ELB_LOG_ACCOUNTS = {
    "us-east-1": "127311923021", "us-east-2": "033677994240", "us-west-1": "027434742980",
    "us-west-2": "797873946194", "af-south-1": "098369216593", "ap-east-1": "754344448648",
    "ap-southeast-3": "589379963580", "ap-south-1": "718504428378", "ap-northeast-3": "383597477331",
    "ap-northeast-2": "600734575887", "ap-southeast-1": "114774131450", "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864", "ca-central-1": "985666609251", "eu-central-1": "054676820928",
    "eu-west-1": "156460612806", "eu-west-2": "652711504416", "eu-south-1": "635631232127",
    "eu-west-3": "009996457667", "eu-north-1": "897822967062", "me-south-1": "076674570225",
    "sa-east-1": "507241528517", "us-gov-west-1": "048591011584", "us-gov-east-1": "190560391635",
}
NONCURRENT_LOG_VERSION_DAYS = 30  # a deleted/expired log stays recoverable this long
ABORT_INCOMPLETE_UPLOAD_DAYS = 7

# Evaluated in this order (priority = position): the cheap volumetric block first, then AWS managed groups.
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesAnonymousIpList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
)
# Rules of a managed group that only count instead of blocking. AnonymousIpList's HostingProviderIPList matches
# web hosting and cloud provider ranges (AWS WAF developer guide, "IP reputation rule groups"), i.e. exactly where
# this API's server-to-server callers (warehouse sync, integrations) run; the group's AnonymousIPList rule (VPNs,
# Tor, proxies) keeps blocking.
COUNTED_RULES = {"AWSManagedRulesAnonymousIpList": ("HostingProviderIPList",)}
RATE_LIMIT_RULE = "rate-limit-per-ip"
# API keys travel in Authorization, sessions in Cookie: WAF logs must never hold them.
REDACTED_HEADERS = ("authorization", "cookie")  # WAF wants lowercase header names here
# Logging redaction covers the log destination only; sampled requests (console, GetSampledRequests) would still
# show both headers. Web-ACL-level data protection applies to every output: logs, sampled requests, Security
# Lake (AWS WAF developer guide, "Data protection"). SUBSTITUTION writes REDACTED: nothing derivable from a key.
DATA_PROTECTION_ACTION = "SUBSTITUTION"
WAF_LOG_DELIVERY_SERVICE = "delivery.logs.amazonaws.com"


def autoname_fits(logical_name: str) -> bool:
    """Whether Pulumi's auto-name for this logical name is a valid ALB / target group name."""
    return len(logical_name) + AUTONAME_SUFFIX <= ELB_NAME_MAX and bool(ELB_NAME.match(logical_name))


def access_log_bucket_policy(bucket_arn: str, account: str, partition: str, region: str) -> dict[str, Any]:
    """Only the regional ELB log delivery may write, only under AWSLogs/<our account>/; nothing without TLS."""
    log_objects = f"{bucket_arn}/AWSLogs/{account}/*"
    statements: list[dict[str, Any]] = [
        {"Sid": "ElbLogDeliveryService", "Effect": "Allow", "Principal": {"Service": ELB_LOG_DELIVERY_SERVICE},
         "Action": "s3:PutObject", "Resource": log_objects}]
    legacy_account = LEGACY_ELB_LOG_ACCOUNTS.get(region)
    if legacy_account is not None:
        statements.append(
            {"Sid": "ElbLogDeliveryRegionalAccount", "Effect": "Allow",
             "Principal": {"AWS": f"arn:{partition}:iam::{legacy_account}:root"},
             "Action": "s3:PutObject", "Resource": log_objects})
    every_object = [bucket_arn, f"{bucket_arn}/*"]
    statements += [
        {"Sid": "DenyWithoutTls", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": every_object,
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "DenyTlsOlderThan12", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": every_object, "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}},
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def visibility(metric_name: str) -> aws.wafv2.WebAclVisibilityConfigArgsDict:
    return {"cloudwatch_metrics_enabled": True, "sampled_requests_enabled": True, "metric_name": metric_name}


def rate_limit_rule(priority: int, args: "TlsLoadBalancerArgs", metric_prefix: str) -> aws.wafv2.WebAclRuleArgsDict:
    """Blocks any client IP above the configured requests per evaluation window (volumetric abuse)."""
    return {"name": RATE_LIMIT_RULE, "priority": priority, "action": {"block": {}},
            "statement": {"rate_based_statement": {
                "limit": args.rate_limit, "aggregate_key_type": "IP",
                "evaluation_window_sec": args.rate_limit_window_seconds}},
            "visibility_config": visibility(f"{metric_prefix}-{RATE_LIMIT_RULE}")}


def managed_rule_group_rule(priority: int, group: str, metric_prefix: str) -> aws.wafv2.WebAclRuleArgsDict:
    """An AWS managed rule group with its own actions (override none: its blocks block), except its rules in
    COUNTED_RULES, which only count."""
    statement: aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgsDict = {"name": group, "vendor_name": "AWS"}
    if group in COUNTED_RULES:
        statement["rule_action_overrides"] = [{"name": rule, "action_to_use": {"count": {}}}
                                              for rule in COUNTED_RULES[group]]
    return {"name": group, "priority": priority, "override_action": {"none": {}},
            "statement": {"managed_rule_group_statement": statement},
            "visibility_config": visibility(f"{metric_prefix}-{group}")}


def credential_data_protection() -> aws.wafv2.WebAclDataProtectionConfigArgsDict:
    """Authorization and Cookie replaced by REDACTED wherever WAF shows a request, rule match details included."""
    return {"data_protections": [
        {"field": {"field_type": "SINGLE_HEADER", "field_keys": [header]}, "action": DATA_PROTECTION_ACTION,
         "exclude_rule_match_details": False, "exclude_rate_based_details": False}
        for header in REDACTED_HEADERS]}


def web_acl_rules(args: "TlsLoadBalancerArgs", metric_prefix: str) -> list[aws.wafv2.WebAclRuleArgsDict]:
    rules = [rate_limit_rule(0, args, metric_prefix)]
    rules += [managed_rule_group_rule(index + 1, group, metric_prefix)
              for index, group in enumerate(MANAGED_RULE_GROUPS)]
    return rules


@dataclass
class TlsLoadBalancerCertificate:
    """The HTTPS listener's certificate: an existing ACM certificate, or one created for `domain_name` and proven
    with a DNS record in `hosted_zone_id` (which also gets an alias record to the load balancer). Exactly one."""

    certificate_arn: Optional[str] = None
    """ARN of an existing ACM certificate in the load balancer's region and account. Default: none."""
    domain_name: Optional[str] = None
    """Domain to create a DNS-validated certificate for (e.g. api.example.com), with `hosted_zone_id`. Default:
    none."""
    hosted_zone_id: Optional[str] = None
    """Route 53 hosted zone that gets the validation and alias records of `domain_name`. Default: none."""

    def __post_init__(self) -> None:
        if self.certificate_arn is not None and (self.domain_name is not None or self.hosted_zone_id is not None):
            raise ArgsError("TlsLoadBalancerCertificate.certificate_arn: set either certificate_arn or domain_name "
                            "+ hosted_zone_id, not both")
        if self.certificate_arn is None and (self.domain_name is None or self.hosted_zone_id is None):
            missing = "hosted_zone_id" if self.domain_name is not None else "domain_name"
            raise ArgsError(f"TlsLoadBalancerCertificate.{missing}: required unless certificate_arn is set "
                            "(an existing ACM certificate)")

    @property
    def creates_certificate(self) -> bool:
        return self.certificate_arn is None


@dataclass
class TlsLoadBalancerArgs:
    """Inputs of TlsLoadBalancer. Every default is the production-grade one."""

    environment: str
    """Environment name; names the load balancer's resources `securestack-<environment>-...`. Required."""
    vpc_id: pulumi.Input[str]
    """VPC of the load balancer and its targets. Required."""
    public_subnet_ids: pulumi.Input[list[pulumi.Input[str]]]
    """Public subnets (>= 2 AZs) the internet-facing load balancer is placed in. Required."""
    logs_key_arn: pulumi.Input[str]
    """KMS key ARN that encrypts the WAF log group. Required."""
    certificate: TlsLoadBalancerCertificate
    """Where the HTTPS listener's certificate comes from. Required."""
    production: bool = True
    """Production: deletion protection is forced on and the access-log bucket is protected and retained. Default
    true."""
    tls_policy: str = DEFAULT_TLS_POLICY
    """ELB security policy of the HTTPS listener, one of the six Security Hub ELB.17 accepts. Default
    ELBSecurityPolicy-TLS13-1-2-Res-2021-06 (TLS 1.3 and 1.2 only)."""
    target_protocol: str = "HTTPS"
    """Protocol to the targets and of their health checks: HTTPS or HTTP. Default HTTPS."""
    target_port: int = 8443
    """Port the targets (the app's tasks) listen on, 1..65535. Default 8443."""
    health_check_path: str = "/health"
    """URL path of the target group's health check. Default /health."""
    health_check_matcher: str = "200"
    """HTTP codes (200-499) a healthy target answers: '200', '200,204' or '200-299'. Default 200."""
    deregistration_delay_seconds: int = 30
    """Seconds a deregistering target keeps serving in-flight requests, 0..3600. Default 30."""
    idle_timeout_seconds: int = 60
    """Connection idle timeout in seconds, 1..4000. Default 60."""
    hsts_max_age_seconds: int = HSTS_MIN_MAX_AGE_SECONDS
    """`max-age` of the Strict-Transport-Security header in seconds, one to two years. Default one year."""
    rate_limit: int = 2000
    """Requests per client IP per `rate_limit_window_seconds` above which WAF blocks, 10..2e9. Default 2000."""
    rate_limit_window_seconds: int = 300
    """WAF rate-limit evaluation window in seconds: 60, 120, 300 or 600. Default 300."""
    access_log_expiration_days: int = DEFAULT_ACCESS_LOG_DAYS
    """Days the ALB access logs are kept, 1..3650. Default 365."""
    waf_log_retention_days: int = DEFAULT_ACCESS_LOG_DAYS
    """Retention of the WAF log group in days (a CloudWatch Logs retention value). Default 365."""
    deletion_protection: bool = True
    """Deletion protection of the load balancer (always on in production). Default true."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource. Default none."""
    server_access_logs: Optional[ServerAccessLogTarget] = None
    """Where the access-log bucket's own S3 server access logs go (Security Hub S3.9). Default: not logged."""

    def __post_init__(self) -> None:
        checks = [
            ("tls_policy", self.tls_policy in ELB17_TLS_POLICIES,
             f"{self.tls_policy!r} is not a TLS policy Security Hub ELB.17 accepts; use one of "
             f"{', '.join(ELB17_TLS_POLICIES)}"),
            ("target_protocol", self.target_protocol in TARGET_PROTOCOLS, "must be HTTPS or HTTP"),
            ("target_port", 1 <= self.target_port <= 65535, "must be 1..65535"),
            ("health_check_path", bool(HEALTH_CHECK_PATH.match(self.health_check_path)),
             "must be a URL path starting with '/' (no spaces, max 1024)"),
            ("health_check_matcher", bool(HEALTH_CHECK_MATCHER.match(self.health_check_matcher)),
             "must be HTTP codes 200-499: '200', '200,204' or '200-299'"),
            ("deregistration_delay_seconds", 0 <= self.deregistration_delay_seconds <= 3600, "must be 0..3600"),
            ("idle_timeout_seconds", 1 <= self.idle_timeout_seconds <= 4000, "must be 1..4000"),
            ("hsts_max_age_seconds",
             HSTS_MIN_MAX_AGE_SECONDS <= self.hsts_max_age_seconds <= 2 * HSTS_MIN_MAX_AGE_SECONDS,
             f"must be {HSTS_MIN_MAX_AGE_SECONDS}..{2 * HSTS_MIN_MAX_AGE_SECONDS} (one to two years)"),
            ("rate_limit", WAF_RATE_LIMIT_MIN <= self.rate_limit <= WAF_RATE_LIMIT_MAX,
             f"must be {WAF_RATE_LIMIT_MIN}..{WAF_RATE_LIMIT_MAX}"),
            ("rate_limit_window_seconds", self.rate_limit_window_seconds in WAF_RATE_LIMIT_WINDOWS,
             "must be 60, 120, 300 or 600"),
            ("access_log_expiration_days", 1 <= self.access_log_expiration_days <= 3650, "must be 1..3650"),
            ("waf_log_retention_days", self.waf_log_retention_days in LOG_RETENTION_DAYS,
             f"must be a CloudWatch Logs retention: {', '.join(map(str, LOG_RETENTION_DAYS))}"),
        ]
        check_all(self, checks)

    def hsts_header(self) -> str:
        return f"max-age={self.hsts_max_age_seconds}; includeSubDomains"


class TlsLoadBalancer(pulumi.ComponentResource):
    """Internet-facing ALB whose only forwarding listener is HTTPS (ELB.17 TLS policy, HSTS), port 80 only
    redirecting, WAFv2 in front and access logs to a locked-down bucket. The app attaches to `target_group_arn`
    and opens its port with `allow_to_targets`."""

    arn: pulumi.Output[str]
    """ARN of the load balancer."""
    dns_name: pulumi.Output[str]
    """DNS name of the load balancer."""
    zone_id: pulumi.Output[str]
    """Route 53 zone id of the load balancer's DNS name (for alias records)."""
    security_group_id: pulumi.Output[str]
    """Security group of the load balancer (443 and 80 in; egress only to targets named by allow_to_targets)."""
    target_group_arn: pulumi.Output[str]
    """ARN of the target group the app's tasks register in (by IP)."""
    https_listener_arn: pulumi.Output[str]
    """ARN of the HTTPS listener (443), the only one that forwards."""
    http_listener_arn: pulumi.Output[str]
    """ARN of the HTTP listener (80), which only redirects to HTTPS."""
    web_acl_arn: pulumi.Output[str]
    """ARN of the WAFv2 web ACL associated with the load balancer."""
    web_acl_name: pulumi.Output[str]
    """Name of the web ACL, also its CloudWatch metric name (alarms on BlockedRequests)."""
    tls_policy: pulumi.Output[str]
    """TLS policy of the HTTPS listener."""
    certificate_arn: pulumi.Output[str]
    """ARN of the HTTPS listener's certificate (once issued, when created here)."""
    access_log_bucket: pulumi.Output[str]
    """Name of the bucket receiving the load balancer's access logs."""

    def __init__(self, name: str, args: TlsLoadBalancerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = as_args(TlsLoadBalancerArgs, args)
        for logical_name in (f"{name}-alb", f"{name}-tg"):
            if not autoname_fits(logical_name):
                raise ArgsError(f"component name '{name}' is too long: '{logical_name}' + 8 auto-name characters "
                                f"must fit AWS's {ELB_NAME_MAX}-character load balancer / target group names")
        super().__init__("securestack:index:TlsLoadBalancer", name, None,
                         renamed_from("securestack:edge:TlsLoadBalancer", opts))
        self._name, self._args, self._tags = name, args, dict(args.tags)
        self.resource_prefix = f"securestack-{args.environment}"
        self.account_id, self.partition, self.region = aws_identity(self)
        self.tls_policy = pulumi.Output.from_input(args.tls_policy)

        log_bucket, log_bucket_ready = self._access_log_bucket()
        self.security_group = self._security_group()
        self.load_balancer = self._load_balancer(log_bucket, log_bucket_ready)
        self.target_group = self._target_group()
        self.certificate_arn = self._certificate()
        self.https_listener = self._https_listener()
        self.http_listener = self._http_redirect_listener()
        self.web_acl = self._web_acl()
        self._dns_record()

        self.arn = self.load_balancer.arn
        self.dns_name = self.load_balancer.dns_name
        self.zone_id = self.load_balancer.zone_id
        self.security_group_id = self.security_group.id
        self.target_group_arn = self.target_group.arn
        self.https_listener_arn = self.https_listener.arn
        self.http_listener_arn = self.http_listener.arn
        self.web_acl_arn = self.web_acl.arn
        self.web_acl_name = self.web_acl.name
        self.access_log_bucket = log_bucket.bucket
        self.register_outputs({
            "arn": self.arn, "dns_name": self.dns_name, "zone_id": self.zone_id,
            "security_group_id": self.security_group_id, "target_group_arn": self.target_group_arn,
            "https_listener_arn": self.https_listener_arn, "http_listener_arn": self.http_listener_arn,
            "web_acl_arn": self.web_acl_arn, "web_acl_name": self.web_acl_name, "tls_policy": self.tls_policy,
            "certificate_arn": self.certificate_arn, "access_log_bucket": self.access_log_bucket})

    def allow_to_targets(self, name: str, security_group_id: pulumi.Input[str],
                         port: int) -> aws.vpc.SecurityGroupEgressRule:
        """The load balancer's only egress: to one named security group on one port (the app's)."""
        return aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-to-{name}", security_group_id=self.security_group.id, ip_protocol="tcp",
            from_port=port, to_port=port, referenced_security_group_id=security_group_id,
            description=f"to {name} targets on port {port}", tags=self._tags, opts=self._child())

    def _child(self, **extra: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **extra)

    def _tagged(self, name: str) -> dict[str, str]:
        return {**self._tags, "Name": name}

    # -- access logs -------------------------------------------------------------------------------------------

    def _access_log_bucket(self) -> tuple[aws.s3.Bucket, list[pulumi.Resource]]:
        """SSE-S3 (the only encryption ALB log delivery supports), private, versioned, expiring, TLS-only."""
        name, args = self._name, self._args
        suffix = random.RandomId(f"{name}-access-logs-suffix", byte_length=4, opts=self._child())
        bucket_name = suffix.hex.apply(lambda hex_: f"{self.resource_prefix}-alb-logs-{hex_}")
        bucket, policy = private_bucket(
            f"{name}-access-logs", bucket_name=bucket_name,
            encryption_rule={"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}},
            lifecycle_rules=[
                {"id": "expire-access-logs", "status": "Enabled", "filter": {"prefix": ""},
                 "expiration": {"days": args.access_log_expiration_days},
                 "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_LOG_VERSION_DAYS},
                 "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_INCOMPLETE_UPLOAD_DAYS}},
                # Expiry in a versioned bucket leaves delete markers; drop them once nothing is behind them.
                {"id": "remove-expired-delete-markers", "status": "Enabled", "filter": {"prefix": ""},
                 "expiration": {"expired_object_delete_marker": True}},
            ],
            policy=lambda bucket: pulumi.Output.all(bucket.arn, self.account_id, self.partition, self.region).apply(
                lambda values: json.dumps(access_log_bucket_policy(*values))),
            tags=self._tagged(f"{self.resource_prefix}-alb-logs"), parent=self, production=self._args.production,
            access_logs=self._args.server_access_logs)
        return bucket, [policy]

    # -- load balancer -----------------------------------------------------------------------------------------

    def _security_group(self) -> aws.ec2.SecurityGroup:
        """443 and 80 from the internet; no egress until `allow_to_targets` names the app."""
        group = aws.ec2.SecurityGroup(
            f"{self._name}-sg", vpc_id=self._args.vpc_id,
            description=f"ALB {self.resource_prefix}: 443 and 80 from the internet, egress only to named targets",
            tags=self._tagged(f"{self.resource_prefix}-alb"), opts=self._child())
        for port, description in ((HTTPS_PORT, "HTTPS from the internet"),
                                  (HTTP_PORT, "HTTP from the internet, answered only with a redirect to HTTPS")):
            aws.vpc.SecurityGroupIngressRule(
                f"{self._name}-in-{port}", security_group_id=group.id, ip_protocol="tcp", from_port=port,
                to_port=port, cidr_ipv4=INTERNET_IPV4, description=description, tags=self._tags,
                opts=self._child())
        return group

    def _load_balancer(self, log_bucket: aws.s3.Bucket, log_bucket_ready: list[pulumi.Resource]) -> aws.lb.LoadBalancer:
        args = self._args
        return aws.lb.LoadBalancer(
            f"{self._name}-alb", load_balancer_type="application", internal=False, ip_address_type="ipv4",
            subnets=self._args.public_subnet_ids, security_groups=[self.security_group.id],
            drop_invalid_header_fields=True, desync_mitigation_mode="strictest", enable_http2=True,
            enable_deletion_protection=args.production or args.deletion_protection,
            idle_timeout=args.idle_timeout_seconds, xff_header_processing_mode="append",
            # If WAF cannot answer, requests are refused rather than let through uninspected.
            enable_waf_fail_open=False,
            access_logs={"bucket": log_bucket.bucket, "enabled": True},
            tags=self._tagged(f"{self.resource_prefix}-alb"),
            # ELB writes a test object when access logs are enabled: the bucket policy must already be there.
            opts=self._child(depends_on=log_bucket_ready))

    def _target_group(self) -> aws.lb.TargetGroup:
        """Fargate tasks register by IP; health checks use the same protocol as traffic."""
        args = self._args
        return aws.lb.TargetGroup(
            f"{self._name}-tg", target_type="ip", protocol=args.target_protocol, protocol_version="HTTP1",
            port=args.target_port, vpc_id=args.vpc_id,
            deregistration_delay=args.deregistration_delay_seconds,
            health_check={"enabled": True, "protocol": args.target_protocol, "port": "traffic-port",
                          "path": args.health_check_path, "matcher": args.health_check_matcher,
                          "interval": 15, "timeout": 5, "healthy_threshold": 2, "unhealthy_threshold": 3},
            tags=self._tagged(f"{self.resource_prefix}-app"), opts=self._child())

    # -- certificate and listeners -----------------------------------------------------------------------------

    def _certificate(self) -> pulumi.Output[str]:
        """The configured certificate, or a new one for domainName proven through a record in hostedZoneId."""
        source = self._args.certificate
        if source.certificate_arn is not None:
            return pulumi.Output.from_input(source.certificate_arn)
        domain_name = source.domain_name
        assert domain_name is not None  # __post_init__: without certificate_arn, domain_name is set
        certificate = aws.acm.Certificate(
            f"{self._name}-certificate", domain_name=domain_name, validation_method="DNS",
            key_algorithm="RSA_2048", options={"certificate_transparency_logging_preference": "ENABLED"},
            tags=self._tagged(domain_name), opts=self._child())
        challenge = certificate.domain_validation_options.apply(lambda options: options[0])
        record = aws.route53.Record(
            f"{self._name}-certificate-validation", zone_id=source.hosted_zone_id,
            name=challenge.resource_record_name, type=challenge.resource_record_type,
            records=[challenge.resource_record_value], ttl=60,
            # ACM reuses one validation name per domain and account: a replacement certificate must be able to
            # take over the record its predecessor created.
            allow_overwrite=True, opts=self._child())
        validation = aws.acm.CertificateValidation(
            f"{self._name}-certificate-validated", certificate_arn=certificate.arn,
            validation_record_fqdns=[record.fqdn], opts=self._child())
        return validation.certificate_arn  # the HTTPS listener waits until the certificate is issued

    def _https_listener(self) -> aws.lb.Listener:
        """The only listener that forwards; TLS policy always explicit (the API default allows TLS 1.0)."""
        args = self._args
        return aws.lb.Listener(
            f"{self._name}-https", load_balancer_arn=self.load_balancer.arn, port=HTTPS_PORT, protocol="HTTPS",
            ssl_policy=args.tls_policy, certificate_arn=self.certificate_arn,
            default_actions=[{"type": "forward", "target_group_arn": self.target_group.arn}],
            routing_http_response_strict_transport_security_header_value=args.hsts_header(),
            routing_http_response_x_content_type_options_header_value="nosniff",
            routing_http_response_server_enabled=False,
            tags=self._tags, opts=self._child())

    def _http_redirect_listener(self) -> aws.lb.Listener:
        """Port 80 exists only to send clients to HTTPS; it never forwards anything."""
        return aws.lb.Listener(
            f"{self._name}-http-redirect", load_balancer_arn=self.load_balancer.arn, port=HTTP_PORT,
            protocol="HTTP",
            default_actions=[{"type": "redirect", "redirect": {
                "protocol": "HTTPS", "port": str(HTTPS_PORT), "status_code": "HTTP_301"}}],
            tags=self._tags, opts=self._child())

    def _dns_record(self) -> Optional[aws.route53.Record]:
        """With a domain of our own, the domain points at the load balancer."""
        certificate = self._args.certificate
        if not certificate.creates_certificate:
            return None
        return aws.route53.Record(
            f"{self._name}-dns", zone_id=certificate.hosted_zone_id, name=certificate.domain_name, type="A",
            aliases=[{"name": self.load_balancer.dns_name, "zone_id": self.load_balancer.zone_id,
                      "evaluate_target_health": True}], opts=self._child())

    # -- WAF ---------------------------------------------------------------------------------------------------

    def _web_acl(self) -> aws.wafv2.WebAcl:
        acl_name = f"{self.resource_prefix}-edge"
        web_acl = aws.wafv2.WebAcl(
            f"{self._name}-waf", name=acl_name, scope="REGIONAL",
            description=f"Edge of {self.resource_prefix}: IP rate limit and AWS managed rule groups",
            default_action={"allow": {}}, rules=web_acl_rules(self._args, acl_name),
            data_protection_config=credential_data_protection(),
            visibility_config=visibility(acl_name), tags=self._tags, opts=self._child())
        aws.wafv2.WebAclAssociation(f"{self._name}-waf-association", resource_arn=self.load_balancer.arn,
                                    web_acl_arn=web_acl.arn, opts=self._child())
        self._waf_logging(web_acl)
        return web_acl

    def _waf_logging(self, web_acl: aws.wafv2.WebAcl) -> aws.wafv2.WebAclLoggingConfiguration:
        """WAF logs to an encrypted log group (WAF requires the `aws-waf-logs-` name), credentials redacted."""
        retention = self._args.waf_log_retention_days
        log_group = encrypted_log_group(
            f"{self._name}-waf-logs", log_group_name=f"aws-waf-logs-{self.resource_prefix}",
            kms_key_arn=self._args.logs_key_arn, retention_days=retention, tags=self._tags, parent=self)
        # An explicit delivery grant for this log group only, instead of WAF widening the account-wide one.
        delivery = aws.cloudwatch.LogResourcePolicy(
            f"{self._name}-waf-log-delivery", policy_name=f"{self.resource_prefix}-waf-log-delivery",
            policy_document=policy_json([{
                "Sid": "WafLogDelivery", "Effect": "Allow", "Principal": {"Service": WAF_LOG_DELIVERY_SERVICE},
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": concatenated(log_group.arn, ":log-stream:*"),
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": self.account_id},
                    "ArnLike": {"aws:SourceArn": formatted(
                        "arn:{0}:logs:{1}:{2}:*", self.partition, self.region, self.account_id)}}}]),
            opts=self._child())
        return aws.wafv2.WebAclLoggingConfiguration(
            f"{self._name}-waf-logging", resource_arn=web_acl.arn, log_destination_configs=[log_group.arn],
            redacted_fields=[{"single_header": {"name": header}} for header in REDACTED_HEADERS],
            opts=self._child(depends_on=[delivery]))
