"""The stack's S3 server access log bucket (issue 11, item 12): CloudTrail's and the ALB's log buckets log their
requests to it (Security Hub CloudTrail.7 / CIS 3.6, S3.9), on every stack file; its settings."""
from __future__ import annotations

import json

import pytest

from securestack.components.access_logs import S3_LOG_DELIVERY_SERVICE
from securestack.infra.recording import Recording, RecordedResource
from securestack.infra.settings import SettingsError, build_settings
from tests.support.stacks import STACK_FILES, account_of, edited, settings_of, shipped_config, shipped_recording

COMPONENT = "securestack:index:AccessLogBucket"
BUCKET, LOGGING = "aws:s3/bucket:Bucket", "aws:s3/bucketLogging:BucketLogging"


@pytest.fixture(scope="module", params=STACK_FILES)
def shipped(request) -> tuple[str, Recording]:
    return request.param, shipped_recording(request.param)


def child(recording: Recording, type_: str) -> RecordedResource:
    parent = recording.one(COMPONENT).urn
    found = [r for r in recording.of_type(type_) if r.parent == parent]
    assert len(found) == 1, f"expected one {type_} in AccessLogBucket, found {[r.name for r in found]}"
    return found[0]


def test_every_other_bucket_and_only_they_deliver_to_the_one_access_log_bucket(shipped):
    stack, recording = shipped
    destination = child(recording, BUCKET)
    assert destination.inputs["bucket"] == f"securestack-{stack}-s3-access-logs-{account_of(stack)}"
    by_name = {b.outputs["bucket"]: b for b in recording.of_type(BUCKET)}
    sources = {by_name[c.inputs["bucket"]].name: (c.inputs["targetBucket"], c.inputs["targetPrefix"])
               for c in recording.of_type(LOGGING)}
    assert sources == {"audit-bucket": (destination.outputs["bucket"], "cloudtrail/"),
                       "edge-access-logs": (destination.outputs["bucket"], "alb-logs/"),
                       "rotator-code-signing-bucket": (destination.outputs["bucket"], "lambda-code/")}
    # every bucket of the stack logs, except the destination (it would log its own deliveries without end)
    assert {b.name for b in by_name.values()} - {destination.name} == set(sources)


def test_destination_is_sse_s3_private_owner_enforced_versioned_and_expiring(shipped):
    stack, recording = shipped
    bucket = child(recording, BUCKET).outputs["bucket"]
    # S3 server access log delivery does not support SSE-KMS default encryption on the destination
    encryption = child(recording, "aws:s3/bucketServerSideEncryptionConfiguration:"
                                  "BucketServerSideEncryptionConfiguration").inputs
    assert encryption == {"bucket": bucket, "rules": [{"applyServerSideEncryptionByDefault": {
        "sseAlgorithm": "AES256"}}]}
    block = child(recording, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                          "restrictPublicBuckets"))
    assert child(recording, "aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs["rule"] == {
        "objectOwnership": "BucketOwnerEnforced"}
    assert child(recording, "aws:s3/bucketVersioning:BucketVersioning").inputs["versioningConfiguration"] == {
        "status": "Enabled"}
    rules = {r["id"]: r for r in child(recording, "aws:s3/bucketLifecycleConfiguration:"
                                                  "BucketLifecycleConfiguration").inputs["rules"]}
    assert rules["expire-server-access-logs"]["expiration"] == {
        "days": settings_of(stack).audit.server_access_log_expiration_days}
    assert rules["remove-expired-delete-markers"]["expiration"] == {"expiredObjectDeleteMarker": True}


def test_only_s3_log_delivery_for_this_environment_and_account_may_write(shipped):
    stack, recording = shipped
    arn = child(recording, BUCKET).outputs["arn"]
    statements = {s["Sid"]: s for s in json.loads(child(recording, "aws:s3/bucketPolicy:BucketPolicy")
                                                  .inputs["policy"])["Statement"]}
    delivery = statements["S3ServerAccessLogDeliveryFromThisEnvironment"]
    assert (delivery["Effect"], delivery["Principal"], delivery["Action"], delivery["Resource"]) == (
        "Allow", {"Service": S3_LOG_DELIVERY_SERVICE}, "s3:PutObject", f"{arn}/*")
    assert delivery["Condition"] == {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::securestack-{stack}-*"},
                                     "StringEquals": {"aws:SourceAccount": account_of(stack)}}
    tls = statements["DenyInsecureTransport"]
    assert (tls["Effect"], tls["Principal"], tls["Condition"]) == ("Deny", "*", {"Bool": {
        "aws:SecureTransport": "false"}})
    assert [s for s in statements.values() if s["Effect"] == "Allow"] == [delivery]


def test_every_log_bucket_is_force_destroy_outside_production_only(shipped):
    # issue 11, item 5: `pulumi destroy` of dev empties the versioned log buckets; prod keeps everything
    stack, recording = shipped
    for bucket in recording.of_type(BUCKET):
        assert bucket.inputs["forceDestroy"] is (not settings_of(stack).is_production), bucket.name
        production = settings_of(stack).is_production
        assert (bucket.options["protect"], bucket.options["retainOnDelete"]) == (production, production)


def test_production_keeps_server_access_logs_a_year():
    with pytest.raises(SettingsError) as raised:
        build_settings(edited(shipped_config("prod"), "securestack:audit", serverAccessLogExpirationDays=90), "prod")
    assert raised.value.problems == [
        "securestack:audit.serverAccessLogExpirationDays: must be >= 365 in a production stack"]
    with pytest.raises(SettingsError) as raised:
        build_settings(edited(shipped_config("dev"), "securestack:audit", serverAccessLogExpirationDays=0), "dev")
    assert [p.split(":", 2)[1] for p in raised.value.problems] == ["audit.serverAccessLogExpirationDays"]
