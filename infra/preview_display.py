"""The text output of `python -m infra.preview <stack>`, modeled on what `pulumi preview` prints.

Sections in the CLI's order (pulumi/pulumi pkg/backend/display/progress.go, ProgressDisplay.processEndSteps:
the resource table, then printPolicies, then printOutputs, then printSummary, the last skipped when a mandatory
policy failed "so as not to confuse"):

- a header naming the project, stack and mode (the CLI's `Previewing update (<stack>):`, pkg/backend/apply.go);
- a `Type  Name  Plan` table (pkg/backend/display/rows.go, headerRowData) whose Type column carries the tree
  glyphs `├─ └─ │` following parents (progress.go, addIndentations) and the short type name
  (`tokens.Type.DisplayName` in sdk/go/common/tokens/tokens.go); a protected resource's plan ends in 🔒, as the
  CLI marks its step (pkg/backend/display/object_diff.go, printStepHeader);
- `Policies:` with `<pack>@v<version>` and each violation over a few lines (diff.go,
  renderDiffPolicyViolationEvent: `- [enforcement]  policy  (short type: name)` then the message);
- `Outputs:` (the stack outputs, sorted; secrets `[secret]`, values not known yet `[unknown]`);
- `Resources:` with `+ N to create`, the Stack counted (diff.go, renderSummaryEvent).

The status line (`status_line`) is what `pulumi preview` shows while it works; here it goes to stderr and only
when stderr is a terminal, so pipes, files and tests never see it.
"""
from __future__ import annotations

import contextlib
import json
import sys
import textwrap
from typing import IO, Any, Iterator, Optional, Sequence

from securestack.infra.recording import MASK, UNKNOWN_TEXT, RecordedResource, Recording, Secret, Unknown

STACK_TYPE = "pulumi:pulumi:Stack"
CANNOT_RUN_PREFIX = "can't run policy "  # how pulumi_policy words a policy that read an unknown value
LOCK = "🔒"
CREATE_PLAN = "create"
CREATE_SYMBOL = "+"
COLUMN_GAP = "  "
INDENT = "    "  # the CLI's section indent
VIOLATION_INDENT = INDENT * 2  # printPolicies' subItemIndent
MESSAGE_WIDTH = 100  # wrap policy messages: one long line per violation is what this output replaces
PASSED, WARNED, FAILED = "✅", "⚠️", "❌"  # printPolicies' pack marks
ENFORCEMENT_ORDER = {"mandatory": 0, "advisory": 1}  # printPolicies sorts mandatory first
CLEAR_LINE = "\r\x1b[K"


# ------------------------------------------------------------------------------------------------------------
# Type names
# ------------------------------------------------------------------------------------------------------------

def short_type(token: str) -> str:
    """`aws:cloudwatch/logGroup:LogGroup` -> `aws:cloudwatch:LogGroup`, exactly as the CLI's `Type.DisplayName`:
    only a `pkg:module/file:Name` token whose file is Name in camelCase is shortened, anything else is kept."""
    parts = token.split(":")
    if len(parts) != 3 or not parts[2] or "/" not in parts[1]:
        return token
    package, module, name = parts
    module_path, _, file = module.rpartition("/")
    return f"{package}:{module_path}:{name}" if file == name[0].lower() + name[1:] else token


# ------------------------------------------------------------------------------------------------------------
# The resource table
# ------------------------------------------------------------------------------------------------------------

def stack_name(recording: Recording) -> str:
    return f"{recording.project}-{recording.stack}"


def children_by_parent(recording: Recording) -> dict[Optional[str], list[RecordedResource]]:
    """Each parent's children, sorted by (type, name) so the same stack always prints the same table."""
    children: dict[Optional[str], list[RecordedResource]] = {}
    for resource in recording.resources:
        parent = resource.parent if resource.parent != recording.stack_urn else None
        children.setdefault(parent, []).append(resource)
    return {parent: sorted(group, key=lambda r: (r.type, r.name)) for parent, group in children.items()}


