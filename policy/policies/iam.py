"""IAM and resource policies: least privilege, no wildcards without a condition, nothing granted to anyone."""
from __future__ import annotations

import re

from typing import Any, Mapping

from pulumi_policy import ResourceValidationArgs, Severity

from .support import Report, SecurestackPolicy
from .support import (Controls, actions_of, allows, describe_statement, get, is_public_principal, items,
                      resource_policy, resources_of, statements)
from .types import ROLE

# Identity policies: the property that holds the document, per resource type.
IDENTITY_POLICIES = {
    "aws:iam/policy:Policy": "policy", "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy", "aws:iam/groupPolicy:GroupPolicy": "policy",
}
# Resource policies: who, from outside the account's IAM, may act on the resource.
RESOURCE_POLICIES = {
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:secretsmanager/secret:Secret": "policy",
    "aws:secretsmanager/secretPolicy:SecretPolicy": "policy",
    "aws:sns/topic:Topic": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:backup/vaultPolicy:VaultPolicy": "policy",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": "policyDocument",
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "policy",
}
FULL_ADMIN_ACTIONS = frozenset({"*", "*:*"})
SERVICE_WILDCARD = re.compile(r"^[\w-]+:\*$")
SOURCE_KEYS = ("aws:SourceAccount", "aws:SourceArn", "aws:SourceOwner")
# Service roles the components trust without a source binding: AWS Backup's (components/backup.py passes no
# account) and CloudTrail's role for CloudWatch Logs (CloudTrail's documented trust for it has no condition, and
# trails whose role trust carries aws:SourceAccount fail to deliver: README "Audit", components/audit.py). Every
# other service role names the account it acts for.
UNBOUND_SERVICE_TRUSTS = frozenset({"backup.amazonaws.com", "cloudtrail.amazonaws.com"})


def identity_documents(resource_type: str, props: Any) -> list[Any]:
    if resource_type == ROLE:
        return [get(policy, "policy") for policy in items(get(props, "inlinePolicies"))]
    return [get(props, IDENTITY_POLICIES[resource_type])]


def identity_statements(args: ResourceValidationArgs) -> list[tuple[int, Mapping[str, Any]]]:
    """(index, statement) of every Allow statement of the resource's identity policies."""
    found = []
    for document in identity_documents(args.resource_type, args.props):
        found += [(i, s) for i, s in enumerate(statements(document)) if allows(s)]
    return found


IDENTITY_TYPES = [*IDENTITY_POLICIES, ROLE]


@resource_policy("iam-no-full-admin", "IAM policies never allow every action (`*` / `*:*`, or Allow with NotAction)",
                 Controls(fsbp=("IAM.1",), checkov=("CKV_AWS_1", "CKV_AWS_62")), IDENTITY_TYPES, Severity.CRITICAL)
def iam_no_full_admin(args: ResourceValidationArgs, report: Report) -> None:
    for index, statement in identity_statements(args):
        if FULL_ADMIN_ACTIONS.intersection(actions_of(statement)):
            report(f"{describe_statement(statement, index)} allows every action")
        elif statement.get("NotAction"):
            report(f"{describe_statement(statement, index)} allows everything but its NotAction list")


@resource_policy("iam-no-service-wildcard-actions", "IAM policies name actions, never a whole service (`s3:*`)",
                 Controls(fsbp=("IAM.21",)), IDENTITY_TYPES, Severity.HIGH)
def iam_no_service_wildcards(args: ResourceValidationArgs, report: Report) -> None:
    for index, statement in identity_statements(args):
        wildcards = [a for a in actions_of(statement) if SERVICE_WILDCARD.match(a)]
        if wildcards:
            report(f"{describe_statement(statement, index)} allows {', '.join(wildcards)}")


@resource_policy("iam-wildcard-resource-needs-condition", "IAM policies grant on `Resource: \"*\"` only with a "
                 "condition (even actions without resource-level permissions get bounded, e.g. by region)",
                 Controls(checkov=("CKV_AWS_355", "CKV_AWS_290")), IDENTITY_TYPES, Severity.HIGH)
def iam_wildcard_resource(args: ResourceValidationArgs, report: Report) -> None:
    for index, statement in identity_statements(args):
        unbounded = "*" in resources_of(statement) or statement.get("NotResource")
        if unbounded and not statement.get("Condition"):
            report(f"{describe_statement(statement, index)} grants {actions_of(statement)} on every resource "
                   "without a condition")


def public_grants(document: Any) -> list[str]:
    return [describe_statement(s, i) for i, s in enumerate(statements(document))
            if allows(s) and is_public_principal(s.get("Principal")) and not s.get("Condition")]


@resource_policy("iam-trust-policy-names-principal", "Role trust policies never let anyone (`*`) assume the role "
                 "without a condition", Controls(sources=("design: policies name principals",)), [ROLE],
                 Severity.CRITICAL)
def iam_trust_policy(args: ResourceValidationArgs, report: Report) -> None:
    for statement in public_grants(get(args.props, "assumeRolePolicy")):
        report(f"trust policy {statement} lets any principal assume the role")


@resource_policy("resource-policy-no-public-principal", "Resource policies (bucket, secret, topic, vault, log, "
                 "registry) grant nothing to `*` without a condition",
                 Controls(checkov=("CKV_AWS_70",), sources=("design: policies name principals",)),
                 list(RESOURCE_POLICIES), Severity.CRITICAL)
def resource_policy_public(args: ResourceValidationArgs, report: Report) -> None:
    for statement in public_grants(get(args.props, RESOURCE_POLICIES[args.resource_type])):
        report(f"{statement} allows Principal '*' without a condition")


def trusted_services(statement: Mapping[str, Any]) -> list[Any]:
    principal: Any = statement.get("Principal")
    service = principal.get("Service") if hasattr(principal, "get") else None
    return [s for s in items(service) if isinstance(s, str)]


def source_bound(statement: Mapping[str, Any]) -> bool:
    condition = statement.get("Condition") or {}
    return any(key in (condition.get(operator) or {}) for operator in condition for key in SOURCE_KEYS)


@resource_policy("iam-service-trust-bound-to-account", "Roles an AWS service assumes bind it to this account "
                 "(aws:SourceAccount or aws:SourceArn in the trust policy: no confused deputy)", Controls(
                     sources=("components/common.py: trust bound to our account (confused deputy)",)),
                 [ROLE], Severity.MEDIUM)
def iam_service_trust_bound(args: ResourceValidationArgs, report: Report) -> None:
    for index, statement in enumerate(statements(get(args.props, "assumeRolePolicy"))):
        services = [s for s in trusted_services(statement) if s not in UNBOUND_SERVICE_TRUSTS]
        if allows(statement) and services and not source_bound(statement):
            report(f"trust policy {describe_statement(statement, index)} lets {services} assume the role for any "
                   "account (no aws:SourceAccount / aws:SourceArn)")


POLICIES: list[SecurestackPolicy] = [iam_no_full_admin, iam_no_service_wildcards, iam_wildcard_resource, iam_trust_policy,
            iam_service_trust_bound, resource_policy_public]
