"""Load balancers and WAF: TLS-only listeners, hardened ALBs, and a logging, rate-limiting web ACL in front."""
from __future__ import annotations

import re
from typing import Any, Iterator, Mapping

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity

from .network import availability_zones
from .support import Report, SecurestackPolicy
from .support import (Controls, StackGraph, get, is_false, is_true, items, json_value, label, peek, plain, present,
                      production_stack, resource_policy, shown, stack_policy)
from .types import (LISTENERS, LOAD_BALANCERS, SUBNET, TARGET_GROUPS, WEB_ACL, WEB_ACL_ASSOCIATION, WEB_ACL_LOGGING,
                    WEB_ACL_RULE, WEB_ACL_RULE_GROUP_ASSOCIATION)

# pulumi-aws registers every ELBv2 resource under both modules (aws.lb and its alias aws.alb).

# The policies Security Hub ELB.17 accepts (its `sslPolicies` parameter): TLS 1.2+ only, forward secrecy.
ELB17_TLS_POLICIES = frozenset({
    "ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-3-2021-06", "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06", "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04",
})
DESYNC_MODES = frozenset({"defensive", "strictest"})  # ELB.12; "monitor" lets desync attacks through
MIN_AVAILABILITY_ZONES = 2
KNOWN_BAD_INPUTS = "AWSManagedRulesKnownBadInputsRuleSet"  # Log4Shell and other exploit payloads
# README "Edge": the IP reputation, common and known-bad-inputs groups, each with its own (blocking) actions.
REQUIRED_MANAGED_GROUPS = ("AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesCommonRuleSet", KNOWN_BAD_INPUTS,
                           "AWSManagedRulesAnonymousIpList")
# Rules of a required group that may only count (README "Edge": the API's callers run on servers in hosting and cloud
# providers); every other rule of those groups keeps its blocking action.
MAY_COUNT = {"AWSManagedRulesAnonymousIpList": frozenset({"HostingProviderIPList"})}
HSTS_MIN_MAX_AGE_SECONDS = 31536000  # one year: what README promises and HSTS preload lists require
HSTS_MAX_AGE = re.compile(r"max-age=(\d+)", re.IGNORECASE)
HTTPS_PORT = "443"
PERMANENT_REDIRECT = "HTTP_301"
ANONYMOUS_IP_LIST = "AWSManagedRulesAnonymousIpList"  # VPNs, Tor, proxies hiding the client
# API keys travel in Authorization, sessions in Cookie: neither WAF logs nor sampled requests may keep them.
CREDENTIAL_HEADERS = ("authorization", "cookie")
PROTECTING_ACTIONS = frozenset({"SUBSTITUTION", "HASH"})


def is_application(props: Any) -> bool:
    return (get(props, "loadBalancerType") or "application") == "application"


def is_internet_facing(props: Any) -> bool:
    return not is_true(get(props, "internal"))


# -- listeners -------------------------------------------------------------------------------------------------

def redirects_to_https(action: Any) -> bool:
    """A permanent (301) redirect to HTTPS on 443 (an absent port would keep the client's port 80)."""
    return get(action, "type") == "redirect" and get(action, "redirect", "protocol") == "HTTPS" \
        and str(get(action, "redirect", "port")) == HTTPS_PORT \
        and get(action, "redirect", "statusCode") == PERMANENT_REDIRECT


@resource_policy("lb-http-redirects-to-https", "Plain-HTTP listeners only answer 301 redirects to HTTPS on 443; "
                 "nothing is served without TLS", Controls(fsbp=("ELB.1",), checkov=("CKV_AWS_2", "CKV2_AWS_20"),
                                         sources=("guides: HTTPS only",)), LISTENERS, Severity.HIGH)
def lb_http_redirects(args: ResourceValidationArgs, report: Report) -> None:
    if get(args.props, "protocol") != "HTTP":
        return
    actions = items(get(args.props, "defaultActions"))
    if not actions or not all(redirects_to_https(action) for action in actions):
        kinds = [get(action, "type") for action in actions]
        report(f"HTTP listener on port {shown(get(args.props, 'port'))} has default actions {kinds}; it may only "
               "answer a 301 redirect to HTTPS on 443")


