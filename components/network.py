"""Network: a VPC with public subnets for the load balancer and private subnets for everything else.

The same guarantees hold for a VPC made by the stack and for an existing one (`network.existingVpc`): a flow log
of all traffic, the default security group adopted and emptied, an interface endpoint (private DNS) in the
private subnets for every AWS API the stack's private code calls, and the S3 gateway on the private route tables.
"""
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Optional, cast

import pulumi
import pulumi_aws as aws

from .args import as_args, check_environment, check_log_retention, check_range, check_tags, field_error
from .common import (aws_identity, concatenated, encrypted_log_group, formatted, policy_json, renamed_from,
                     service_assume_role_policy)

HTTPS = 443
# What any code in private subnets needs with no NAT: Secrets Manager, KMS, CloudWatch Logs and STS (SDK credential
# and key calls). The stack program derives its full list from what it runs (infra/endpoints.py).
DEFAULT_INTERFACE_ENDPOINTS = ("secretsmanager", "kms", "logs", "sts")
# Gateway endpoints on the private route tables: S3 (container image layers come from S3; a gateway is free).
GATEWAY_ENDPOINTS = ("s3",)
# The service part of com.amazonaws.<region>.<service>, e.g. ecr.dkr or ecs-agent.
ENDPOINT_SERVICE = re.compile(r"^[a-z0-9]+([.-][a-z0-9]+)*$")
VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
ROUTE_TABLE_ID = re.compile(r"^rtb-[0-9a-f]{8,17}$")
# Subnets are 16 blocks of the VPC's prefix + 4 (AWS subnets are /16 to /28); public i and private 8 + i per AZ.
VPC_PREFIX_RANGE = (16, 24)
SUBNET_PREFIX_EXTRA = 4
MAX_AVAILABILITY_ZONES = 6


def _check_ids(args: object, field_name: str, pattern: re.Pattern[str], noun: str, minimum: int) -> None:
    """At least `minimum` distinct ids; those given as plain text (not Outputs) in AWS's id format."""
    values = getattr(args, field_name)
    if not isinstance(values, list) or len(values) < minimum:
        raise field_error(args, field_name, f"needs at least {minimum} {noun} id(s)")
    plain = [value for value in values if isinstance(value, str)]
    for value in plain:
        if not pattern.match(value):
            raise field_error(args, field_name, f"{value!r} is not a {noun} id ({pattern.pattern})")
    if len(set(plain)) != len(plain):
        raise field_error(args, field_name, f"lists a {noun} id twice")


@dataclass
class ExistingVpc:
    """A VPC made elsewhere. Network creates no VPC, subnets or route tables in it, and still adds a flow log,
    adopts and empties its default security group, puts the interface endpoints in `private_subnet_ids` and the
    S3 gateway on `private_route_table_ids`."""

    vpc_id: pulumi.Input[str]
    """ID of the VPC (vpc-...); it needs DNS support and DNS host names on for the endpoints' private DNS. Required."""
    cidr_block: pulumi.Input[str]
    """The VPC's IPv4 CIDR block: the endpoints admit HTTPS from it. Required."""
    public_subnet_ids: list[pulumi.Input[str]]
    """IDs of its public subnets (subnet-..., at least 2, in different AZs): where a load balancer goes. Required."""
    private_subnet_ids: list[pulumi.Input[str]]
    """IDs of its private subnets (subnet-..., at least 2, at most one per AZ): the endpoints and everything else.
    Required."""
    private_route_table_ids: list[pulumi.Input[str]]
    """IDs of the private subnets' route tables (rtb-..., at least 1), which get the S3 gateway endpoint; none may
    already route to an S3 gateway endpoint. Required."""

    def __post_init__(self) -> None:
        if isinstance(self.vpc_id, str) and not VPC_ID.match(self.vpc_id):
            raise field_error(self, "vpc_id", f"{self.vpc_id!r} is not a VPC id (vpc-...)")
        if isinstance(self.cidr_block, str):
            _ipv4_block(self, "cidr_block")
        _check_ids(self, "public_subnet_ids", SUBNET_ID, "subnet", 2)
        _check_ids(self, "private_subnet_ids", SUBNET_ID, "subnet", 2)
        _check_ids(self, "private_route_table_ids", ROUTE_TABLE_ID, "route table", 1)