def plan_of(resource: Optional[RecordedResource]) -> str:
    protected = resource is not None and bool(resource.options.get("protect"))
    return f"{CREATE_PLAN} {LOCK}" if protected else CREATE_PLAN


def tree_rows(recording: Recording) -> list[tuple[str, str, str]]:
    """(Type column with its tree glyphs, Name, Plan) for the Stack and every resource under it."""
    children = children_by_parent(recording)
    rows = [(STACK_TYPE, stack_name(recording), CREATE_PLAN)]

    def walk(parent: Optional[str], indentation: str) -> None:
        group = children.get(parent, [])
        for index, resource in enumerate(group):
            last = index == len(group) - 1
            glyph, nested = ("└─ ", "   ") if last else ("├─ ", "│  ")
            rows.append((indentation + glyph + short_type(resource.type), resource.name, plan_of(resource)))
            walk(resource.urn, indentation + nested)

    walk(None, "")
    return rows


def render_table(recording: Recording) -> str:
    rows = tree_rows(recording)
    type_width = max(len(row[0]) for row in rows)
    name_width = max(len(row[1]) for row in rows)

    def line(symbol: str, type_: str, name: str, plan: str) -> str:
        return f" {symbol:1}   {type_:<{type_width}}{COLUMN_GAP}{name:<{name_width}}{COLUMN_GAP}{plan}".rstrip()

    return "\n".join([line("", "Type", "Name", "Plan"), *(line(CREATE_SYMBOL, *row) for row in rows)])


# ------------------------------------------------------------------------------------------------------------
# Policies
# ------------------------------------------------------------------------------------------------------------

def pack_mark(violations: Sequence[dict[str, Any]]) -> str:
    levels = {v["enforcementLevel"] for v in violations}
    return FAILED if "mandatory" in levels else WARNED if levels else PASSED


def resource_clause(urn: Optional[str]) -> str:
    """`  (aws:rds:Instance: database-instance)`, read from the urn as the CLI does (policyResourceClause:
    `urn.Type().DisplayName()`, `urn.Name()`); nothing for a stack-level violation (its urn is null)."""
    parts = (urn or "").split("::", 3)  # urn:pulumi:<stack> :: <project> :: <parent$...$type> :: <name>
    if len(parts) != 4:
        return ""
    qualified_type, name = parts[2], parts[3]
    return f"  ({short_type(qualified_type.rsplit('$', 1)[-1])}: {name})"


def render_violation(violation: dict[str, Any]) -> list[str]:
    heading = (f"{VIOLATION_INDENT}- [{violation['enforcementLevel']}]  {violation['policyName']}"
               f"{resource_clause(violation.get('urn'))}")
    message_indent = VIOLATION_INDENT + "  "
    message_lines = []
    for paragraph in str(violation["message"]).splitlines() or [""]:
        message_lines.extend(textwrap.wrap(paragraph, width=MESSAGE_WIDTH, initial_indent=message_indent,
                                           subsequent_indent=message_indent, break_on_hyphens=False,
                                           break_long_words=False) or [message_indent.rstrip()])
    return [heading, *message_lines]


def violation_order(violation: dict[str, Any]) -> tuple[int, str, str]:
    return (ENFORCEMENT_ORDER.get(violation["enforcementLevel"], len(ENFORCEMENT_ORDER)), violation["policyName"],
            violation.get("urn") or "")


