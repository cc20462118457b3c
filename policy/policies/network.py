"""Network: closed default security group, flow logs, no public IPs by default, internet ingress only where the
load balancer listens."""
from __future__ import annotations

import fnmatch

from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity

from securestack.infra.endpoints import PrivateCode

from .support import Report, SecurestackPolicy
from .support import (Controls, StackGraph, actions_of, allows, get, is_true, is_unknown, items, label, number, peek,
                      present, resource_policy, stack_policy, statements)
from .types import (DEFAULT_SECURITY_GROUP, ECS_SERVICE, EGRESS_RULE, FLOW_LOG, FUNCTION, INGRESS_RULE, LOAD_BALANCERS,
                    RDS_SUBNET_GROUP, ROLE, ROLE_POLICY, ROUTE, ROUTE_TABLE, ROUTE_TABLE_ASSOCIATION, SECURITY_GROUP,
                    SECURITY_GROUP_RULE, SUBNET, VPC, VPC_ENDPOINT)

INTERNET = frozenset({"0.0.0.0/0", "::/0"})
WEB_PORTS = frozenset({80, 443})  # what an internet-facing load balancer listens on
ALL_PROTOCOLS = frozenset({"-1", "all"})
PULUMI_DEFAULT_DESCRIPTION = "Managed by Pulumi"  # what pulumi-aws puts when a program gives none


def zone_of(subnet: PolicyResource) -> str:
    return peek(subnet.props, "availabilityZone") or peek(subnet.props, "availabilityZoneId") or subnet.urn


def availability_zones(graph: StackGraph, source: PolicyResource, prop: str, subnet_ids: list[str]) -> set[str]:
    """Distinct AZs of the subnets a resource is placed in: the stack's own subnets by their AZ, subnets from
    outside the stack one zone per id (all that is known of them). During a preview the ids are not known
    yet; the subnets the value came from (property dependencies) answer instead."""
    known = [s for s in subnet_ids if isinstance(s, str) and not is_unknown(s)]
    if not known:
        return {zone_of(subnet) for subnet in graph.referenced(source, prop, SUBNET)}
    by_id = {peek(subnet.props, "id"): subnet for subnet in graph.of_type(SUBNET)}
    return {zone_of(by_id[s]) if s in by_id else s for s in known}


# -- ingress rules, whichever resource declares them --------------------------------------------------------------

def _rule(rule_props: Any, cidrs: list[Any], protocol: Any) -> dict[str, Any]:
    return {"cidrs": list(cidrs), "protocol": str(protocol), "from": number(get(rule_props, "fromPort")),
            "to": number(get(rule_props, "toPort")), "description": get(rule_props, "description")}


def _inline_rules(props: Any, direction: str) -> list[dict[str, Any]]:
    # Field by field: a rule's other fields (e.g. source security groups) may not be known during a preview.
    return [_rule(rule, items(get(rule, "cidrBlocks")) + items(get(rule, "ipv6CidrBlocks")), get(rule, "protocol"))
            for rule in items(get(props, direction))]


def inline_ingress(props: Any) -> list[dict[str, Any]]:
    return _inline_rules(props, "ingress")


def _rules(direction: str, resource_type: str, props: Any) -> list[dict[str, Any]]:
    """Rules of one direction of a security group, a SecurityGroupRule or a vpc.SecurityGroup{In,E}gressRule."""
    if resource_type == SECURITY_GROUP:
        return _inline_rules(props, direction)
    if resource_type == SECURITY_GROUP_RULE:
        if get(props, "type") != direction:
            return []
        return [_rule(props, items(get(props, "cidrBlocks")) + items(get(props, "ipv6CidrBlocks")),
                      get(props, "protocol"))]
    return [_rule(props, [c for c in (get(props, "cidrIpv4"), get(props, "cidrIpv6")) if c], get(props, "ipProtocol"))]


def ingress_rules(resource_type: str, props: Any) -> list[dict[str, Any]]:
    """Ingress of a security group, a SecurityGroupRule or a vpc.SecurityGroupIngressRule, in one shape."""
    return _rules("ingress", resource_type, props)


def opens_to_internet(rule: dict[str, Any]) -> bool:
    return any(cidr in INTERNET for cidr in rule["cidrs"])


def is_web_port(rule: dict[str, Any]) -> bool:
    return rule["protocol"].lower() in ("tcp", "6") and rule["from"] == rule["to"] and rule["from"] in WEB_PORTS


