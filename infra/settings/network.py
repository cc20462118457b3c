"""Network settings: a new VPC, or an existing one named by id."""
from __future__ import annotations

import ipaddress
import re
from typing import Optional

from pydantic import Field, field_validator, model_validator

from securestack.infra.endpoints import KNOWN_INTERFACE_ENDPOINTS

from .base import SettingsModel, unique
from .common import check_log_retention

VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
ROUTE_TABLE_ID = re.compile(r"^rtb-[0-9a-f]{8,17}$")


class ExistingVpc(SettingsModel):
    """A VPC made elsewhere; the stack still gives it every guarantee of its own VPC: a flow log, its default
    security group adopted and emptied, the interface endpoints in the private subnets, and the S3 gateway on
    the private subnets' route tables (Fargate pulls image layers from S3; there is no NAT to reach it)."""

    vpc_id: str
    cidr_block: str
    public_subnet_ids: list[str] = Field(min_length=2)
    private_subnet_ids: list[str] = Field(min_length=2)
    private_route_table_ids: list[str] = Field(min_length=1)

    @field_validator("vpc_id")
    @classmethod
    def _vpc_id(cls, value: str) -> str:
        if not VPC_ID.match(value):
            raise ValueError(f"'{value}' is not a VPC id (vpc-...)")
        return value

    @field_validator("public_subnet_ids", "private_subnet_ids")
    @classmethod
    def _subnet_ids(cls, values: list[str]) -> list[str]:
        for value in values:
            if not SUBNET_ID.match(value):
                raise ValueError(f"'{value}' is not a subnet id (subnet-...)")
        return unique(values, "subnet ids")

    @field_validator("private_route_table_ids")
    @classmethod
    def _route_table_ids(cls, values: list[str]) -> list[str]:
        for value in values:
            if not ROUTE_TABLE_ID.match(value):
                raise ValueError(f"'{value}' is not a route table id (rtb-...)")
        return unique(values, "route table ids")

    @field_validator("cidr_block")
    @classmethod
    def _cidr(cls, value: str) -> str:
        ipaddress.IPv4Network(value)
        return value


class NetworkSettings(SettingsModel):
    vpc_cidr: str = "10.0.0.0/16"
    availability_zone_count: int = Field(2, ge=2, le=6)
    existing_vpc: Optional[ExistingVpc] = None
    # Extra interface endpoints: those the stack's own code calls are always created (infra/endpoints.py).
    interface_endpoints: list[str] = []
    flow_log_retention_days: int = 365

    _retention = field_validator("flow_log_retention_days")(check_log_retention)

    @field_validator("vpc_cidr")
    @classmethod
    def _vpc_cidr(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value)
        except ValueError as error:
            raise ValueError(f"'{value}' is not an IPv4 CIDR block: {error}") from None
        if not 16 <= network.prefixlen <= 20:
            raise ValueError("must be a /16 to /20 block (room for two subnets per AZ)")
        if not network.is_private:
            raise ValueError("must be a private (RFC 1918) range")
        return value

    @field_validator("interface_endpoints")
    @classmethod
    def _endpoints(cls, values: list[str]) -> list[str]:
        unknown = [v for v in values if v not in KNOWN_INTERFACE_ENDPOINTS]
        if unknown:
            raise ValueError(f"unknown endpoint service(s) {unknown}; known: {list(KNOWN_INTERFACE_ENDPOINTS)}")
        return unique(values, "endpoint services")

    @model_validator(mode="after")
    def _subnets_cover_azs(self) -> "NetworkSettings":
        network = ipaddress.IPv4Network(self.vpc_cidr)
        # public + private subnet per AZ, each a /(prefix+4) block
        if self.availability_zone_count * 2 > 16:
            raise ValueError(f"{network} cannot hold two subnets in each of {self.availability_zone_count} AZs")
        return self