def _ipv4_block(args: object, field_name: str) -> ipaddress.IPv4Network:
    value = getattr(args, field_name)
    try:
        return ipaddress.IPv4Network(value)
    except (ValueError, TypeError) as error:
        raise field_error(args, field_name, f"{value!r} is not an IPv4 CIDR block: {error}") from None


@dataclass
class NetworkArgs:
    """Inputs of Network: a new VPC's size (or an existing VPC), the endpoints private code needs, flow logs."""

    environment: str
    """Environment name (lowercase letters, digits and single hyphens, at most 12): in the resources' Name tags and
    the flow log group `/securestack/<env>/vpc-flow-logs`. Required."""
    logs_key_arn: pulumi.Input[str]
    """ARN of the KMS key the flow log group is encrypted with (e.g. EnvironmentKeys.logs_key_arn); its policy must
    let CloudWatch Logs use it. Required."""
    vpc_cidr: str = "10.0.0.0/16"
    """IPv4 block of a new VPC: a private (RFC 1918) /16 to /24, split into /20 to /28 subnets. Ignored with
    `existing_vpc`. Default: 10.0.0.0/16."""
    availability_zone_count: int = 2
    """Availability zones a new VPC spans (2-6), with one public and one private subnet in each. Ignored with
    `existing_vpc`. Default: 2."""
    existing_vpc: Optional[ExistingVpc] = None
    """A VPC made elsewhere to use instead of creating one. Default: none (a new VPC)."""
    interface_endpoints: list[str] = field(default_factory=lambda: list(DEFAULT_INTERFACE_ENDPOINTS))
    """AWS services that get an interface endpoint with private DNS in the private subnets (the part after
    com.amazonaws.<region>., e.g. ecr.dkr): every API the private code calls, since there is no NAT. Default:
    secretsmanager, kms, logs, sts."""
    flow_log_retention_days: int = 365
    """Days the VPC flow logs are kept (a CloudWatch Logs retention value). Default: 365."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource (each also gets a `Name`). Default: none."""

    def __post_init__(self) -> None:
        check_environment(self)
        network = _ipv4_block(self, "vpc_cidr")
        low, high = VPC_PREFIX_RANGE
        if not low <= network.prefixlen <= high or not network.is_private:
            raise field_error(self, "vpc_cidr", f"{self.vpc_cidr!r} is not a private (RFC 1918) /{low} to /{high} "
                              "block")
        check_range(self, "availability_zone_count", 2, MAX_AVAILABILITY_ZONES)
        self._check_interface_endpoints()
        check_log_retention(self, "flow_log_retention_days")
        check_tags(self)

    def _check_interface_endpoints(self) -> None:
        services = self.interface_endpoints
        if not isinstance(services, list):
            raise field_error(self, "interface_endpoints", "expected a list of AWS service names")
        for service in services:
            if not isinstance(service, str) or not ENDPOINT_SERVICE.match(service):
                raise field_error(self, "interface_endpoints", f"{service!r} is not an AWS service name (e.g. ecr.dkr)")
        if len(set(services)) != len(services):
            raise field_error(self, "interface_endpoints", "lists a service twice")


