"""`no-cross-environment-references` and a restore stack: the declared restore (source environment, instance and
key in `securestack:database.restore`) is admitted on the database instance's restore inputs, nothing else is.

Run through the harness, i.e. inside pulumi_policy's analyzer, with the stack's config as the engine hands it.
"""
from __future__ import annotations

import json
from dataclasses import replace

from securestack.policy.harness import evaluate
from securestack.policy.policies import POLICIES
from tests.policy.builders import ACCOUNT, DELETE, Res, changed, recording_of, stack_config
from tests.policy.cases import DB, KEY

POLICY = "no-cross-environment-references"
STACK = "prodrestore"
SOURCE_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
RESTORE = {"sourceEnvironment": "prod", "sourceDbInstanceIdentifier": "securestack-prod-postgres",
           "sourceKmsKeyArn": SOURCE_KEY, "useLatestRestorableTime": True}
OWN_KEY = Res("aws:kms/key:Key", "data", {"description": "securestack prodrestore data key"},
              outputs={"id": "data-key-id", "arn": KEY, "description": "securestack prodrestore data key"})
RESTORED_DB = changed(DB, identifier="securestack-prodrestore-postgres", kmsKeyId=SOURCE_KEY, username=DELETE,
                      monitoringRoleArn=f"arn:aws:iam::{ACCOUNT}:role/securestack-prodrestore-monitoring",
                      restoreToPointInTime={"sourceDbInstanceIdentifier": "securestack-prod-postgres",
                                            "useLatestRestorableTime": True})


def violations(*resources: Res, restore=RESTORE) -> list[dict]:
    config = stack_config(STACK)
    if restore is not None:
        config = replace(config, config={**config.config,
                                         "securestack:database": json.dumps({"restore": restore})})
    recording = recording_of(list(resources), stack=STACK, environment_tag=STACK)
    policy = next(p for p in POLICIES if p.name == POLICY)
    return evaluate(recording, config, policy_config={}, policies=[policy])


def test_declared_restore_is_admitted():
    assert violations(OWN_KEY, RESTORED_DB) == []


def test_undeclared_restore_names_the_other_environment_and_its_key():
    messages = [v["message"] for v in violations(OWN_KEY, RESTORED_DB, restore=None)]
    assert any("names environment(s) ['prod']" in m for m in messages), messages
    assert any(SOURCE_KEY in m for m in messages), messages


def test_only_the_declared_instance_and_key_are_admitted():
    other_source = changed(RESTORED_DB, restoreToPointInTime={"sourceDbInstanceIdentifier": "securestack-dev-postgres",
                                                              "useLatestRestorableTime": True})
    other_key = changed(RESTORED_DB, kmsKeyId=SOURCE_KEY.replace("0f1e2d3c", "99999999"))
    declared_elsewhere = changed(RESTORED_DB, kmsKeyId=KEY, performanceInsightsKmsKeyId=SOURCE_KEY)
    source_named_elsewhere = changed(RESTORED_DB, tags=DELETE,
                                     finalSnapshotIdentifier="securestack-prod-postgres-final")
    for resource in (other_source, other_key, declared_elsewhere, source_named_elsewhere):
        found = violations(OWN_KEY, resource)
        assert found and {v["enforcementLevel"] for v in found} == {"mandatory"}, resource.inputs


def test_declared_source_does_not_admit_other_resources():
    consumer_grant = Res("aws:secretsmanager/secretPolicy:SecretPolicy", "grant", {
        "policy": json.dumps({"Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                                             "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/"
                                                                  "securestack-prod-warehouse-sync"},
                                             "Resource": "*"}]})})
    key_user = Res("aws:iam/rolePolicy:RolePolicy", "uses-source-key", {"policy": json.dumps({"Statement": [
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": SOURCE_KEY}]})})
    for resource in (consumer_grant, key_user):
        assert violations(OWN_KEY, RESTORED_DB, resource), resource.name


def test_restore_declaring_a_different_source_environment_is_not_admitted():
    mislabelled = {**RESTORE, "sourceEnvironment": "staging"}
    assert any("names environment(s) ['prod']" in v["message"] for v in violations(OWN_KEY, RESTORED_DB,
                                                                                    restore=mislabelled))
