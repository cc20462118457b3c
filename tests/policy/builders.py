"""Small stacks for policy tests: resources as the recording engine records them, under one explicit AWS provider.

A `Res` names its resource; `deps` names the resources a property's value came from (the engine's property
dependencies). `recording_of` gives every resource a URN, the provider reference and default outputs (inputs
plus an id and an ARN), so resource and stack policies see what they would see in a real stack.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

from securestack.infra.recording import RecordedResource, Recording
from securestack.infra.stack_config import StackConfig

ACCOUNT = "111111111111"
REGION = "us-east-1"
PROJECT = "securestack"
DELETE = object()  # as a value in `changed(...)`: remove the property


@dataclass
class Res:
    type: str
    name: str
    inputs: dict = field(default_factory=dict)
    outputs: Optional[dict] = None  # None: inputs + id + arn
    deps: dict = field(default_factory=dict)  # property -> names of the resources its value came from
    provider: bool = True  # created by the stack's explicit AWS provider (aws:* types only)
    protect: bool = False  # the `protect` resource option


def changed(resource: Res, **changes: Any) -> Res:
    """A copy with inputs changed (DELETE removes one); explicit outputs change alike."""
    inputs = copy.deepcopy(resource.inputs)
    outputs = copy.deepcopy(resource.outputs)
    for key, value in changes.items():
        for values in (inputs, outputs):
            if values is None:
                continue
            if value is DELETE:
                values.pop(key, None)
            else:
                values[key] = value
    return replace(resource, inputs=inputs, outputs=outputs)


def urn_of(stack: str, type_: str, name: str) -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::{type_}::{name}"


def arn_of(type_: str, name: str) -> str:
    service = type_.split(":")[1].split("/")[0]
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{type_.split(':')[-1].lower()}/{name}"


def provider_resource(stack: str, accounts: list, environment_tag: str) -> RecordedResource:
    inputs = {"region": REGION, "allowedAccountIds": json.dumps(accounts),
              "defaultTags": json.dumps({"tags": {"securestack:env": environment_tag}})}
    return RecordedResource(urn=urn_of(stack, "pulumi:providers:aws", "aws"), type="pulumi:providers:aws",
                            name="aws", parent=None, custom=True, inputs=inputs, options={}, dependencies=[],
                            property_dependencies={}, id="provider-id", outputs=dict(inputs))


def recorded(resource: Res, stack: str, provider: RecordedResource, urns: dict) -> RecordedResource:
    outputs = resource.outputs if resource.outputs is not None else \
        {**resource.inputs, "id": f"{resource.name}-id", "arn": arn_of(resource.type, resource.name)}
    # Dependencies on resources a small test stack leaves out are dropped (the value stays, as from outside).
    property_dependencies = {prop: [urns[name] for name in names if name in urns]
                             for prop, names in resource.deps.items()}
    uses_provider = resource.provider and resource.type.startswith("aws:")
    return RecordedResource(
        urn=urns[resource.name], type=resource.type, name=resource.name, parent=None, custom=True,
        inputs=resource.inputs,
        options={"protect": resource.protect, "ignoreChanges": [], "additionalSecretOutputs": []},
        dependencies=sorted({u for us in property_dependencies.values() for u in us}),
        property_dependencies=property_dependencies, provider=f"{provider.urn}::{provider.id}" if uses_provider
        else None, id=outputs.get("id"), outputs=outputs)


def recording_of(resources: list, stack: str = "dev", accounts: tuple = (ACCOUNT,),
                 environment_tag: Optional[str] = None) -> Recording:
    provider = provider_resource(stack, list(accounts), environment_tag or stack)
    urns = {r.name: urn_of(stack, r.type, r.name) for r in resources}
    return Recording(project=PROJECT, stack=stack, resources=[provider] + [recorded(r, stack, provider, urns)
                                                                           for r in resources],
                     stack_outputs={}, stack_urn=urn_of(stack, "pulumi:pulumi:Stack", f"{PROJECT}-{stack}"))


def stack_config(stack: str = "dev", tier: str = "production", accounts: tuple = (ACCOUNT,),
                 root: Path = Path("/nonexistent")) -> StackConfig:
    config = {"aws:region": REGION, "aws:allowedAccountIds": json.dumps(list(accounts)),
              "securestack:tier": tier}
    return StackConfig(project=PROJECT, stack=stack, config=config, secret_keys=[],
                       path=root / f"Pulumi.{stack}.yaml")


def policy_document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
