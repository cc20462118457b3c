"""Pass 2 over every string the stack file gives: what the policy pack would refuse later for a config reason,
reported at the key that causes it (issue 14: a copy of Pulumi.dev.yaml as Pulumi.staging.yaml failed on
policies naming resources, not the keys).

- an ARN or an ECR registry of an account outside aws:allowedAccountIds (policy `arns-within-allowed-accounts`);
- an ARN of another partition than aws:region's (no resource of this stack can use it);
- a name of another environment of the project: `securestack/<env>/...` paths and `securestack-<env>-...` names
  (policy `no-cross-environment-references`, whose patterns these are), except in `database.restore`, the one
  declared cross-environment reference.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Iterator, Optional

from .base import CONFIG_NAMESPACE

ARN = re.compile(r"arn:(?P<partition>aws[a-z-]*):(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):"
                 r"(?P<account>\d{12})?:")
ECR_REGISTRY = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/")
ENVIRONMENT_PATH = re.compile(r"securestack/([a-z][a-z0-9-]*)/")
ENVIRONMENT_NAME = re.compile(r"securestack-([a-z0-9][a-z0-9-]*)")
RESTORE_KEY = f"{CONFIG_NAMESPACE}:database.restore"


def strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(key path, text) of every string in a decoded config value, paths as the file spells them."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings(item, f"{path}[{index}]")


def account_problems(path: str, text: str, accounts: tuple[str, ...]) -> list[tuple[str, str]]:
    named = [m.group("account") for m in ARN.finditer(text) if m.group("account")]
    registry = ECR_REGISTRY.match(text)
    if registry:
        named.append(registry.group("account"))
    foreign = sorted({account for account in named if account not in accounts})
    if not accounts or not foreign:
        return []
    return [(path, f"names account {', '.join(foreign)}, not one of this stack's aws:allowedAccountIds "
                   f"({', '.join(accounts)}): the policy pack refuses any resource naming another account")]


def partition_problems(path: str, text: str, partition: Optional[str], region: Optional[str]
                       ) -> list[tuple[str, str]]:
    others = sorted({m.group("partition") for m in ARN.finditer(text)} - {partition}) if partition else []
    if not others:
        return []
    return [(path, f"is an ARN of partition {', '.join(others)}; aws:region {region} is in partition {partition}")]


def named_environment(token: str, environments: set[str]) -> Optional[str]:
    """The environment a `securestack-<token>` name starts with: the longest one matching (dev-eu before dev)."""
    matching = [e for e in environments if token == e or token.startswith(f"{e}-")]
    return max(matching, key=len) if matching else None


def environment_problems(path: str, text: str, environment: str, environments: set[str]
                         ) -> list[tuple[str, str]]:
    if path == RESTORE_KEY or path.startswith((f"{RESTORE_KEY}.", f"{RESTORE_KEY}[")):
        return []
    found = {m.group(1) for m in ENVIRONMENT_PATH.finditer(text) if m.group(1) != environment}
    for match in ENVIRONMENT_NAME.finditer(text):
        named = named_environment(match.group(1), environments | {environment})
        if named not in (None, environment):
            found.add(named)
    if not found:
        return []
    return [(path, f"'{text}' names environment {', '.join(sorted(found))} in the '{environment}' stack: each "
                   f"environment uses its own roles, keys and names (securestack-{environment}-...); the policy "
                   "pack refuses cross-environment references")]


def reference_problems(values: Iterable[tuple[str, Any]], environment: str, environments: Iterable[str],
                       accounts: tuple[str, ...], region: Optional[str], partition: Optional[str]
                       ) -> list[tuple[str, str]]:
    """Every reference problem of the securestack:* values ((config key, decoded value) pairs)."""
    known = set(environments)
    problems: list[tuple[str, str]] = []
    for key, value in values:
        for path, text in strings(value, key):
            problems += account_problems(path, text, accounts)
            problems += partition_problems(path, text, partition, region)
            problems += environment_problems(path, text, environment, known)
    return problems
