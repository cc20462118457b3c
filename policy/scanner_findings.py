"""Why each finding an outside scanner (Checkov) still reports on the shipped stacks stays: check id -> the resources
it fires on -> the reason, rendered into CONTROLS.md by `python -m policy.controls`.

`../shared/tools/checkov-stack <stack>` scans a stack's recorded resources as a Terraform plan (pulumi-aws is
bridged from the Terraform AWS provider). A finding is justified when its check id is listed here with a resource
pattern matching its address (`fnmatch`, on the address without the index suffix the translation adds, e.g.
`aws_lambda_function.api_key_rotator_function_174` -> `aws_lambda_function.api_key_rotator_function`) for that
stack. Anything else is a gap to fix, not to list: `python -m policy.scanner_findings <stack>.checkov.json ...`
prints the unjustified findings of Checkov's JSON reports and exits 1 when there is one.
"""
from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

from securestack.components import cli

# Checkov's AWS check ids: CKV_AWS_<n> (resource checks) and CKV2_AWS_<n> (graph checks).
CHECK_ID = re.compile(r"^CKV2?_AWS_[1-9][0-9]*$")
# A Terraform resource address pattern: aws_<type>.<name pattern>.
RESOURCE_PATTERN = re.compile(r"^aws_[a-z0-9_]+\.[A-Za-z0-9_*?\[\]]+$")
BOTH, DEV = ("dev", "prod"), ("dev",)
_INDEX_SUFFIX = re.compile(r"_[0-9]+$")


@dataclass(frozen=True)
class Justified:
    """Resources a check fires on, in which stacks, why that is accepted, and what keeps it bounded."""

    resources: tuple[str, ...]
    reason: str
    stacks: tuple[str, ...] = BOTH


@dataclass(frozen=True)
class ScannerCheck:
    title: str
    justified: tuple[Justified, ...]


NON_PRODUCTION = ("Pulumi.dev.yaml is a non-production stack and asks for the weaker setting explicitly; settings "
                  "refuse it with `securestack:tier: production`, and policy `{policy}` enforces it in production "
                  "(prod does not fire)")

