"""A restore drill with the component alone: EncryptedPostgres restored to a point in time of another instance.

The drill copy is throwaway (not `production`: no protect, deletable, no final snapshot) but keeps every other
control: TLS only, private subnets, logs exported and encrypted. Its data key is the source's (a restore cannot
re-key), and nothing here names production's network: the copy lives in the drill VPC.
"""
import pulumi

from securestack.components import EncryptedPostgres, EncryptedPostgresArgs, PointInTimeRestore

config = pulumi.Config()
source_key = config.require("sourceKmsKeyArn")

drill = EncryptedPostgres("drill", EncryptedPostgresArgs(
    environment=pulumi.get_stack(),
    production=False,
    vpc_id=config.require("vpcId"),
    private_subnet_ids=config.require_object("privateSubnetIds"),
    data_key_arn=source_key,
    logs_key_arn=config.require("logsKeyArn"),
    multi_az=False,
    deletion_protection=False,
    skip_final_snapshot=True,
    backup_retention_days=7,
    restore=PointInTimeRestore(
        source_db_instance_identifier=config.require("sourceDbInstanceIdentifier"),
        source_kms_key_arn=source_key,
        restore_time=config.require("restoreTime"),
    ),
))

pulumi.export("address", drill.address)
pulumi.export("masterSecretArn", drill.master_secret_arn)
