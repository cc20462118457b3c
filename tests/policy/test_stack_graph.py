"""StackGraph's indexed lookups find exactly what a scan of every resource with `refers_to` finds, in stack order.

The indexes (issue 16) replace a scan per lookup; these tests hold them to the scan's answers on the ways one
resource refers to another: a property dependency, a whole id or name, an ARN quoted inside a JSON document (also
one longer than the index's key), and none.
"""
from __future__ import annotations

import json

from pulumi_policy import PolicyResource, PolicyResourceOptions

from securestack.policy.policies.support import ARN_KEY_LENGTH, StackGraph

SECRET, ROTATION, POLICY = "aws:secretsmanager/secret:Secret", "aws:secretsmanager/secretRotation:SecretRotation", \
    "aws:iam/policy:Policy"
ARN = "arn:aws:secretsmanager:us-east-1:111111111111:secret:securestack/dev/{}-AbCdEf"


def resource(type_: str, name: str, props: dict, **dependencies: list[PolicyResource]) -> PolicyResource:
    options = PolicyResourceOptions(False, [], False, [], [], None, None)  # type: ignore[arg-type]
    return PolicyResource(type_, props, f"urn:pulumi:dev::securestack::{type_}::{name}", name, options, None, None,
                          [], dict(dependencies))


def stack() -> tuple[StackGraph, dict[str, PolicyResource]]:
    long_name = "k" * (ARN_KEY_LENGTH + 10)
    secrets = {name: resource(SECRET, name, {"arn": ARN.format(name), "id": ARN.format(name), "name": name})
               for name in ("alpha", "beta", "alpha-2", long_name)}
    alpha, beta, alpha_2, long_one = secrets.values()
    named = {
        **secrets,
        "by-dependency": resource(ROTATION, "by-dependency", {"secretId": None}, secretId=[beta]),
        "by-id": resource(ROTATION, "by-id", {"secretId": ARN.format("alpha")}),
        "by-name": resource(ROTATION, "by-name", {"secretId": "alpha-2"}),
        "unrelated": resource(ROTATION, "unrelated", {"secretId": ARN.format("gamma")}),
        "document": resource(POLICY, "document", {"policy": json.dumps({"Statement": [
            {"Effect": "Allow", "Resource": [ARN.format("alpha-2"), ARN.format(long_name) + "*"]}]})}),
        "prefix-only": resource(POLICY, "prefix-only", {"policy": ARN.format("alpha")[:-3]}),
        "self-quoting": resource(SECRET, "self-quoting", {"arn": "arn:aws:x:::self", "policy": "arn:aws:x:::self"}),
    }
    return StackGraph(list(named.values())), named


def scanned_referrers(graph: StackGraph, target: PolicyResource, prop: str, *types: str) -> list[PolicyResource]:
    return [r for r in graph.resources if r.resource_type in types and r is not target
            and graph.refers_to(r, prop, target)]


def scanned_referenced(graph: StackGraph, source: PolicyResource, prop: str, *types: str) -> list[PolicyResource]:
    return [r for r in graph.resources if r.resource_type in types and r is not source
            and graph.refers_to(source, prop, r)]


def names(resources: list[PolicyResource]) -> list[str]:
    return [r.name for r in resources]


def test_referrers_match_a_scan_for_every_target_and_property():
    graph, named = stack()
    for target in graph.resources:
        for prop, types in (("secretId", (ROTATION,)), ("policy", (POLICY, SECRET)), ("secretId", (ROTATION, SECRET))):
            assert names(graph.referrers(target, prop, *types)) == names(scanned_referrers(graph, target, prop, *types))
    assert names(graph.referrers(named["alpha"], "secretId", ROTATION)) == ["by-id"]  # not alpha-2's by-name
    assert names(graph.referrers(named["beta"], "secretId", ROTATION)) == ["by-dependency"]
    assert names(graph.referrers(named["alpha-2"], "policy", POLICY)) == ["document"]
    assert names(graph.referrers(named["k" * (ARN_KEY_LENGTH + 10)], "policy", POLICY)) == ["document"]
    assert graph.referrers(named["self-quoting"], "policy", SECRET) == []  # never the target itself


def test_referenced_match_a_scan_for_every_source_and_property():
    graph, named = stack()
    for source in graph.resources:
        for prop in ("secretId", "policy"):
            assert names(graph.referenced(source, prop, SECRET)) == names(scanned_referenced(graph, source, prop, SECRET))
    assert names(graph.referenced(named["document"], "policy", SECRET)) == ["alpha-2", "k" * (ARN_KEY_LENGTH + 10)]
    assert names(graph.referenced(named["by-name"], "secretId", SECRET)) == ["alpha-2"]
    assert graph.referenced(named["prefix-only"], "policy", SECRET) == []
    assert graph.referenced(named["unrelated"], "secretId", SECRET) == []


def test_of_type_and_with_value_keep_stack_order():
    graph, named = stack()
    assert names(graph.of_type(POLICY, ROTATION)) == ["by-dependency", "by-id", "by-name", "unrelated", "document",
                                                      "prefix-only"]
    assert names(graph.with_value("alpha-2", (SECRET,), "name")) == ["alpha-2"]
    assert graph.with_value("missing", (SECRET,), "name") == []
    assert graph.with_value(["unhashable"], (SECRET,), "name") == []
