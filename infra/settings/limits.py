"""Limits that span sections and what the program adds to them, checked before any resource exists (issue 14:
these passed settings and failed after 113-164 resources were registered, or at AWS)."""
from __future__ import annotations

from typing import Any, Optional

from securestack.components.audit import (FILTER_PATTERN_MAX, secret_arn_pattern, secret_name_pattern,
                                          secrets_unexpected_principal_pattern)
from securestack.components.rotation import function_name, role_name

from .base import CONFIG_NAMESPACE

# AWS allows 50 user tags per resource (Secrets Manager TagResource and the AWS tagging guide), the provider's
# default tags included (they are sent as the resource's tags). Besides securestack:tags, the stack's own tags on
# its most tagged resource, the database login's secret: securestack:env, managed-by, securestack:project (every
# resource), securestack:name, :kind, :ecs-service, :db-host, :db-name, :db-owner-role, :db-port, :db-username,
# :master-secret-arn, :rotation-days (contract 15: the age alarm's bound on every rotated secret).
# tests/test_settings_two_pass.py counts them on the recorded stacks.
AWS_TAGS_MAX = 50
SECRET_OWN_TAGS_MAX = 13
# An RDS-managed master secret is named rds!db-<uuid> (RDS User Guide, "Password management with Secrets
# Manager"); its ARN ends in Secrets Manager's 6-character suffix. The longest name it can have, for the pattern.
MASTER_SECRET_ARN = ("arn:{partition}:secretsmanager:{region}:{account}:secret:"
                     "rds!db-00000000-0000-0000-0000-000000000000-AbCdEf")


def tag_count_problems(extra_tags: dict[str, str]) -> list[tuple[str, str]]:
    total = len(extra_tags) + SECRET_OWN_TAGS_MAX
    if total <= AWS_TAGS_MAX:
        return []
    return [(f"{CONFIG_NAMESPACE}:tags", f"{len(extra_tags)} tags plus the {SECRET_OWN_TAGS_MAX} securestack puts "
                                         f"on a secret make {total}; AWS allows {AWS_TAGS_MAX} per resource (default "
                                         f"tags included): at most {AWS_TAGS_MAX - SECRET_OWN_TAGS_MAX}")]


def unexpected_principal_pattern(environment: str, partition: str, region: str, account: str,
                                 app_name: Optional[str], consumer_role_arns: list[str],
                                 expected_principals: list[str], master_secret_arn: Optional[str] = None) -> str:
    """The audit's unexpected-principal metric filter pattern as the program builds it (infra/program.py and
    infra/secrets_program.py: rotator roles as one wildcard, the app's roles as one, the consumers, then the
    configured principals), the master secret's ARN at its longest unless given."""
    arn = master_secret_arn or MASTER_SECRET_ARN.format(partition=partition, region=region, account=account)
    secret_patterns = [secret_name_pattern(f"securestack/{environment}/"), secret_arn_pattern(arn) or ""]
    program = [f"arn:{partition}:iam::{account}:role/{role_name(function_name(environment, '*-rotation'))}"]
    if app_name is not None:
        program.append(f"arn:{partition}:iam::{account}:role/securestack-{environment}-{app_name}-*")
    return secrets_unexpected_principal_pattern(secret_patterns, [*program, *consumer_role_arns,
                                                                  *expected_principals])


def own_account_arns(arns: list[str], accounts: tuple[str, ...]) -> list[str]:
    return [arn for arn in arns if len(arn.split(":")) < 5 or arn.split(":")[4] in accounts]


def principal_pattern_problems(sections: dict[str, Any], environment: str, region: Optional[str],
                               partition: Optional[str], accounts: tuple[str, ...]) -> list[tuple[str, str]]:
    audit, secrets, app = sections.get("audit"), sections.get("secrets"), sections.get("app")
    if audit is None or secrets is None or app is None or not region or not partition or not accounts:
        return []
    # The operators write vendor-issued values: the program expects them too (infra/secrets_program.py). An ARN of
    # another account is refused at its own key (settings/references.py): judging the pattern with it would report
    # a second problem that goes away with the first.
    consumers = own_account_arns([consumer.role_arn for consumer in secrets.consumers.values()]
                                 + list(secrets.operators), accounts)
    expected = own_account_arns(list(audit.expected_secret_principals), accounts)
    key = "audit.expectedSecretPrincipals" if expected else "secrets.consumers"
    # The provider deploys to one of the allowed accounts: each must give a pattern AuditTrail can build.
    for account in accounts:
        try:
            unexpected_principal_pattern(environment, partition, region, account, app.name if app.enabled else None,
                                         consumers, expected)
        except ValueError as error:  # the component's own refusal (its pattern over FILTER_PATTERN_MAX)
            return [(f"{CONFIG_NAMESPACE}:{key}", f"the audit's unexpected-principal {error} (CloudWatch Logs' "
                                                  "limit; roles of this account cost least)")]
    return []
