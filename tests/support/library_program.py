"""A program of another team: securestack's components on an existing VPC, on Pulumi's mock engine.

tests/test_install.py copies it into a temp directory outside the repository and runs it with a fresh venv's
Python where securestack is pip-installed (not editable). It prints one JSON line: where securestack was
imported from, sys.path, and the components' outputs. The Args are built below as a user would build them.
"""
import json
import sys

import library_mocks  # noqa: F401 (sets the mocks first; copied beside this file by the test)
import pulumi

import securestack.components  # noqa: E402
from securestack.components import (EncryptedPostgres, EncryptedPostgresArgs, TlsLoadBalancer,  # noqa: E402
                                    TlsLoadBalancerArgs, TlsLoadBalancerCertificate)

VPC, KEY = "vpc-0abc", "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


@pulumi.runtime.test  # runs the body on the mock engine and waits for the Output it returns
def register_and_print_outputs():
    # Only what has no safe default; everything else is the production-grade default.
    database = EncryptedPostgres("orders-db", EncryptedPostgresArgs(
        environment="orders", vpc_id=VPC, private_subnet_ids=["subnet-a", "subnet-b"], data_key_arn=KEY,
        logs_key_arn=KEY))
    edge = TlsLoadBalancer("orders-edge", TlsLoadBalancerArgs(
        environment="orders", vpc_id=VPC, public_subnet_ids=["subnet-c", "subnet-d"], logs_key_arn=KEY,
        certificate=TlsLoadBalancerCertificate(certificate_arn=CERTIFICATE)))
    return pulumi.Output.all(
        database_endpoint=database.endpoint, database_port=database.port, database_arn=database.arn,
        edge_dns_name=edge.dns_name, edge_https_listener_arn=edge.https_listener_arn,
    ).apply(lambda outputs: print(json.dumps({"outputs": outputs, "sys_path": sys.path,
                                              "components_file": securestack.components.__file__})))


register_and_print_outputs()
