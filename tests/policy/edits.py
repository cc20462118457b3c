"""Editing a recorded stack the way a component bug would change it: inputs and outputs alike, on a copy."""
from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any, Callable

from securestack.infra.recording import RecordedResource, Recording


def mutable_copy(recording: Recording) -> Recording:
    """A copy whose resources `res` copies before handing them out: the cached recording stays untouched."""
    return dataclasses.replace(recording, resources=list(recording.resources))


def res(recording: Recording, name: str) -> RecordedResource:
    """The resource named `name`, copied into this recording on first access (copy on write)."""
    found = [i for i, r in enumerate(recording.resources) if r.name == name]
    assert len(found) == 1, f"{recording.stack} has {len(found)} resources named {name}"
    resource = recording.resources[found[0]]
    if not getattr(resource, "_mutable", False):
        resource = copy.deepcopy(resource)
        resource._mutable = True
        recording.resources[found[0]] = resource
    return resource


def put(resource: RecordedResource, key: str, value: Any) -> None:
    for props in (resource.inputs, resource.outputs):
        props[key] = copy.deepcopy(value)


def remove(resource: RecordedResource, key: str) -> None:
    for props in (resource.inputs, resource.outputs):
        props.pop(key, None)
    resource.property_dependencies.pop(key, None)


def edit(resource: RecordedResource, key: str, change: Callable[[Any], Any]) -> None:
    """Changes a nested value in place (what `change` returns is ignored)."""
    for props in (resource.inputs, resource.outputs):
        change(props[key])


def rewrite(resource: RecordedResource, key: str, new_value: Callable[[Any], Any]) -> None:
    """Replaces a value by what `new_value(old)` returns."""
    for props in (resource.inputs, resource.outputs):
        props[key] = new_value(props[key])


def edit_json(resource: RecordedResource, key: str, change: Callable[[Any], Any]) -> None:
    """Changes a JSON-text input (a policy document, container definitions) in place."""
    def in_json(text: str) -> str:
        document = json.loads(text)
        change(document)
        return json.dumps(document)
    rewrite(resource, key, in_json)


def statements_of(document: dict) -> list:
    return document["Statement"]


def add_statement(statement: dict) -> Callable[[dict], None]:
    return lambda document: statements_of(document).append(statement)


def each_statement(change: Callable[[dict], Any]) -> Callable[[dict], None]:
    def apply(document: dict) -> None:
        for statement in statements_of(document):
            change(statement)
    return apply


def keep_statements(keep: Callable[[dict], bool]) -> Callable[[dict], None]:
    def apply(document: dict) -> None:
        document["Statement"] = [s for s in statements_of(document) if keep(s)]
    return apply


def first_container(change: Callable[[dict], Any]) -> Callable[[list], None]:
    def apply(containers: list) -> None:
        change(containers[0])
    return apply


def each_where(condition: Callable[[dict], bool], change: Callable[[dict], Any]) -> Callable[[list], None]:
    def apply(values: list) -> None:
        for value in values:
            if condition(value):
                change(value)
    return apply


def keep_where(keep: Callable[[dict], bool]) -> Callable[[list], list]:
    return lambda values: [value for value in values if keep(value)]


def drop(recording: Recording, name: str) -> None:
    recording.resources.remove(res(recording, name))
