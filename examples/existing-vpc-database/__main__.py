"""EncryptedPostgres on an existing VPC: the component alone, with its own Args, in a plain Pulumi program.

Nothing of securestack's stack settings is involved: the program reads its own config and passes the component
what it needs. Every Args default is the production-grade one (deletion protection, 35 days of point-in-time
recovery, Multi-AZ, TLS only); this example keeps them.
"""
import pulumi

from securestack.components import EncryptedPostgres, EncryptedPostgresArgs

config = pulumi.Config()

database = EncryptedPostgres("orders", EncryptedPostgresArgs(
    environment=pulumi.get_stack(),
    vpc_id=config.require("vpcId"),
    private_subnet_ids=config.require_object("privateSubnetIds"),
    data_key_arn=config.require("dataKeyArn"),
    logs_key_arn=config.require("logsKeyArn"),
    database_name="orders",
    tags={"owner": "orders-team"},
))

pulumi.export("address", database.address)
pulumi.export("port", database.port)
pulumi.export("securityGroupId", database.security_group_id)
pulumi.export("masterSecretArn", database.master_secret_arn)
