"""Every IAM-style policy document the stack creates (role, resource, key, bucket, topic and trust policies),
found by shape in every recorded input, so a new component's policy is checked without being listed here.

Rules for Allow statements:
- never `Action: "*"` nor a service-wide `svc:*` (nor NotAction, which allows everything else);
- `Resource: "*"` only where AWS offers nothing narrower, and then bounded by a condition;
- a `*` principal only with a condition.
Deny statements are exempt from the action rule: a Deny with a wider action set is stricter, not weaker.
Key policies are exempt from the resource rule: in a key policy `Resource: "*"` means the key itself (the only
resource a key policy can govern). Their AccountAdministersThroughIam statement is AWS's default key policy
(`kms:*` for the account root): it hands the key's use to IAM policies, which these rules check, and removing it
makes a key unmanageable.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator

import pytest

from tests.support.stacks import STACK_FILES, shipped_recording, walk

KEY_POLICY_TYPES = {"aws:kms/key:Key", "aws:kms/replicaKey:ReplicaKey", "aws:kms/keyPolicy:KeyPolicy"}


@dataclass(frozen=True)
class Document:
    resource: str
    type: str
    statements: tuple[dict[str, Any], ...]

    @property
    def key_policy(self) -> bool:
        return self.type in KEY_POLICY_TYPES


def documents_of(recording) -> list[Document]:
    found = []
    for resource in recording.resources:
        for value in walk(resource.inputs):
            if isinstance(value, str) and '"Statement"' in value:
                parsed = json.loads(value)
                statements = parsed["Statement"]
                statements = statements if isinstance(statements, list) else [statements]
                found.append(Document(resource.name, resource.type, tuple(statements)))
    return found


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def account_root_administration(document: Document, statement: dict) -> bool:
    principal = statement.get("Principal")
    return (document.key_policy and statement.get("Action") == "kms:*" and isinstance(principal, dict)
            and all(str(arn).endswith(":root") for arn in as_list(principal.get("AWS"))))


def problems(document: Document) -> Iterator[str]:
    for statement in document.statements:
        where = f"{document.resource} ({document.type}) {statement.get('Sid', '')}"
        if statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement or "NotResource" in statement:
            yield f"{where}: Allow with NotAction/NotResource allows everything else"
        if not account_root_administration(document, statement):
            for action in as_list(statement.get("Action", [])):
                if action == "*" or action.endswith(":*"):
                    yield f"{where}: action {action!r} is service-wide"
        if "*" in as_list(statement.get("Resource", [])) and not document.key_policy and "Condition" not in statement:
            yield f"{where}: Resource '*' without a condition"
        principal = statement.get("Principal")
        if principal in ("*", {"AWS": "*"}) and "Condition" not in statement:
            yield f"{where}: any principal without a condition"


@pytest.fixture(params=STACK_FILES)
def recording(request):
    return shipped_recording(request.param)


def test_every_policy_document_is_least_privilege(recording):
    documents = documents_of(recording)
    found = [problem for document in documents for problem in problems(document)]
    assert not found, "\n".join(found)


def test_documents_of_every_kind_are_checked(recording):
    # The scan finds policies by shape; if it found none of a kind the stack creates, it would prove nothing.
    types = {document.type for document in documents_of(recording)}
    assert {"aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:kms/key:Key",
            "aws:secretsmanager/secretPolicy:SecretPolicy"} <= types


BAD = [
    ({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b"}, "service-wide"),
    ({"Effect": "Allow", "Action": ["secretsmanager:*"], "Resource": "arn:x"}, "service-wide"),
    ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, "without a condition"),
    ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:x"}, "NotAction"),
    ({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}, "any principal"),
]


@pytest.mark.parametrize("statement, expected", BAD, ids=[b[1] + str(i) for i, b in enumerate(BAD)])
def test_checker_refuses_wide_statements(statement, expected):
    found = list(problems(Document("r", "aws:iam/rolePolicy:RolePolicy", (statement,))))
    assert found and expected in found[0]


def test_checker_exemptions_are_narrow():
    deny = {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "secretsmanager:*", "Resource": "arn:x",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    assert not list(problems(Document("r", "aws:secretsmanager/secretPolicy:SecretPolicy", (deny,))))
    root = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "kms:*",
            "Resource": "*"}
    assert not list(problems(Document("k", "aws:kms/key:Key", (root,))))
    # The same statement anywhere but a key policy is refused, as is kms:* for anyone but the account root.
    assert list(problems(Document("p", "aws:iam/policy:Policy", (root,))))
    someone = {**root, "Principal": {"AWS": "arn:aws:iam::111111111111:role/admin"}}
    assert list(problems(Document("k", "aws:kms/key:Key", (someone,))))
