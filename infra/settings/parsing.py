"""Pass 1 of the settings: every field of a section validated, every problem collected; what did not parse is
pruned and the rest validated again, so that the model's own rules and pass 2 (production, cross-section and
cross-field rules) run on whatever parsed, and know what did not (`unparsed` key paths: a rule reading one of
them is skipped, the others still run).

Pydantic runs every field validator in one go but skips a model's `mode="after"` validators, and build_settings
got no section object at all, as soon as one field fails: one bad field hid the rest of its section's checks, the
production rules and the cross-section checks (issue 14).
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Generic, Optional, TypeVar

from pydantic import BaseModel, ValidationError

from .base import config_path, problem_line

_Section = TypeVar("_Section", bound=BaseModel)
_PRUNED = object()  # a list section's entry that did not parse (kept in place: the other entries keep their index)
_MAX_ROUNDS = 12  # each round prunes at least one value; no section nests deeper than a few levels


@dataclass
class ParsedSection(Generic[_Section]):
    value: Optional[_Section]  # None: nothing of the section could be built (its problems say why)
    problems: list[str] = field(default_factory=list)
    unparsed: set[str] = field(default_factory=set)  # config key paths of the values pruned


def parse_section(model: type[_Section], value: Any, key: str, context: dict[str, Any]) -> ParsedSection[_Section]:
    parsed: ParsedSection[_Section] = ParsedSection(None)
    is_list = isinstance(value, list)
    data = copy.deepcopy(value)
    model_rules_reported = False
    for _ in range(_MAX_ROUNDS):
        kept = [i for i, entry in enumerate(data) if entry is not _PRUNED] if is_list else []
        round_context = {**context, "section": key, "unparsed": frozenset(parsed.unparsed),
                         "model_rules_reported": model_rules_reported}
        try:
            # Strict, from the JSON the engine hands over: `true` is no retention and "yes" no boolean
            # (lax parsing turned `backupRetentionDays: true` into 1 and `multiAz: "no"` into False).
            parsed.value = model.model_validate_json(json.dumps([data[i] for i in kept] if is_list else data),
                                                     strict=True, context=round_context)
        except ValidationError as error:
            progressed = False
            for item in error.errors():
                loc = tuple(item["loc"])
                if is_list and loc and isinstance(loc[0], int):
                    loc = (kept[loc[0]], *loc[1:])  # the entry's index in the file
                missing = item["type"] == "missing"
                if not (missing and config_path(key, loc) in parsed.unparsed):  # else: pruned, reported already
                    parsed.problems.append(problem_line(key, loc, item))
                target = _prune_target(loc, is_list, missing)
                if not target:
                    # A rule of the section as a whole (a model validator): reported; the next round skips them.
                    progressed |= not model_rules_reported
                    model_rules_reported = True
                    continue
                progressed |= _remove(data, target)
                parsed.unparsed.add(config_path(key, target))
            if not progressed:
                return parsed
            continue
        if is_list and len(kept) != len(data):
            parsed.value._source_indices = tuple(kept)  # type: ignore[attr-defined]  # _NamedEntries' private attr
        return parsed
    return parsed


def _prune_target(loc: tuple[Any, ...], is_list: bool, missing: bool) -> tuple[Any, ...]:
    """What to remove for an error at `loc`: the value itself; for a missing required key, the mapping that needed
    it; a nested list as a whole (removing one item would shift the others' indices in the next round's errors);
    a dict key's error (pydantic's `[key]`) is the entry's."""
    target = tuple(part for part in loc if part != "[key]")
    if missing:
        target = target[:-1]
    for position, part in enumerate(target):
        if isinstance(part, int) and (position > 0 or not is_list):
            return target[:position]
    return target


def _remove(data: Any, target: tuple[Any, ...]) -> bool:
    container = data
    for part in target[:-1]:
        try:
            container = container[part]
        except (KeyError, IndexError, TypeError):
            return False
    last = target[-1]
    if isinstance(container, dict) and last in container:
        del container[last]
        return True
    if isinstance(container, list) and isinstance(last, int) and 0 <= last < len(container) \
            and container[last] is not _PRUNED:
        container[last] = _PRUNED
        return True
    return False
