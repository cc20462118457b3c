"""A program of another team: securestack's components on an existing VPC, on Pulumi's mock engine.

tests/test_install.py copies it into a temp directory outside the repository and runs it with a fresh venv's
Python where securestack is pip-installed (not editable). It prints one JSON line: where securestack was
imported from, sys.path, and the components' outputs. The Args are built below as a user would build them.
"""
import json
import sys

import pulumi


class Mocks(pulumi.runtime.Mocks):
    """Every resource gets an id and an ARN; the account/region/partition lookups answer one test account."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        state = {**args.inputs, "arn": f"arn:aws:mock:us-east-1:123456789012:{args.typ.split(':')[-1]}/{args.name}"}
        if args.typ == "aws:rds/instance:Instance":
            state.update(address=f"{args.name}.abc.us-east-1.rds.amazonaws.com", port=5432,
                         endpoint=f"{args.name}.abc.us-east-1.rds.amazonaws.com:5432",
                         master_user_secrets=[{"secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1"}])
        if args.typ == "aws:lb/loadBalancer:LoadBalancer":
            state.update(dns_name=f"{args.name}.us-east-1.elb.amazonaws.com", zone_id="Z35SXDOTRQ7X7K",
                         arn_suffix=f"app/{args.name}/1")
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        answers = {"aws:index/getCallerIdentity:getCallerIdentity": {"accountId": "123456789012", "arn":
                   "arn:aws:iam::123456789012:user/ci", "userId": "AIDA", "id": "123456789012"},
                   "aws:index/getPartition:getPartition": {"partition": "aws", "dnsSuffix": "amazonaws.com",
                                                           "id": "aws"},
                   "aws:index/getRegion:getRegion": {"name": "us-east-1", "region": "us-east-1", "id": "us-east-1"}}
        return answers.get(args.token, {}), []


pulumi.runtime.set_mocks(Mocks(), project="platform", stack="test", preview=False)

import securestack.components  # noqa: E402 (after the mocks, as Pulumi's testing guide does)
from securestack.components import (EncryptedPostgres, EncryptedPostgresArgs, TlsLoadBalancer,  # noqa: E402
                                    TlsLoadBalancerArgs)
from securestack.infra.settings.edge import LoadBalancerSettings  # noqa: E402

VPC, KEY = "vpc-0abc", "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"


@pulumi.runtime.test  # runs the body on the mock engine and waits for the Output it returns
def register_and_print_outputs():
    # Only what has no safe default; everything else is the production-grade default.
    database = EncryptedPostgres("orders-db", EncryptedPostgresArgs(
        environment="orders", vpc_id=VPC, private_subnet_ids=["subnet-a", "subnet-b"], data_key_arn=KEY,
        logs_key_arn=KEY))
    edge = TlsLoadBalancer("orders-edge", TlsLoadBalancerArgs(
        environment="orders", production=True,
        settings=LoadBalancerSettings(certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
        vpc_id=VPC, public_subnet_ids=["subnet-c", "subnet-d"], logs_key_arn=KEY, log_retention_days=365))
    return pulumi.Output.all(
        database_endpoint=database.endpoint, database_port=database.port, database_arn=database.arn,
        edge_dns_name=edge.dns_name, edge_https_listener_arn=edge.https_listener_arn,
    ).apply(lambda outputs: print(json.dumps({"outputs": outputs, "sys_path": sys.path,
                                              "components_file": securestack.components.__file__})))


register_and_print_outputs()
