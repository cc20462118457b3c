"""The outside scanner's findings left on the shipped stacks: each justification names a real Checkov check id, a
resource pattern, shipped stacks and a reason citing real policies; CONTROLS.md lists them; what no entry covers is
reported."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from securestack.policy import controls, scanner_findings
from securestack.policy.policies import POLICIES
from securestack.policy.scanner_findings import (CHECK_ID, RESOURCE_PATTERN, SCANNER_FINDINGS, failed_checks, justification,
                                     resource_name, unjustified)
from tests.support.stacks import STACK_FILES

POLICY_NAMES = {policy.name for policy in POLICIES}
CITED_POLICIES = re.compile(r"polic(?:y|ies) ((?:`[a-z0-9-]+`(?:, | and )?)+)")

# What `checkov-stack dev` reported on this branch's dev stack (trimmed to one resource per check and type), and
# the findings other parts of issue 11 remove (trail SNS topic, WAF AnonymousIpList, S3 access logging).
DEV_FINDINGS = [
    ("CKV_AWS_260", "aws_vpc_security_group_ingress_rule.edge_in_80_56"),
    ("CKV_AWS_338", "aws_cloudwatch_log_group.api_key_rotator_logs_90"),
    ("CKV_AWS_293", "aws_db_instance.database_instance_99"),
    ("CKV_AWS_157", "aws_db_instance.database_instance_99"),
    ("CKV_AWS_150", "aws_lb.edge_alb_167"),
    ("CKV_AWS_116", "aws_lambda_function.postgres_user_rotator_function_176"),
    ("CKV2_AWS_62", "aws_s3_bucket.rotator_code_signing_bucket_21"),
    ("CKV_AWS_144", "aws_s3_bucket.audit_bucket_20"),
    ("CKV_AWS_145", "aws_s3_bucket.edge_access_logs_38"),
    # Issue 15: the daily age function, the verifier records and a vendor-issued secret.
    ("CKV_AWS_116", "aws_lambda_function.secret_age_function_219"),
    ("CKV_AWS_115", "aws_lambda_function.secret_age_function_219"),
    ("CKV2_AWS_57", "aws_secretsmanager_secret.api_keys_checkout_verifier_86"),
    ("CKV2_AWS_57", "aws_secretsmanager_secret.vendor_secrets_stackbe_92"),
]
FIXED_ELSEWHERE = [
    ("CKV_AWS_252", "aws_cloudtrail.audit_trail_163"),
    ("CKV2_AWS_76", "aws_lb.edge_alb_167"),
    ("CKV_AWS_18", "aws_s3_bucket.audit_bucket_20"),
]


def entries():
    for check_id, check in SCANNER_FINDINGS.items():
        for justified in check.justified:
            yield check_id, check, justified


@pytest.mark.parametrize("check_id,check,justified", list(entries()), ids=lambda v: v if isinstance(v, str) else "")
def test_each_justification_names_a_check_id_resources_stacks_and_a_reason(check_id, check, justified):
    assert CHECK_ID.fullmatch(check_id), f"{check_id} is not a Checkov AWS check id (CKV_AWS_<n> / CKV2_AWS_<n>)"
    assert check.title.startswith("Ensure"), "Checkov's own check title"
    assert justified.resources and all(RESOURCE_PATTERN.fullmatch(p) for p in justified.resources)
    assert justified.stacks and set(justified.stacks) <= set(STACK_FILES)
    assert len(justified.reason) > 40
    cited = {name for group in CITED_POLICIES.findall(justified.reason) for name in re.findall(r"`([^`]+)`", group)}
    assert cited <= POLICY_NAMES, f"{check_id} cites policies the pack does not have: {sorted(cited - POLICY_NAMES)}"


def test_check_ids_are_checkovs_format_only():
    assert CHECK_ID.fullmatch("CKV_AWS_115") and CHECK_ID.fullmatch("CKV2_AWS_62")
    for wrong in ("CKV_AWS_0", "CKV_AZURE_1", "ckv_aws_1", "CKV_AWS_1a", "CKV3_AWS_1", "AWS.1"):
        assert not CHECK_ID.fullmatch(wrong), wrong


def test_controls_md_lists_every_justification_and_is_current():
    text = controls.CONTROLS_FILE.read_text()
    assert text == controls.render() and controls.main(["--check"]) == 0, "run: python -m policy.controls"
    section = text.split("## Outside scanner findings left, and why", 1)[1]
    for check_id, _, justified in entries():
        assert any(line.startswith(f"| {check_id} |") and justified.reason in line for line in section.splitlines())


def test_the_shipped_dev_findings_are_justified_and_only_those_fixed_elsewhere_are_not():
    assert unjustified(DEV_FINDINGS, "dev") == []
    assert unjustified(FIXED_ELSEWHERE, "dev") == FIXED_ELSEWHERE


def test_a_justification_covers_only_its_stacks_checks_and_resources():
    assert resource_name("aws_lambda_function.api_key_rotator_function_174") == \
        "aws_lambda_function.api_key_rotator_function"
    assert justification("CKV_AWS_293", "aws_db_instance.database_instance_99", "dev") is not None
    assert justification("CKV_AWS_293", "aws_db_instance.database_instance_99", "prod") is None  # dev-only reason
    assert justification("CKV_AWS_145", "aws_s3_bucket.audit_bucket_20", "dev") is None  # only the ALB log bucket
    assert justification("CKV_AWS_173", "aws_lambda_function.api_key_rotator_function_174", "dev") is None
    assert justification("CKV_AWS_272", "aws_lambda_function.api_key_rotator_function_174", "prod") is None


def report(directory: Path, stack: str, findings) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / f"{stack}.checkov.json"
    path.write_text(json.dumps({"check_type": "terraform_plan", "results": {"failed_checks": [
        {"check_id": check, "resource": address, "check_name": "n/a"} for check, address in findings]}}))
    return path


def test_cli_fails_on_an_unjustified_finding_and_passes_when_all_are(tmp_path, capsys):
    justified_only = report(tmp_path, "dev", DEV_FINDINGS)
    assert failed_checks(justified_only) == DEV_FINDINGS
    assert scanner_findings.main([str(justified_only)]) == 0
    with_gap = report(tmp_path / "prod", "prod", [("CKV_AWS_272", "aws_lambda_function.webhook_rotator_function_1")])
    assert scanner_findings.main([str(justified_only), str(with_gap)]) == 1
    assert "prod: CKV_AWS_272 aws_lambda_function.webhook_rotator_function_1: not justified" in capsys.readouterr().out
