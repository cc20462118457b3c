"""Issue 11 items 3 and 4: the endpoints the stack's own code calls are always there, and an existing VPC gets the
same guarantees as the stack's own (flow log, closed default security group, endpoints, S3 gateway).

Recorded on the mock engine from the real program; every assertion reads what the engine would receive.
"""
from __future__ import annotations

from dataclasses import replace

import pytest

from securestack.infra.endpoints import BASELINE_INTERFACE_ENDPOINTS, PrivateCode
from securestack.infra.preview import run_stack
from securestack.infra.secrets_program import private_code
from securestack.infra.stack_config import read_stack_config
from securestack.policy.harness import evaluate
from securestack.policy.policies import POLICIES
from tests.policy.edits import drop, mutable_copy
from tests.support.shipped_fixtures import recording, settings, stack  # noqa: F401 (fixtures: once per stack)
from tests.support.stacks import DELETE, edited, record_config, settings_of, shipped_config

NETWORK = "securestack:network"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
VPC, SUBNET = "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
FUNCTION, ROLE_POLICY = "aws:lambda/function:Function", "aws:iam/rolePolicy:RolePolicy"
POLICY_BY_NAME = {policy.name: policy for policy in POLICIES}
EXISTING_VPC = {"vpcId": "vpc-0a1b2c3d4e5f60718", "cidrBlock": "10.40.0.0/16",
                "publicSubnetIds": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
                "privateSubnetIds": ["subnet-0a1b2c3d4e5f60011", "subnet-0a1b2c3d4e5f60012"],
                "privateRouteTableIds": ["rtb-0a1b2c3d4e5f60021", "rtb-0a1b2c3d4e5f60022"]}


def interface_services(recording, region: str) -> dict[str, object]:
    prefix = f"com.amazonaws.{region}."
    return {e.inputs["serviceName"].removeprefix(prefix): e for e in recording.of_type(ENDPOINT)
            if e.inputs["vpcEndpointType"] == "Interface"}


def gateways(recording, region: str) -> dict[str, object]:
    prefix = f"com.amazonaws.{region}."
    return {e.inputs["serviceName"].removeprefix(prefix): e for e in recording.of_type(ENDPOINT)
            if e.inputs["vpcEndpointType"] == "Gateway"}


# -- item 3: what the private code calls ---------------------------------------------------------------------

def test_private_code_derives_the_endpoints_it_calls():
    assert PrivateCode(app=False, functions_redeploy_app=False, traced_functions=False).interface_endpoints() == \
        BASELINE_INTERFACE_ENDPOINTS == ("secretsmanager", "kms", "logs", "sts")
    everything = PrivateCode(app=True, functions_redeploy_app=True, traced_functions=True)
    assert set(everything.interface_endpoints()) == {*BASELINE_INTERFACE_ENDPOINTS, "ecr.api", "ecr.dkr", "ecs", "xray"}
    assert everything.gateway_endpoints() == ("s3",)


def test_what_the_stack_runs_is_what_the_endpoints_are_derived_from(recording, settings):
    """The facts `private_code` states about a stack hold on its recorded resources."""
    code = private_code(settings)
    functions = recording.of_type(FUNCTION)
    assert code.app == bool(recording.of_type("aws:ecs/service:Service"))
    assert code.traced_functions == any(f.inputs["tracingConfig"]["mode"] == "Active" and f.inputs.get("vpcConfig")
                                        for f in functions)
    assert code.functions_redeploy_app == any('"ecs:UpdateService"' in p.inputs["policy"]
                                              for p in recording.of_type(ROLE_POLICY))


def test_recorded_stacks_have_every_endpoint_their_code_calls(recording, settings):
    code = private_code(settings)
    found = interface_services(recording, settings.region)
    assert {"ecs", "xray", "ecr.api", "ecr.dkr"} <= set(code.interface_endpoints())  # both run the app, traced
    for service in code.interface_endpoints():
        assert service in found, f"no {service} endpoint: private code calling it would hang"
        assert found[service].inputs["privateDnsEnabled"] is True  # the SDKs' default host names resolve to it
        assert sorted(found[service].inputs["subnetIds"]) == sorted(recording.stack_outputs["privateSubnetIds"])
    assert set(gateways(recording, settings.region)) == set(code.gateway_endpoints())