def render_policies(violations: Sequence[dict[str, Any]], pack_name: str, pack_version: str, pack_path: str) -> str:
    mandatory = sum(1 for v in violations if v["enforcementLevel"] == "mandatory")
    advisory = [v for v in violations if v["enforcementLevel"] == "advisory"]
    lines = ["Policies:",
             f"{INDENT}{pack_mark(violations)} {pack_name}@v{pack_version} (local: {pack_path})",
             f"{VIOLATION_INDENT}{mandatory} mandatory, {len(advisory)} advisory violation(s)"]
    cannot_run = sum(1 for v in advisory if v["message"].startswith(CANNOT_RUN_PREFIX))
    if cannot_run:
        lines.append(f"{VIOLATION_INDENT}{cannot_run} of the advisories: policies that can't run during a preview "
                     "(they read values known only once created; --mode up and `pulumi up` enforce them)")
    for violation in sorted(violations, key=violation_order):
        lines.extend(render_violation(violation))
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------------
# Outputs and the summary
# ------------------------------------------------------------------------------------------------------------

def render_value(value: Any, indentation: str) -> list[str]:
    """An output value as the CLI prints properties: scalars as JSON, objects and lists one entry a line,
    keys sorted (the CLI walks `PropertyMap.StableKeys()`)."""
    if isinstance(value, dict) and value:
        width = max(len(str(key)) for key in value)
        inner = indentation + INDENT
        lines = ["{"]
        for key, item in sorted(value.items()):
            first, *rest = render_value(item, inner)
            lines.append(f"{inner}{str(key) + ':':<{width + 1}} {first}")
            lines.extend(rest)
        return [*lines, indentation + "}"]
    if isinstance(value, list) and value:
        inner = indentation + INDENT
        lines = ["["]
        for index, item in enumerate(value):
            first, *rest = render_value(item, inner)
            lines.append(f"{inner}[{index}]: {first}")
            lines.extend(rest)
        return [*lines, indentation + "]"]
    if isinstance(value, Secret):
        return [MASK]  # bare, as the CLI prints a secret: never the value, and not mistaken for a string
    if isinstance(value, Unknown):
        return [UNKNOWN_TEXT]
    return [json.dumps(value, ensure_ascii=False, default=str)]


def render_outputs(recording: Recording) -> str:
    outputs = recording.stack_outputs
    if not outputs:
        return ""
    width = max(len(key) for key in outputs)
    lines = ["Outputs:"]
    for key, value in sorted(outputs.items()):
        first, *rest = render_value(value, INDENT)
        lines.append(f"{INDENT}{key + ':':<{width + 1}} {first}")
        lines.extend(rest)
    return "\n".join(lines)


def render_summary(recording: Recording) -> str:
    """The CLI counts the Stack among the resources it creates (`+ N to create`)."""
    return f"Resources:\n{INDENT}{CREATE_SYMBOL} {len(recording.resources) + 1} to create"


def render_header(recording: Recording, mode: str, mode_description: str) -> str:
    return (f"Previewing update ({recording.project}/{recording.stack}) offline, on the recording engine:\n"
            f"Mode: {mode} ({mode_description})")


def render_preview(recording: Recording, violations: Sequence[dict[str, Any]], *, mode: str, mode_description: str,
                   pack_name: str, pack_version: str, pack_path: str) -> str:
    """The whole text output; `Resources:` is left out when a mandatory policy failed, as the CLI leaves it out."""
    sections = [render_header(recording, mode, mode_description), render_table(recording),
                render_policies(violations, pack_name, pack_version, pack_path), render_outputs(recording)]
    if not any(v["enforcementLevel"] == "mandatory" for v in violations):
        sections.append(render_summary(recording))
    return "\n\n".join(section for section in sections if section)


# ------------------------------------------------------------------------------------------------------------
# The status line
# ------------------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def status_line(message: str, stream: Optional[IO[str]] = None) -> Iterator[None]:
    """Shows `message...` on stderr while the block runs, and erases it after (also when the block raises, so an
    error line starts clean); nothing at all when stderr is not a terminal."""
    stream = stream or sys.stderr
    shown = stream.isatty()
    if shown:
        stream.write(f"{CLEAR_LINE}{message}...")
        stream.flush()
    try:
        yield
    finally:
        if shown:
            stream.write(CLEAR_LINE)
            stream.flush()