SCANNER_FINDINGS: dict[str, ScannerCheck] = {
    "CKV_AWS_260": ScannerCheck("Ensure no security groups allow ingress from 0.0.0.0:0 to port 80", (
        Justified(("aws_vpc_security_group_ingress_rule.edge_in_80",),
                  "the internet-facing ALB's port 80 listener serves nothing: it only answers 301 to HTTPS (policy "
                  "`lb-http-redirects-to-https`), so clients typing http:// are upgraded instead of timing out; "
                  "policy `sg-internet-ingress-web-ports-only` keeps internet ingress to 80 and 443 of load "
                  "balancers"),)),
    "CKV_AWS_338": ScannerCheck("Ensure CloudWatch log groups retains logs for at least 1 year", (
        Justified(("aws_cloudwatch_log_group.*",), NON_PRODUCTION.format(policy="log-group-retention") +
                  ": dev keeps logs `securestack:logs.retentionDays` (30) days", DEV),)),
    "CKV_AWS_293": ScannerCheck("Ensure that AWS database instances have deletion protection enabled", (
        Justified(("aws_db_instance.database_instance",),
                  NON_PRODUCTION.format(policy="rds-deletion-protection-in-production") +
                  ": a dev database must be deletable by `pulumi destroy`", DEV),)),
    "CKV_AWS_157": ScannerCheck("Ensure that RDS instances have Multi-AZ enabled", (
        Justified(("aws_db_instance.database_instance",),
                  NON_PRODUCTION.format(policy="rds-multi-az-in-production") + ": dev runs single-AZ", DEV),)),
    "CKV_AWS_150": ScannerCheck("Ensure that Load Balancer has deletion protection enabled", (
        Justified(("aws_lb.edge_alb",), NON_PRODUCTION.format(policy="lb-deletion-protection-in-production") +
                  ": a dev load balancer must be deletable by `pulumi destroy`", DEV),)),
    "CKV_AWS_145": ScannerCheck("Ensure that S3 buckets are encrypted with KMS by default", (
        Justified(("aws_s3_bucket.edge_access_logs",),
                  "ALB access-log delivery supports only SSE-S3 (Elastic Load Balancing user guide, \"Access logs\": "
                  "SSE-KMS is not supported); policy `s3-default-encryption` requires SSE-S3 on exactly that bucket "
                  "and a CMK on every other"),
        Justified(("aws_s3_bucket.access_logs_bucket",),
                  "the stack's S3 server access-log destination: S3 log delivery does not support SSE-KMS default "
                  "encryption on the destination bucket, only SSE-S3 (S3 user guide, \"Enabling Amazon S3 server "
                  "access logging\")"))),
    "CKV_AWS_116": ScannerCheck("Ensure that AWS Lambda function is configured for a Dead Letter Queue(DLQ)", (
        Justified(("aws_lambda_function.*_rotator_function",),
                  "the rotators are invoked synchronously by Secrets Manager, one step at a time; a dead-letter "
                  "queue only receives failed *asynchronous* invocations, so it would never fill. A failed step "
                  "returns to Secrets Manager, which retries the rotation, and the audit's alarm "
                  "`secret-rotation-failures` notifies the alarm topic"),
        Justified(("aws_lambda_function.secret_age_function",),
                  "the daily age check's event carries nothing to replay: every run recomputes every secret's age "
                  "from Secrets Manager. A failed run raises the function's Errors alarm on the audit topic, and the "
                  "three count alarms treat missing data as breaching (policy `secret-age-alarmed`), so a dead-letter "
                  "queue would add a copy of an empty event, not a signal"),)),
    "CKV_AWS_115": ScannerCheck("Ensure that AWS Lambda function is configured for function-level concurrent "
                                "execution limit", (
        Justified(("aws_lambda_function.*_rotator_function",),
                  "reserved concurrency is unset by default (`securestack:secrets.rotatorReservedConcurrency`): "
                  "reserving it fails on new accounts, where Lambda keeps 100 unreserved executions of a low "
                  "concurrency limit (issue 11, item 9); Secrets Manager invokes a rotator one step at a time per "
                  "secret, so its concurrency is bounded by the number of secrets rotating"),
        Justified(("aws_lambda_function.secret_age_function",),
                  "one scheduled invocation a day (policy `secret-age-alarmed` checks the schedule): its "
                  "concurrency is one, and a reservation would fail on new accounts for the reason above"),)),
    "CKV2_AWS_57": ScannerCheck("Ensure Secrets Manager secrets should have automatic rotation enabled", (
        Justified(("aws_secretsmanager_secret.api_keys_*_verifier",),
                  "a verifier record holds SHA-256 digests of its key's values, never a credential, and has no value "
                  "of its own to rotate: its key's rotator rewrites it at every step of each rotation of that key "
                  "(policies `api-key-has-verifier-record` and `secret-rotation-configured` on the key)"),
        Justified(("aws_secretsmanager_secret.vendor_secrets_*",),
                  "a vendor-issued value (StackBE's, BareCommerce's key) comes from the vendor's dashboard: no "
                  "rotation function can make one. Operators stage and promote it (README runbooks), policy "
                  "`vendor-secret-staged-by-operators-only` keeps its rotationDays at most 90, and policy "
                  "`secret-age-alarmed` raises the audit alarm when the value is older"),)),
    "CKV2_AWS_62": ScannerCheck("Ensure S3 buckets should have event notifications enabled", (
        Justified(("aws_s3_bucket.audit_bucket", "aws_s3_bucket.edge_access_logs",
                   "aws_s3_bucket.rotator_code_signing_bucket", "aws_s3_bucket.access_logs_bucket"),
                  "nothing consumes events from these buckets (log archives and the rotators' code), and writers "
                  "are fixed by bucket policy and IAM; a change to a bucket's policy, ACL, lifecycle or replication "
                  "is a management event the trail records and raises `cis-cloudwatch-8-s3-bucket-policy-changes`"),)),
    "CKV_AWS_144": ScannerCheck("Ensure that S3 bucket has cross-region replication enabled", (
        Justified(("aws_s3_bucket.audit_bucket", "aws_s3_bucket.edge_access_logs",
                   "aws_s3_bucket.access_logs_bucket"),
                  "log archives: versioned, expiring by lifecycle, private and TLS-only (policies `s3-versioning`, "
                  "`s3-public-access-blocked`, `s3-tls-only`), the trail's files validated by digest; a second-"
                  "region copy of each would need a second bucket and key per region and is not a recovery "
                  "objective of the project (the database's cross-region copy is AWS Backup's, in prod)"),
        Justified(("aws_s3_bucket.rotator_code_signing_bucket",),
                  "holds only build artifacts: every archive is rebuilt byte for byte from the repository and "
                  "re-signed by `pulumi up`, so a replica would protect nothing that cannot be recreated"))),
}


