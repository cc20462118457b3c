"""Network: a VPC with public subnets for the load balancer and private subnets for everything else.

The same guarantees hold for a VPC made by the stack and for an existing one (`network.existingVpc`): a flow log
of all traffic, the default security group adopted and emptied, an interface endpoint (private DNS) in the
private subnets for every AWS API the stack's private code calls, and the S3 gateway on the private route tables.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Mapping, Optional

import pulumi
import pulumi_aws as aws

from securestack.infra.endpoints import PrivateCode, with_extras
from securestack.infra.settings.network import NetworkSettings

from .common import aws_identity, encrypted_log_group, policy_json, renamed_from, service_assume_role_policy

HTTPS = 443


@dataclass
class NetworkArgs:
    environment: str
    settings: NetworkSettings
    logs_key_arn: pulumi.Input[str]
    # What runs in the private subnets: its endpoints are always created, whatever the config lists.
    private_code: PrivateCode
    tags: Mapping[str, str] = field(default_factory=dict)


class Network(pulumi.ComponentResource):
    """New VPC (or an existing one), interface endpoints so private code never needs a NAT, flow logs."""

    def __init__(self, name: str, args: NetworkArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("securestack:index:Network", name, None, renamed_from("securestack:network:Network", opts))
        self._name, self._args, self._tags = name, args, dict(args.tags)
        self.account_id, self.partition, self.region = aws_identity(self)
        if args.settings.existing_vpc is not None:
            self._use_existing(args.settings)
        else:
            self._create_vpc(args.settings)
        self._close_default_security_group()
        self._flow_logs(args.settings)
        self.interface_endpoint_services = with_extras(args.private_code.interface_endpoints(),
                                                       args.settings.interface_endpoints)
        self.endpoint_security_group_id = self._interface_endpoints()
        self._gateway_endpoints()
        self.register_outputs({
            "vpc_id": self.vpc_id, "vpc_cidr": self.vpc_cidr, "public_subnet_ids": self.public_subnet_ids,
            "private_subnet_ids": self.private_subnet_ids,
            "endpoint_security_group_id": self.endpoint_security_group_id})

    def _child(self, **extra) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **extra)

    def _tagged(self, name: str) -> dict[str, str]:
        # Named after the environment: a restore stack in its source's account must not show the source's names.
        return {**self._tags, "Name": f"securestack-{self._args.environment}-{name}"}

    def _use_existing(self, settings: NetworkSettings) -> None:
        existing = settings.existing_vpc
        self.vpc_id = pulumi.Output.from_input(existing.vpc_id)
        self.vpc_cidr = pulumi.Output.from_input(existing.cidr_block)
        self.public_subnet_ids = pulumi.Output.from_input(list(existing.public_subnet_ids))
        self.private_subnet_ids = pulumi.Output.from_input(list(existing.private_subnet_ids))
        self.private_route_table_ids: list[pulumi.Input[str]] = list(existing.private_route_table_ids)

    def _create_vpc(self, settings: NetworkSettings) -> None:
        name = self._name
        vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=settings.vpc_cidr, enable_dns_support=True,
                          enable_dns_hostnames=True, tags=self._tagged(f"{name}-vpc"), opts=self._child())
        zones = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOutputOptions(parent=self))
        blocks = list(ipaddress.IPv4Network(settings.vpc_cidr).subnets(prefixlen_diff=4))
        count = settings.availability_zone_count
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
                service_name=pulumi.Output.format("com.amazonaws.{0}.{1}", self.region, service),
                vpc_endpoint_type="Interface", private_dns_enabled=True, subnet_ids=self.private_subnet_ids,
                security_group_ids=[group.id], tags=self._tagged(f"{self._name}-{service}"), opts=self._child())
        return group.id

    def _gateway_endpoints(self) -> None:
        for service in self._args.private_code.gateway_endpoints():
            # Container image layers come from S3; a gateway endpoint keeps that traffic private and free.
            aws.ec2.VpcEndpoint(
                f"{self._name}-{service}-endpoint", vpc_id=self.vpc_id, vpc_endpoint_type="Gateway",
                service_name=pulumi.Output.format("com.amazonaws.{0}.{1}", self.region, service),
                route_table_ids=self.private_route_table_ids, tags=self._tagged(f"{self._name}-{service}"),
                opts=self._child())

    def _flow_logs(self, settings: NetworkSettings) -> None:
        env = self._args.environment
        group = encrypted_log_group(f"{self._name}-flow-logs", log_group_name=f"/securestack/{env}/vpc-flow-logs",
                                    kms_key_arn=self._args.logs_key_arn,
                                    retention_days=settings.flow_log_retention_days, tags=self._tags, parent=self)
        role = aws.iam.Role(f"{self._name}-flow-logs-role",
                            assume_role_policy=service_assume_role_policy("vpc-flow-logs.amazonaws.com",
                                                                          self.account_id),
                            tags=self._tags, opts=self._child())
        aws.iam.RolePolicy(f"{self._name}-flow-logs-write", role=role.id, policy=policy_json([{
            "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": [group.arn, pulumi.Output.concat(group.arn, ":*")]}]), opts=self._child())
        aws.ec2.FlowLog(f"{self._name}-flow-log", vpc_id=self.vpc_id, traffic_type="ALL",
                        log_destination_type="cloud-watch-logs", log_destination=group.arn, iam_role_arn=role.arn,
                        max_aggregation_interval=60, tags=self._tagged(f"{self._name}-flow-log"), opts=self._child())