def test_a_config_that_omits_ecs_and_xray_still_gets_them():
    recorded = record_config(edited(shipped_config("dev"), NETWORK,
                                    interfaceEndpoints=["secretsmanager", "kms", "logs", "sts"]), "dev")
    assert {"ecs", "xray", "ecr.api", "ecr.dkr", *BASELINE_INTERFACE_ENDPOINTS} <= \
        set(interface_services(recorded, "us-east-1"))


def test_config_adds_extra_endpoints_once():
    recorded = record_config(edited(shipped_config("dev"), NETWORK, interfaceEndpoints=["monitoring", "ecs"]), "dev")
    services = [e.inputs["serviceName"] for e in recorded.of_type(ENDPOINT)]
    assert "com.amazonaws.us-east-1.monitoring" in services and services.count("com.amazonaws.us-east-1.ecs") == 1


# -- item 4: an existing VPC keeps every guarantee ------------------------------------------------------------

@pytest.fixture(scope="module")
def existing():
    config = edited(shipped_config("dev"), NETWORK, existingVpc=EXISTING_VPC, vpcCidr=DELETE,
                    availabilityZoneCount=DELETE)
    stack_config = replace(read_stack_config("dev"), config=config)
    return stack_config, run_stack(stack_config)


def test_existing_vpc_creates_no_vpc_or_subnets(existing):
    _, recorded = existing
    assert recorded.of_type(VPC, SUBNET, "aws:ec2/internetGateway:InternetGateway") == []
    assert recorded.stack_outputs["vpcId"] == EXISTING_VPC["vpcId"]


def test_existing_vpc_gets_a_flow_log_of_all_traffic(existing):
    _, recorded = existing
    (flow_log,) = recorded.of_type(FLOW_LOG)
    assert flow_log.inputs["vpcId"] == EXISTING_VPC["vpcId"] and flow_log.inputs["trafficType"] == "ALL"
    assert flow_log.inputs["logDestinationType"] == "cloud-watch-logs"


def test_existing_vpc_default_security_group_is_adopted_and_emptied(existing):
    _, recorded = existing
    (default,) = recorded.of_type(DEFAULT_SG)
    assert default.inputs["vpcId"] == EXISTING_VPC["vpcId"]
    assert default.inputs["ingress"] == [] and default.inputs["egress"] == []


def test_existing_vpc_gets_the_endpoints_in_its_private_subnets_and_the_s3_gateway(existing):
    _, recorded = existing
    code = private_code(settings_of("dev"))
    found = interface_services(recorded, "us-east-1")
    for service in code.interface_endpoints():
        assert found[service].inputs["vpcId"] == EXISTING_VPC["vpcId"]
        assert found[service].inputs["subnetIds"] == EXISTING_VPC["privateSubnetIds"]
        assert found[service].inputs["privateDnsEnabled"] is True
    (s3,) = gateways(recorded, "us-east-1").values()
    assert s3.inputs["vpcId"] == EXISTING_VPC["vpcId"]
    assert s3.inputs["routeTableIds"] == EXISTING_VPC["privateRouteTableIds"]


def test_existing_vpc_stack_passes_the_policy_pack(existing):
    stack_config, recorded = existing
    assert evaluate(recorded, stack_config) == []


@pytest.mark.parametrize("guarantee,policy", [
    ("network-flow-log", "vpc-flow-logs"),
    ("network-default-sg-closed", "vpc-default-security-group-closed"),
    ("network-s3-endpoint", "vpc-endpoints-for-private-code"),
    ("network-ecs-endpoint", "vpc-endpoints-for-private-code"),
])
def test_existing_vpc_stack_without_a_guarantee_fails_the_pack(existing, guarantee, policy):
    """The pack holds an existing VPC to the same guarantees: the stack has no Vpc resource to hang them on."""
    stack_config, recorded = existing
    mutated = mutable_copy(recorded)
    drop(mutated, guarantee)
    found = evaluate(mutated, stack_config, policy_config={}, policies=[POLICY_BY_NAME[policy]])
    assert [v["enforcementLevel"] for v in found] == ["mandatory"]
    assert EXISTING_VPC["vpcId"] in found[0]["message"] or policy == "vpc-endpoints-for-private-code"