def describe_rule(rule: dict[str, Any]) -> str:
    if rule["protocol"] in ALL_PROTOCOLS:
        ports = "all ports"
    else:
        ports = f"{rule['protocol']} {rule['from']:.0f}-{rule['to']:.0f}"
    return f"{ports} from {', '.join(c for c in rule['cidrs'] if c in INTERNET)}"


INGRESS_TYPES = [SECURITY_GROUP, SECURITY_GROUP_RULE, INGRESS_RULE]


@resource_policy("sg-internet-ingress-web-ports-only", "Security groups admit 0.0.0.0/0 or ::/0 only on TCP 80 "
                 "and 443", Controls(fsbp=("EC2.18", "EC2.19"), checkov=("CKV_AWS_24", "CKV_AWS_25")),
                 INGRESS_TYPES, Severity.CRITICAL)
def sg_internet_ports(args: ResourceValidationArgs, report: Report) -> None:
    for rule in ingress_rules(args.resource_type, args.props):
        if opens_to_internet(rule) and not is_web_port(rule):
            report(f"ingress {describe_rule(rule)}")


def security_group_of(graph: StackGraph, rule: PolicyResource) -> list[PolicyResource]:
    if rule.resource_type == SECURITY_GROUP:
        return [rule]
    return graph.referenced(rule, "securityGroupId", SECURITY_GROUP)


def fronts_internet(graph: StackGraph, group: PolicyResource) -> bool:
    return any(not is_true(peek(lb.props, "internal"))
               for lb in graph.referrers(group, "securityGroups", *LOAD_BALANCERS))


@stack_policy("sg-internet-ingress-only-to-load-balancers", "Internet ingress reaches only security groups of "
              "internet-facing load balancers; everything else is private", Controls(
                  sources=("design: private subnets for database, functions and app",)),
              [*INGRESS_TYPES, *LOAD_BALANCERS], Severity.CRITICAL)
def sg_internet_only_to_lbs(graph: StackGraph, report: Report) -> None:
    for resource in graph.of_type(*INGRESS_TYPES):
        open_rules = [r for r in ingress_rules(resource.resource_type, resource.props) if opens_to_internet(r)]
        if open_rules and not any(fronts_internet(graph, g) for g in security_group_of(graph, resource)):
            report(f"{label(resource)} admits {describe_rule(open_rules[0])} into a security group no "
                   "internet-facing load balancer uses", resource.urn)


def described(text: Any) -> bool:
    return isinstance(text, str) and bool(text.strip()) and text != PULUMI_DEFAULT_DESCRIPTION


@resource_policy("sg-descriptions", "Security groups and every rule say what they admit (a description)",
                 Controls(checkov=("CKV_AWS_23",)), [*INGRESS_TYPES, EGRESS_RULE], Severity.LOW)
def sg_descriptions(args: ResourceValidationArgs, report: Report) -> None:
    if args.resource_type == SECURITY_GROUP:
        if not described(get(args.props, "description")):
            report("the security group has no description of its own")
        rules = inline_ingress(args.props) + [{"description": get(rule, "description")}
                                              for rule in items(get(args.props, "egress"))]
    else:
        rules = [{"description": get(args.props, "description")}]
    if any(not described(rule["description"]) for rule in rules):
        report("a rule has no description")


# -- the VPCs the stack uses: its own, or one made elsewhere (network.existingVpc) -----------------------------

PLACED_IN_A_VPC = (SECURITY_GROUP, VPC_ENDPOINT)  # what the stack always puts in the VPC it uses


def outside_vpc_ids(graph: StackGraph) -> list[str]:
    """Ids of VPCs the stack places resources in without creating them: they owe the same guarantees."""
    own = {peek(vpc.props, "id") for vpc in graph.of_type(VPC)}
    found = []
    for resource in graph.of_type(*PLACED_IN_A_VPC):
        vpc_id = peek(resource.props, "vpcId")
        if isinstance(vpc_id, str) and vpc_id not in own and not graph.referenced(resource, "vpcId", VPC) \
                and vpc_id not in found:
            found.append(vpc_id)
    return found


def naming_vpc(graph: StackGraph, vpc_id: str, *types: str) -> list[PolicyResource]:
    return [r for r in graph.of_type(*types) if peek(r.props, "vpcId") == vpc_id]


@stack_policy("vpc-default-security-group-closed", "Every VPC the stack uses (its own or an existing one) has its "
              "default security group managed, without rules", Controls(fsbp=("EC2.2",), checkov=("CKV2_AWS_12",)),
              [VPC, DEFAULT_SECURITY_GROUP, *PLACED_IN_A_VPC], Severity.HIGH)