@resource_policy("lb-https-tls-policy", "HTTPS listeners use a TLS 1.2+ policy from the Security Hub ELB.17 list "
                 "and a certificate", Controls(fsbp=("ELB.17",), checkov=("CKV_AWS_103",),
                                               sources=("guides: TLS 1.2+",)), LISTENERS, Severity.HIGH)
def lb_https_tls_policy(args: ResourceValidationArgs, report: Report) -> None:
    if get(args.props, "protocol") not in ("HTTPS", "TLS"):
        return
    policy = get(args.props, "sslPolicy")
    if policy not in ELB17_TLS_POLICIES:
        report(f"sslPolicy {policy!r} is not one ELB.17 accepts (absent means the API default, which allows "
               "TLS 1.0)")
    if not get(args.props, "certificateArn"):
        report("certificateArn is absent")


@resource_policy("lb-https-security-headers", "HTTPS listeners add HSTS (max-age >= 1 year, includeSubDomains) and "
                 "X-Content-Type-Options nosniff to every response and send no Server header",
                 Controls(sources=("README: Edge (HSTS, nosniff, no Server header)", "guides: HTTPS only")),
                 LISTENERS, Severity.HIGH)
def lb_https_security_headers(args: ResourceValidationArgs, report: Report) -> None:
    if get(args.props, "protocol") != "HTTPS":
        return
    hsts = str(get(args.props, "routingHttpResponseStrictTransportSecurityHeaderValue") or "")
    max_age = HSTS_MAX_AGE.search(hsts)
    if not max_age or int(max_age.group(1)) < HSTS_MIN_MAX_AGE_SECONDS or "includesubdomains" not in hsts.lower():
        report(f"Strict-Transport-Security is {hsts or 'absent'!r}; it must have max-age >= "
               f"{HSTS_MIN_MAX_AGE_SECONDS} and includeSubDomains")
    if get(args.props, "routingHttpResponseXContentTypeOptionsHeaderValue") != "nosniff":
        report("X-Content-Type-Options is not nosniff")
    if not is_false(get(args.props, "routingHttpResponseServerEnabled")):
        report("routingHttpResponseServerEnabled is not false (responses name the server)")


@resource_policy("lb-https-to-targets-in-production", "Production target groups receive HTTPS and health-check over "
                 "HTTPS (TLS all the way to the app)", Controls(sources=("README: Edge (HTTPS to the targets, "
                                                                          "required in production)",)),
                 TARGET_GROUPS, Severity.HIGH)
def lb_https_to_targets(args: ResourceValidationArgs, report: Report) -> None:
    if not production_stack() or get(args.props, "targetType") == "lambda":
        return  # Lambda targets are invoked by the load balancer, not reached over the network
    if get(args.props, "protocol") != "HTTPS":
        report(f"protocol is {get(args.props, 'protocol')!r} in a production stack, not HTTPS")
    health_protocol = get(args.props, "healthCheck", "protocol")
    if health_protocol not in (None, "HTTPS"):
        report(f"healthCheck.protocol is {health_protocol!r} in a production stack, not HTTPS")


# -- load balancers --------------------------------------------------------------------------------------------

@resource_policy("lb-drop-invalid-headers", "Application load balancers drop invalid HTTP header fields",
                 Controls(fsbp=("ELB.4",), checkov=("CKV_AWS_131",)), LOAD_BALANCERS, Severity.MEDIUM)
def lb_drop_invalid_headers(args: ResourceValidationArgs, report: Report) -> None:
    if is_application(args.props) and not is_true(get(args.props, "dropInvalidHeaderFields")):
        report("dropInvalidHeaderFields is not true")


@resource_policy("lb-access-logs", "Load balancers write access logs to S3",
                 Controls(fsbp=("ELB.5",), checkov=("CKV_AWS_91",)), LOAD_BALANCERS, Severity.MEDIUM)
def lb_access_logs(args: ResourceValidationArgs, report: Report) -> None:
    logs = get(args.props, "accessLogs")
    if not is_true(get(logs, "enabled")) or not get(logs, "bucket"):
        report("accessLogs is not enabled with a bucket")


@resource_policy("lb-deletion-protection-in-production", "Production load balancers have deletion protection",
                 Controls(fsbp=("ELB.6",), checkov=("CKV_AWS_150",)), LOAD_BALANCERS, Severity.MEDIUM)