def resource_name(address: str) -> str:
    """The address without the `_<index>` the plan translation appends to each resource name."""
    return _INDEX_SUFFIX.sub("", address)


def justification(check_id: str, address: str, stack: str) -> Optional[Justified]:
    check = SCANNER_FINDINGS.get(check_id)
    name = resource_name(address)
    for justified in check.justified if check else ():
        if stack in justified.stacks and any(fnmatch.fnmatchcase(name, p) for p in justified.resources):
            return justified
    return None


def unjustified(findings: Iterable[tuple[str, str]], stack: str) -> list[tuple[str, str]]:
    """The (check id, resource address) findings of a stack that no entry justifies."""
    return [(check, address) for check, address in findings if justification(check, address, stack) is None]


class ReportError(Exception):
    """A Checkov report that cannot be read or is not one; the message is one line naming the file."""


def failed_checks(report_path: Path) -> list[tuple[str, str]]:
    """(check id, resource address) of each failed check in a Checkov JSON report (`-o json`)."""
    try:
        document = json.loads(report_path.read_text(encoding="utf-8"))
    except OSError as error:  # missing, a directory, no permission
        raise ReportError(f"{report_path}: cannot be read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ReportError(f"{report_path}: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise ReportError(f"{report_path}: not JSON (line {error.lineno}, column {error.colno}): {error.msg}") from None
    document = document[0] if isinstance(document, list) and document else document
    try:
        return [(str(c["check_id"]), str(c["resource"])) for c in document.get("results", {}).get("failed_checks", [])]
    except (AttributeError, KeyError, TypeError):
        raise ReportError(f"{report_path}: not a Checkov JSON report (`checkov -o json`): no "
                          "results.failed_checks[].check_id/resource") from None


def stack_of(report_path: Path) -> str:
    """checkov-stack names its reports <stack>.checkov.json."""
    return report_path.name.split(".", 1)[0]


def render_section() -> str:
    lines = ["", "## Outside scanner findings left, and why", "",
             "Generated from `policy/scanner_findings.py`. `../shared/tools/checkov-stack <stack>` runs Checkov on "
             "a stack's recorded resources; every finding it still reports on the shipped stacks is listed here "
             "with the reason it stays (anything else is a gap to fix; `python -m policy.scanner_findings "
             "<stack>.checkov.json` lists what no row covers).", "",
             "| Checkov | check | resources | stacks | why it stays |", "|---|---|---|---|---|"]
    for check_id, check in sorted(SCANNER_FINDINGS.items()):
        for justified in check.justified:
            cells = [check_id, check.title, ", ".join(f"`{p}`" for p in justified.resources),
                     ", ".join(justified.stacks), justified.reason]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    """0 every finding justified; 1 one is not; 2 bad arguments or a report that cannot be read or is not one."""
    parser = cli.ArgumentParser(prog="python -m policy.scanner_findings", description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", type=Path, help="Checkov JSON reports named <stack>.checkov.json")
    args = parser.parse_args(argv)
    try:
        findings = [(report, failed_checks(report)) for report in args.reports]
    except ReportError as error:
        cli.print_error(error)
        return cli.EXIT_UNUSABLE
    missing = 0
    for report, failed in findings:
        for check, address in unjustified(failed, stack_of(report)):
            print(f"{stack_of(report)}: {check} {address}: not justified in policy/scanner_findings.py")
            missing += 1
    return cli.EXIT_FAILED if missing else cli.EXIT_OK


if __name__ == "__main__":
    cli.run(main)