class Network(pulumi.ComponentResource):
    """New VPC (or an existing one), interface endpoints so private code never needs a NAT, flow logs."""

    vpc_id: pulumi.Output[str]
    """ID of the VPC (the new one, or `existing_vpc.vpc_id`)."""
    vpc_cidr: pulumi.Output[str]
    """The VPC's IPv4 CIDR block."""
    public_subnet_ids: pulumi.Output[list[str]]
    """IDs of the public subnets (a load balancer's), one per AZ."""
    private_subnet_ids: pulumi.Output[list[str]]
    """IDs of the private subnets (no route to the internet), one per AZ."""
    endpoint_security_group_id: pulumi.Output[str]
    """ID of the security group of the interface endpoints (HTTPS from the VPC)."""

    def __init__(self, name: str, args: NetworkArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = as_args(NetworkArgs, args)
        super().__init__("securestack:index:Network", name, None, renamed_from("securestack:network:Network", opts))
        self._name, self._args, self._tags = name, args, dict(args.tags)
        self.account_id, self.partition, self.region = aws_identity(self)
        if args.existing_vpc is not None:
            self._use_existing(args.existing_vpc)
        else:
            self._create_vpc(args)
        self._close_default_security_group()
        self._flow_logs(args)
        self.interface_endpoint_services = tuple(args.interface_endpoints)
        self.endpoint_security_group_id = self._interface_endpoints()
        self._gateway_endpoints()
        self.register_outputs({
            "vpc_id": self.vpc_id, "vpc_cidr": self.vpc_cidr, "public_subnet_ids": self.public_subnet_ids,
            "private_subnet_ids": self.private_subnet_ids,
            "endpoint_security_group_id": self.endpoint_security_group_id})

    def _child(self, **extra: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **extra)

    def _tagged(self, name: str) -> dict[str, str]:
        # Named after the environment: a restore stack in its source's account must not show the source's names.
        return {**self._tags, "Name": f"securestack-{self._args.environment}-{name}"}

    def _use_existing(self, existing: ExistingVpc) -> None:
        self.vpc_id = pulumi.Output.from_input(existing.vpc_id)
        self.vpc_cidr = pulumi.Output.from_input(existing.cidr_block)
        # from_input resolves the Outputs inside the list (pulumi/output.py); its signature cannot say so.
        self.public_subnet_ids = cast("pulumi.Output[list[str]]",
                                      pulumi.Output.from_input(list(existing.public_subnet_ids)))
        self.private_subnet_ids = cast("pulumi.Output[list[str]]",
                                       pulumi.Output.from_input(list(existing.private_subnet_ids)))
        self.private_route_table_ids = list(existing.private_route_table_ids)

    def _create_vpc(self, args: NetworkArgs) -> None:
        name = self._name
        vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=args.vpc_cidr, enable_dns_support=True,
                          enable_dns_hostnames=True, tags=self._tagged(f"{name}-vpc"), opts=self._child())
        zones = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOutputOptions(parent=self))
        blocks = list(ipaddress.IPv4Network(args.vpc_cidr).subnets(prefixlen_diff=SUBNET_PREFIX_EXTRA))
        count = args.availability_zone_count
        public = [self._subnet(vpc, f"public-{i}", str(blocks[i]), zones.names[i]) for i in range(count)]
        private = [self._subnet(vpc, f"private-{i}", str(blocks[8 + i]), zones.names[i]) for i in range(count)]
        self._public_routes(vpc, public)
        private_table = self._private_routes(vpc, private)
        self.vpc_id, self.vpc_cidr = vpc.id, vpc.cidr_block
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public])
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private])
        self.private_route_table_ids = [private_table.id]

    def _subnet(self, vpc: aws.ec2.Vpc, role: str, cidr: str, zone: pulumi.Input[str]) -> aws.ec2.Subnet:
        return aws.ec2.Subnet(f"{self._name}-{role}", vpc_id=vpc.id, cidr_block=cidr, availability_zone=zone,
                              map_public_ip_on_launch=False, tags=self._tagged(f"{self._name}-{role}"),
                              opts=self._child())

    def _public_routes(self, vpc: aws.ec2.Vpc, subnets: list[aws.ec2.Subnet]) -> None:
        gateway = aws.ec2.InternetGateway(f"{self._name}-igw", vpc_id=vpc.id, tags=self._tagged(f"{self._name}-igw"),
                                          opts=self._child())
        table = aws.ec2.RouteTable(f"{self._name}-public-rt", vpc_id=vpc.id,
                                   routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": gateway.id}],
                                   tags=self._tagged(f"{self._name}-public"), opts=self._child())
        for index, subnet in enumerate(subnets):
            aws.ec2.RouteTableAssociation(f"{self._name}-public-{index}-rta", subnet_id=subnet.id,
                                          route_table_id=table.id, opts=self._child())

    def _private_routes(self, vpc: aws.ec2.Vpc, subnets: list[aws.ec2.Subnet]) -> aws.ec2.RouteTable:
        # No default route: private subnets reach AWS only through the endpoints below.
        table = aws.ec2.RouteTable(f"{self._name}-private-rt", vpc_id=vpc.id,
                                   tags=self._tagged(f"{self._name}-private"), opts=self._child())
        for index, subnet in enumerate(subnets):
            aws.ec2.RouteTableAssociation(f"{self._name}-private-{index}-rta", subnet_id=subnet.id,
                                          route_table_id=table.id, opts=self._child())
        return table

    def _close_default_security_group(self) -> None:
        # No rules at all: nothing may use the default security group by accident. On an existing VPC this adopts
        # the group AWS made with it and removes its rules (what the provider does with an aws_default_security_group).
        aws.ec2.DefaultSecurityGroup(f"{self._name}-default-sg-closed", vpc_id=self.vpc_id, ingress=[], egress=[],
                                     tags=self._tagged(f"{self._name}-default-closed"), opts=self._child())

    def _interface_endpoints(self) -> pulumi.Output[str]:
        group = aws.ec2.SecurityGroup(
            f"{self._name}-endpoints-sg", vpc_id=self.vpc_id,
            description="HTTPS from inside the VPC to the AWS API interface endpoints",
            ingress=[{"protocol": "tcp", "from_port": HTTPS, "to_port": HTTPS, "cidr_blocks": [self.vpc_cidr],
                      "description": "AWS API calls from private subnets"}],
            tags=self._tagged(f"{self._name}-endpoints"), opts=self._child())
        for service in self.interface_endpoint_services:
            aws.ec2.VpcEndpoint(
                f"{self._name}-{service.replace('.', '-')}-endpoint", vpc_id=self.vpc_id,
                service_name=formatted("com.amazonaws.{0}.{1}", self.region, service),
                vpc_endpoint_type="Interface", private_dns_enabled=True, subnet_ids=self.private_subnet_ids,
                security_group_ids=[group.id], tags=self._tagged(f"{self._name}-{service}"), opts=self._child())
        return group.id

    def _gateway_endpoints(self) -> None:
        for service in GATEWAY_ENDPOINTS:
            # Container image layers come from S3; a gateway endpoint keeps that traffic private and free.
            aws.ec2.VpcEndpoint(
                f"{self._name}-{service}-endpoint", vpc_id=self.vpc_id, vpc_endpoint_type="Gateway",
                service_name=formatted("com.amazonaws.{0}.{1}", self.region, service),
                route_table_ids=self.private_route_table_ids, tags=self._tagged(f"{self._name}-{service}"),
                opts=self._child())

    def _flow_logs(self, args: NetworkArgs) -> None:
        env = self._args.environment
        group = encrypted_log_group(f"{self._name}-flow-logs", log_group_name=f"/securestack/{env}/vpc-flow-logs",
                                    kms_key_arn=self._args.logs_key_arn,
                                    retention_days=args.flow_log_retention_days, tags=self._tags, parent=self)
        role = aws.iam.Role(f"{self._name}-flow-logs-role",
                            assume_role_policy=service_assume_role_policy("vpc-flow-logs.amazonaws.com",
                                                                          self.account_id),
                            tags=self._tags, opts=self._child())
        aws.iam.RolePolicy(f"{self._name}-flow-logs-write", role=role.id, policy=policy_json([{
            "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": [group.arn, concatenated(group.arn, ":*")]}]), opts=self._child())
        aws.ec2.FlowLog(f"{self._name}-flow-log", vpc_id=self.vpc_id, traffic_type="ALL",
                        log_destination_type="cloud-watch-logs", log_destination=group.arn, iam_role_arn=role.arn,
                        max_aggregation_interval=60, tags=self._tagged(f"{self._name}-flow-log"), opts=self._child())