def lb_deletion_protection(args: ResourceValidationArgs, report: Report) -> None:
    if production_stack() and not is_true(get(args.props, "enableDeletionProtection")):
        report("enableDeletionProtection is not true in a production stack")


@resource_policy("lb-desync-mitigation", "Application load balancers mitigate HTTP desync (defensive or strictest)",
                 Controls(fsbp=("ELB.12",), checkov=("CKV_AWS_328",)), LOAD_BALANCERS, Severity.MEDIUM)
def lb_desync_mitigation(args: ResourceValidationArgs, report: Report) -> None:
    mode = get(args.props, "desyncMitigationMode")
    if is_application(args.props) and mode is not None and mode not in DESYNC_MODES:
        report(f"desyncMitigationMode is {mode!r}")


@resource_policy("lb-desync-mitigation-strictest", "Application load balancers use the strictest desync "
                 "mitigation (only RFC 7230-compliant requests)", Controls(sources=("README: Edge (strictest desync "
                                                                                   "mitigation)",)),
                 LOAD_BALANCERS, Severity.MEDIUM)
def lb_desync_strictest(args: ResourceValidationArgs, report: Report) -> None:
    mode = get(args.props, "desyncMitigationMode")
    if is_application(args.props) and mode != "strictest":
        report(f"desyncMitigationMode is {mode or 'absent (defensive)'!r}, not strictest")


@resource_policy("lb-waf-fail-closed", "Application load balancers refuse requests when WAF cannot inspect them "
                 "(waf.fail_open.enabled false)", Controls(sources=("README: Edge (refuses requests when WAF cannot "
                                                                    "answer)", "ALB attribute waf.fail_open.enabled")),
                 LOAD_BALANCERS, Severity.HIGH)
def lb_waf_fail_closed(args: ResourceValidationArgs, report: Report) -> None:
    if is_application(args.props) and is_true(get(args.props, "enableWafFailOpen")):
        report("enableWafFailOpen is true: requests would reach the app uninspected whenever WAF cannot answer")


@stack_policy("lb-multi-az", f"Load balancers span at least {MIN_AVAILABILITY_ZONES} Availability Zones",
              Controls(fsbp=("ELB.13",)), [*LOAD_BALANCERS, SUBNET], Severity.MEDIUM)
def lb_multi_az(graph: StackGraph, report: Report) -> None:
    for lb in graph.of_type(*LOAD_BALANCERS):
        mapped = [peek(mapping, "subnetId") for mapping in items(peek(lb.props, "subnetMappings"))]
        prop = "subnetMappings" if mapped else "subnets"
        zones = availability_zones(graph, lb, prop, items(peek(lb.props, "subnets")) + mapped)
        if len(zones) < MIN_AVAILABILITY_ZONES:
            report(f"{label(lb)} spans {len(zones)} Availability Zone(s)", lb.urn)


@stack_policy("lb-waf-associated", "Every internet-facing application load balancer has a WAF web ACL associated",
              Controls(checkov=("CKV2_AWS_28",), sources=("design: edge",)),
              [*LOAD_BALANCERS, WEB_ACL_ASSOCIATION], Severity.HIGH)
def lb_waf_associated(graph: StackGraph, report: Report) -> None:
    for lb in graph.of_type(*LOAD_BALANCERS):
        if is_internet_facing(lb.props) and is_application(lb.props) \
                and not graph.referrers(lb, "resourceArn", WEB_ACL_ASSOCIATION):
            report(f"internet-facing {label(lb)} has no aws.wafv2.WebAclAssociation", lb.urn)


# -- WAF -------------------------------------------------------------------------------------------------------

def acl_rules(props: Any) -> list[Any]:
    """Inline rules, given as `rules` or as the `ruleJson` document."""
    inline = plain(get(props, "rules") or [])
    rule_json = get(props, "ruleJson")
    return list(inline) + (list(json_value(rule_json) or []) if rule_json else [])


def attached_rules(graph: StackGraph, acl: PolicyResource) -> list[Any]:
    """Rules attached from outside the ACL (WebAclRule / WebAclRuleGroupAssociation resources)."""
    return graph.referrers(acl, "webAclArn", WEB_ACL_RULE, WEB_ACL_RULE_GROUP_ASSOCIATION)