def default_sg_closed(graph: StackGraph, report: Report) -> None:
    for group in graph.of_type(DEFAULT_SECURITY_GROUP):
        if items(get(group.props, "ingress")) or items(get(group.props, "egress")):
            report(f"{label(group)} has rules", group.urn)
    for vpc in graph.of_type(VPC):
        if not graph.referrers(vpc, "vpcId", DEFAULT_SECURITY_GROUP):
            report(f"{label(vpc)}'s default security group is not managed (AWS leaves it open to its members)",
                   vpc.urn)
    for vpc_id in outside_vpc_ids(graph):
        if not naming_vpc(graph, vpc_id, DEFAULT_SECURITY_GROUP):
            report(f"existing VPC {vpc_id}'s default security group is not adopted and emptied (a "
                   "DefaultSecurityGroup with its vpcId)")


def logs_all_or_rejected(flow_log: PolicyResource) -> bool:
    return get(flow_log.props, "trafficType") in ("ALL", "REJECT")


@stack_policy("vpc-flow-logs", "Every VPC the stack uses (its own or an existing one) has flow logs",
              Controls(fsbp=("EC2.6",), checkov=("CKV2_AWS_11",)), [VPC, FLOW_LOG, *PLACED_IN_A_VPC], Severity.MEDIUM)
def vpc_flow_logs(graph: StackGraph, report: Report) -> None:
    for vpc in graph.of_type(VPC):
        if not any(logs_all_or_rejected(f) for f in graph.referrers(vpc, "vpcId", FLOW_LOG)):
            report(f"{label(vpc)} has no flow log of ALL or REJECT traffic", vpc.urn)
    for vpc_id in outside_vpc_ids(graph):
        if not any(logs_all_or_rejected(f) for f in naming_vpc(graph, vpc_id, FLOW_LOG)):
            report(f"existing VPC {vpc_id} has no flow log of ALL or REJECT traffic from this stack")


# -- the endpoints private code needs (no NAT) ---------------------------------------------------------------

def in_a_vpc(function: PolicyResource) -> bool:
    return bool(items(peek(function.props, "vpcConfig", "subnetIds")))


def grants(graph: StackGraph, action: str) -> bool:
    """Whether an inline role policy of the stack allows `action` (IAM matches actions case-insensitively)."""
    documents = [get(p.props, "policy") for p in graph.of_type(ROLE_POLICY)]
    documents += [get(inline, "policy") for role in graph.of_type(ROLE) for inline in items(get(role.props,
                                                                                                "inlinePolicies"))]
    return any(allows(statement) and any(fnmatch.fnmatch(action.lower(), pattern.lower())
                                         for pattern in actions_of(statement))
               for document in documents for statement in statements(document))


def private_code_of(graph: StackGraph) -> PrivateCode | None:
    """What the stack runs in private subnets, read from its resources (None: nothing runs there)."""
    functions = [f for f in graph.of_type(FUNCTION) if in_a_vpc(f)]
    app = bool(graph.of_type(ECS_SERVICE))
    if not functions and not app:
        return None
    return PrivateCode(app=app, functions_redeploy_app=app and bool(functions) and grants(graph, "ecs:UpdateService"),
                       traced_functions=any(get(f.props, "tracingConfig", "mode") == "Active" for f in functions),
                       functions_publish_metrics=bool(functions) and grants(graph, "cloudwatch:PutMetricData"))


def endpoint_service(endpoint: PolicyResource) -> str:
    """`ecr.api` of `com.amazonaws.us-east-1.ecr.api`."""
    name = get(endpoint.props, "serviceName")
    parts = name.split(".", 3) if isinstance(name, str) else []
    return parts[3] if len(parts) == 4 else ""


@stack_policy("vpc-endpoints-for-private-code", "Private code reaches every AWS API it calls through a VPC endpoint "
              "(no NAT): Secrets Manager, KMS, Logs, STS; ECR and the S3 gateway for the app; ECS when functions "
              "redeploy it; X-Ray when they are traced; CloudWatch (monitoring) when they publish metrics", Controls(sources=(
                  "design: interface endpoints so private code never needs a NAT", "issue 11 item 3",
                  "issue 15 item 3")),
              [FUNCTION, ECS_SERVICE, ROLE_POLICY, VPC_ENDPOINT], Severity.HIGH)