def nested_entries(statement: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(key, value) of every object in a rule statement, nested and/or/not statements included."""
    if hasattr(statement, "items"):
        for key, value in statement.items():
            yield key, value
            yield from nested_entries(value)
    elif isinstance(statement, list):
        for item in statement:
            yield from nested_entries(item)


def statement_kinds(statement: Mapping[str, Any]) -> set[str]:
    """Statement types used anywhere in a rule statement, as camelCase (inputs) or JSON (ruleJson) names."""
    return {key[0].lower() + key[1:] for key, _ in nested_entries(statement)}


def managed_group_names(statement: Mapping[str, Any]) -> set[str]:
    return {value.get("name") or value.get("Name") for key, value in nested_entries(statement)
            if key in ("managedRuleGroupStatement", "ManagedRuleGroupStatement") and hasattr(value, "get")}


def rule_statement(rule: Any) -> dict[str, Any]:
    return rule.get("statement") or rule.get("Statement") or {}


def metrics_on(config: Any) -> bool:
    return bool(config) and (config.get("cloudwatchMetricsEnabled") is True
                             or config.get("CloudWatchMetricsEnabled") is True)


@stack_policy("waf-has-rules", "WAF web ACLs have at least one rule or rule group",
              Controls(fsbp=("WAF.10",)), [WEB_ACL, WEB_ACL_RULE, WEB_ACL_RULE_GROUP_ASSOCIATION], Severity.HIGH)
def waf_has_rules(graph: StackGraph, report: Report) -> None:
    for acl in graph.of_type(WEB_ACL):
        if not acl_rules(acl.props) and not attached_rules(graph, acl):
            report(f"{label(acl)} has no rules", acl.urn)


@resource_policy("waf-metrics-enabled", "WAF web ACLs and each of their rules publish CloudWatch metrics",
                 Controls(fsbp=("WAF.12",)), [WEB_ACL, WEB_ACL_RULE, WEB_ACL_RULE_GROUP_ASSOCIATION], Severity.LOW)
def waf_metrics(args: ResourceValidationArgs, report: Report) -> None:
    if not metrics_on(plain(get(args.props, "visibilityConfig"))):
        report("visibilityConfig.cloudwatchMetricsEnabled is not true")
    for rule in acl_rules(args.props) if args.resource_type == WEB_ACL else []:
        config = rule.get("visibilityConfig") or rule.get("VisibilityConfig")
        if not metrics_on(config):
            report(f"rule {rule.get('name') or rule.get('Name')!r} has CloudWatch metrics off")


@stack_policy("waf-rate-based-rule", "WAF web ACLs include a rate-based rule (volumetric abuse, credential "
              "stuffing)", Controls(sources=("design: edge (rate limit)",)), [WEB_ACL, WEB_ACL_RULE],
              Severity.MEDIUM)
def waf_rate_rule(graph: StackGraph, report: Report) -> None:
    for acl in graph.of_type(WEB_ACL):
        statements = [rule_statement(rule) for rule in acl_rules(acl.props)]
        statements += [plain(get(rule.props, "statement") or {}) for rule in graph.referrers(acl, "webAclArn",
                                                                                               WEB_ACL_RULE)]
        if not any("rateBasedStatement" in statement_kinds(s) for s in statements):
            report(f"{label(acl)} has no rate-based rule", acl.urn)


@stack_policy("waf-known-bad-inputs", f"WAF web ACLs block known exploit payloads (the {KNOWN_BAD_INPUTS} "
              "managed group, Log4Shell included)", Controls(checkov=("CKV_AWS_192",)),
              [WEB_ACL, WEB_ACL_RULE, WEB_ACL_RULE_GROUP_ASSOCIATION], Severity.MEDIUM)
def waf_known_bad_inputs(graph: StackGraph, report: Report) -> None:
    for acl in graph.of_type(WEB_ACL):
        if KNOWN_BAD_INPUTS not in acl_group_names(graph, acl):
            report(f"{label(acl)}: no rule uses the {KNOWN_BAD_INPUTS} managed rule group", acl.urn)


def field_of(value: Any, name: str) -> Any:
    """A WAF field written in camelCase (inputs) or PascalCase (ruleJson)."""
    return value.get(name) if name in value else value.get(name[0].upper() + name[1:])


def counted_rules(statement: Mapping[str, Any]) -> dict[str, Any]:
    """Managed group name -> the names of its rules overridden to count (ruleActionOverrides)."""
    counted = {}
    for key, value in nested_entries(statement):
        if key in ("managedRuleGroupStatement", "ManagedRuleGroupStatement") and hasattr(value, "get"):
            overrides = field_of(value, "ruleActionOverrides") or []
            counted[field_of(value, "name")] = {field_of(o, "name") for o in items(overrides) if hasattr(o, "get")
                                                and {"count", "Count"} & set(field_of(o, "actionToUse") or {})}
    return counted


@stack_policy("waf-managed-rule-groups", "WAF web ACLs use the AWS IP reputation, anonymous IP, common and "
              "known-bad-inputs managed rule groups with their own (blocking) actions, never overridden to count "
              "(only the anonymous IP group's HostingProviderIPList rule counts)",
              Controls(checkov=("CKV_AWS_192",), sources=("README: Edge (AWS managed rule groups)",)),
              [WEB_ACL, WEB_ACL_RULE_GROUP_ASSOCIATION], Severity.MEDIUM)
def waf_managed_rule_groups(graph: StackGraph, report: Report) -> None:
    for acl in graph.of_type(WEB_ACL):
        blocking = set()
        for rule in acl_rules(acl.props):
            override = field_of(rule, "overrideAction") or {}
            if "count" not in override and "Count" not in override:
                blocking |= managed_group_names(rule_statement(rule))
            for group, counted in counted_rules(rule_statement(rule)).items():
                extra = sorted(counted - MAY_COUNT.get(group, frozenset())) if group in REQUIRED_MANAGED_GROUPS else []
                if extra:
                    report(f"{label(acl)}: {group}'s rules {', '.join(extra)} only count", acl.urn)
        for attached in graph.referrers(acl, "webAclArn", WEB_ACL_RULE_GROUP_ASSOCIATION):
            if get(attached.props, "overrideAction") != "count":
                blocking.add(get(attached.props, "managedRuleGroup", "name"))
        missing = [group for group in REQUIRED_MANAGED_GROUPS if group not in blocking]
        if missing:
            report(f"{label(acl)}: no blocking rule uses {', '.join(missing)}", acl.urn)


def priority_of(rule: Any) -> float:
    value = field_of(rule, "priority")
    return float(value) if isinstance(value, (int, float)) else float("inf")


@resource_policy("waf-rate-limit-blocks-first", "A WAF web ACL's first rule (lowest priority) is a per-IP rate "
                 "limit that blocks", Controls(sources=("README: Edge (a per-IP rate limit blocks first)",)),
                 [WEB_ACL], Severity.MEDIUM)
def waf_rate_limit_first(args: ResourceValidationArgs, report: Report) -> None:
    rules = acl_rules(args.props)
    if not rules:
        return  # waf-has-rules reports an ACL without rules
    first = min(rules, key=priority_of)
    rate = field_of(rule_statement(first), "rateBasedStatement") or {}
    action = field_of(first, "action") or {}
    if not rate or (field_of(rate, "aggregateKeyType") or "IP") != "IP" or not ("block" in action or "Block" in action):
        report(f"the first rule {field_of(first, 'name')!r} is not a per-IP rate-based rule that blocks")


def sampled_on(config: Any) -> bool:
    return bool(config) and field_of(config, "sampledRequestsEnabled") is True


@resource_policy("waf-sampled-requests", "WAF web ACLs and each of their rules keep sampled requests (what an "
                 "incident responder looks at first)", Controls(sources=("README: Edge (every rule has CloudWatch "
                                                                         "metrics and sampled requests)",)),
                 [WEB_ACL, WEB_ACL_RULE, WEB_ACL_RULE_GROUP_ASSOCIATION], Severity.LOW)
def waf_sampled_requests(args: ResourceValidationArgs, report: Report) -> None:
    if not sampled_on(plain(get(args.props, "visibilityConfig"))):
        report("visibilityConfig.sampledRequestsEnabled is not true")
    for rule in acl_rules(args.props) if args.resource_type == WEB_ACL else []:
        if not sampled_on(field_of(rule, "visibilityConfig")):
            report(f"rule {field_of(rule, 'name')!r} keeps no sampled requests")


@resource_policy("waf-logging-redacts-credentials", "WAF logs redact the Authorization (API keys) and Cookie headers",
                 Controls(sources=("README: Edge (Authorization and Cookie redacted)", "guides: never log keys")),
                 [WEB_ACL_LOGGING], Severity.HIGH)
def waf_logging_redacts(args: ResourceValidationArgs, report: Report) -> None:
    redacted = {str(get(field, "singleHeader", "name") or "").lower() for field in items(get(args.props,
                                                                                               "redactedFields"))}
    missing = [h for h in CREDENTIAL_HEADERS if h not in redacted]
    if missing:
        report(f"redactedFields does not redact the {', '.join(missing)} header(s)")


def acl_group_names(graph: StackGraph, acl: PolicyResource) -> set[str]:
    groups = set().union(*[managed_group_names(rule_statement(rule)) for rule in acl_rules(acl.props)])
    for attached in attached_rules(graph, acl):
        groups |= managed_group_names(plain(get(attached.props, "statement") or {}))
        groups.add(get(attached.props, "managedRuleGroup", "name"))
    return groups


@stack_policy("waf-anonymous-ip-list", f"WAF web ACLs run the {ANONYMOUS_IP_LIST} "
              "managed group (requests hiding their origin)", Controls(checkov=("CKV2_AWS_76",)),
              [WEB_ACL, WEB_ACL_RULE, WEB_ACL_RULE_GROUP_ASSOCIATION], Severity.MEDIUM)
def waf_anonymous_ip_list(graph: StackGraph, report: Report) -> None:
    for acl in graph.of_type(WEB_ACL):
        if ANONYMOUS_IP_LIST not in acl_group_names(graph, acl):
            report(f"{label(acl)}: no rule uses the {ANONYMOUS_IP_LIST} managed rule group", acl.urn)


def protected_headers(props: Any) -> set[str]:
    """Header names the web ACL's own data protection hides (every output: logs and sampled requests)."""
    protected = set()
    for protection in items(get(props, "dataProtectionConfig", "dataProtections")):
        field = get(protection, "field") or {}
        if get(field, "fieldType") == "SINGLE_HEADER" and get(protection, "action") in PROTECTING_ACTIONS:
            protected |= {str(key).lower() for key in items(get(field, "fieldKeys"))}
    return protected


@resource_policy("waf-data-protection-credentials", "WAF web ACLs hide the Authorization and Cookie headers in "
                 "every output (sampled requests included, not only logs)",
                 Controls(sources=("AWS WAF developer guide: data protection",)), [WEB_ACL], Severity.HIGH)
def waf_data_protection(args: ResourceValidationArgs, report: Report) -> None:
    missing = [h for h in CREDENTIAL_HEADERS if h not in protected_headers(args.props)]
    if missing:
        report(f"dataProtectionConfig does not protect the {', '.join(missing)} header(s) (SINGLE_HEADER with "
               "SUBSTITUTION or HASH): sampled requests show them in clear")


@stack_policy("waf-logging", "Every WAF web ACL has a logging configuration",
              Controls(checkov=("CKV2_AWS_31",), sources=("Security Hub WAF.11",)), [WEB_ACL, WEB_ACL_LOGGING],
              Severity.MEDIUM)
def waf_logging(graph: StackGraph, report: Report) -> None:
    for acl in graph.of_type(WEB_ACL):
        configs = graph.referrers(acl, "resourceArn", WEB_ACL_LOGGING)
        if not any(present(c.props, "logDestinationConfigs") for c in configs):
            report(f"{label(acl)} has no aws.wafv2.WebAclLoggingConfiguration with a destination", acl.urn)


POLICIES: list[SecurestackPolicy] = [lb_http_redirects, lb_https_tls_policy, lb_https_security_headers, lb_https_to_targets,
            lb_drop_invalid_headers, lb_access_logs, lb_deletion_protection, lb_desync_mitigation, lb_desync_strictest,
            lb_waf_fail_closed, lb_multi_az, lb_waf_associated, waf_has_rules, waf_metrics, waf_rate_rule,
            waf_known_bad_inputs, waf_managed_rule_groups, waf_rate_limit_first, waf_sampled_requests,
            waf_anonymous_ip_list, waf_data_protection, waf_logging, waf_logging_redacts]