def private_code_endpoints(graph: StackGraph, report: Report) -> None:
    code = private_code_of(graph)
    if code is None:
        return
    endpoints = graph.of_type(VPC_ENDPOINT)
    interface = {endpoint_service(e) for e in endpoints
                 if get(e.props, "vpcEndpointType") == "Interface" and is_true(get(e.props, "privateDnsEnabled"))}
    gateway = {endpoint_service(e) for e in endpoints
               if get(e.props, "vpcEndpointType") == "Gateway" and present(e.props, "routeTableIds")}
    for service in code.interface_endpoints():
        if service not in interface:
            report(f"no interface endpoint with private DNS for '{service}': private code calling it waits for a "
                   "timeout")
    for service in code.gateway_endpoints():
        if service not in gateway:
            report(f"no '{service}' gateway endpoint on the private route tables (Fargate pulls image layers from "
                   "S3)")


@resource_policy("subnet-no-public-ip-on-launch", "Subnets do not give instances public IPs by default",
                 Controls(fsbp=("EC2.15",), checkov=("CKV_AWS_130",)), [SUBNET], Severity.MEDIUM)
def subnet_no_public_ip(args: ResourceValidationArgs, report: Report) -> None:
    if is_true(get(args.props, "mapPublicIpOnLaunch")):
        report("mapPublicIpOnLaunch is true")


def egress_rules(resource_type: str, props: Any) -> list[dict[str, Any]]:
    """Egress of a security group, a SecurityGroupRule or a vpc.SecurityGroupEgressRule, in one shape."""
    return _rules("egress", resource_type, props)


@resource_policy("sg-no-internet-egress", "No security group lets traffic out to the internet (0.0.0.0/0, ::/0): "
                 "egress goes to the VPC's endpoints, the S3 prefix list or named security groups",
                 Controls(sources=("README: Architecture (no NAT; egress to the endpoints)",
                                   "README: Edge (no egress until allow_to_targets)")),
                 [SECURITY_GROUP, SECURITY_GROUP_RULE, EGRESS_RULE], Severity.HIGH)
def sg_no_internet_egress(args: ResourceValidationArgs, report: Report) -> None:
    for rule in egress_rules(args.resource_type, args.props):
        if opens_to_internet(rule):
            report(f"egress {describe_rule(rule).replace(' from ', ' to ')}")


def private_subnets(graph: StackGraph) -> list[PolicyResource]:
    """The stack's subnets its private code runs in: database subnet groups, functions, services."""
    found = {}
    placements = [(RDS_SUBNET_GROUP, "subnetIds"), (FUNCTION, "vpcConfig"), (ECS_SERVICE, "networkConfiguration")]
    for resource_type, prop in placements:
        for resource in graph.of_type(resource_type):
            for subnet in graph.referenced(resource, prop, SUBNET):
                found[subnet.urn] = subnet
    return list(found.values())


def default_routes(graph: StackGraph, table: PolicyResource) -> list[str]:
    """The internet destinations (0.0.0.0/0, ::/0) a route table routes."""
    routes = [peek(route, "cidrBlock") or peek(route, "ipv6CidrBlock") for route in items(peek(table.props, "routes"))]
    routes += [peek(route.props, "destinationCidrBlock") or peek(route.props, "destinationIpv6CidrBlock")
               for route in graph.referrers(table, "routeTableId", ROUTE)]
    return [route for route in routes if route in INTERNET]


@stack_policy("private-subnets-no-default-route", "Subnets of the database, functions and app have no default route "
              "(no internet or NAT gateway): they reach AWS only through VPC endpoints",
              Controls(sources=("README: Architecture (private subnets; no NAT: interface endpoints)",
                                "design: private subnets for database, functions and app")),
              [SUBNET, ROUTE_TABLE, ROUTE_TABLE_ASSOCIATION, ROUTE, RDS_SUBNET_GROUP, FUNCTION, ECS_SERVICE],
              Severity.HIGH)
def private_subnets_no_default_route(graph: StackGraph, report: Report) -> None:
    for subnet in private_subnets(graph):
        for association in graph.referrers(subnet, "subnetId", ROUTE_TABLE_ASSOCIATION):
            for table in graph.referenced(association, "routeTableId", ROUTE_TABLE):
                routes = default_routes(graph, table)
                if routes:
                    report(f"private {label(subnet)} routes {', '.join(routes)} through {label(table)}", subnet.urn)


POLICIES: list[SecurestackPolicy] = [sg_internet_ports, sg_internet_only_to_lbs, sg_descriptions, sg_no_internet_egress, default_sg_closed,
            vpc_flow_logs, subnet_no_public_ip, private_subnets_no_default_route, private_code_endpoints]
