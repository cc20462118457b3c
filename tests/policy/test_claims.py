"""policy/claims.py against README and the components: every security promise made there is a claim with
mandatory policies, and every claim is still made (a README edit fails here until the table follows)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from pulumi_policy import EnforcementLevel

from securestack.policy.claims import ALARMS, ARCHITECTURE, CLAIMS, NOT_SECURITY_CLAIMS, README, Claim
from securestack.policy.policies import POLICIES

ROOT = Path(__file__).resolve().parents[2]
POLICY_BY_NAME = {policy.name: policy for policy in POLICIES}
# README's places that make security claims: heading -> place name in the claims table.
PROSE_PLACES = {r"^### Edge$": "Edge", r"^## Audit: .*$": "Audit",
                r"^## Scoped API keys and webhook secrets$": "Scoped API keys and webhook secrets"}
# A sentence ends at '.' followed by a capital, a backtick, '(' or '*' (bold); "e.g." does not end one.
SENTENCE_END = re.compile(r"(?<!e\.g\.)(?<=[.])\s+(?=[A-Z`(*])")


def normalised(text: str) -> str:
    return " ".join(text.split())


def readme_text() -> str:
    return (ROOT / README).read_text()


def section(heading: str) -> str:
    """The body of the section under a heading (up to the next heading of level 2 or 3)."""
    text = readme_text()
    start = re.search(heading, text, re.M)
    assert start, f"README has no section {heading!r}"
    rest = text[start.end():]
    end = re.search(r"^#{2,3} ", rest, re.M)
    return rest[:end.start()] if end else rest


def prose(body: str) -> str:
    """A section without code blocks and tables."""
    body = re.sub(r"```.*?```", "", body, flags=re.S)
    return "\n\n".join(p for p in body.split("\n\n") if p.strip() and not p.strip().startswith("|"))


def sentences(body: str) -> list[str]:
    return [s for paragraph in prose(body).split("\n\n") for s in SENTENCE_END.split(normalised(paragraph)) if s]


def table_rows(body: str) -> list[list[str]]:
    rows = [line for line in body.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip().strip("|").split(" | ")] for row in rows[1:]]  # header left out


def clauses(cell: str) -> list[str]:
    """A guarantee cell split at '; ' outside parentheses."""
    found, depth, current = [], 0, ""
    index = 0
    while index < len(cell):
        if cell.startswith("; ", index) and depth == 0:
            found.append(current)
            current, index = "", index + 2
            continue
        depth += {"(": 1, ")": -1}.get(cell[index], 0)
        current += cell[index]
        index += 1
    return found + [current]


def architecture_clauses() -> dict[str, list[str]]:
    """Architecture table: place ("Architecture: <part>") -> the clauses of its "what it guarantees" cell."""
    return {ARCHITECTURE + part: clauses(guarantees) for part, _, guarantees in table_rows(section(r"^## Architecture$"))}


def place_text(place: str) -> str:
    if place.startswith(ARCHITECTURE):
        return "\n".join(architecture_clauses().get(place, []))
    if place == ALARMS:
        return "\n".join(row[0] for row in table_rows(section(r"^## Audit: .*$")))
    heading = next(h for h, name in PROSE_PLACES.items() if name == place)
    return normalised(prose(section(heading)))


README_CLAIMS = [c for c in CLAIMS if c.source == README]
DOCSTRING_CLAIMS = [c for c in CLAIMS if c.source != README]


def claim_id(claim: Claim) -> str:
    return f"{claim.place}: {claim.text[:60]}"


@pytest.mark.parametrize("claim", CLAIMS, ids=claim_id)
def test_every_claim_names_mandatory_policies_of_the_pack(claim: Claim):
    assert claim.policies, "a claim no policy enforces"
    assert len(set(claim.policies)) == len(claim.policies)
    unknown = [name for name in claim.policies if name not in POLICY_BY_NAME]
    assert not unknown, f"policies not in the pack: {unknown}"
    assert all(POLICY_BY_NAME[name].enforcement_level is EnforcementLevel.MANDATORY for name in claim.policies)


def test_claims_are_listed_once():
    keys = [(c.source, c.place, c.text) for c in CLAIMS]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("claim", README_CLAIMS, ids=claim_id)
def test_readme_claim_is_still_stated_in_its_place(claim: Claim):
    if claim.place.startswith(ARCHITECTURE):
        assert claim.text in architecture_clauses().get(claim.place, []), "no longer a clause of that table row"
    else:
        assert normalised(claim.text) in place_text(claim.place), "README no longer says this there"


def test_not_security_statements_are_still_in_readme():
    stale = [s.text for s in NOT_SECURITY_CLAIMS if normalised(s.text) not in place_text(s.place)]
    assert not stale, f"NOT_SECURITY_CLAIMS entries README no longer has: {stale}"


def test_every_architecture_clause_is_a_claim_or_declared_not_one():
    claimed = {(c.place, c.text) for c in README_CLAIMS} | {(s.place, s.text) for s in NOT_SECURITY_CLAIMS}
    unclaimed = [f"{place}: {clause}" for place, found in architecture_clauses().items() for clause in found
                 if (place, clause) not in claimed]
    assert not unclaimed, "Architecture guarantees without a claims entry (policy/claims.py):\n" + "\n".join(unclaimed)


@pytest.mark.parametrize("heading,place", PROSE_PLACES.items(), ids=list(PROSE_PLACES.values()))
def test_every_sentence_of_a_claim_section_is_claimed_or_declared_not_one(heading: str, place: str):
    texts = [normalised(c.text) for c in README_CLAIMS if c.place == place]
    exempt = {normalised(s.text) for s in NOT_SECURITY_CLAIMS if s.place == place}
    found = sentences(section(heading))
    assert found, f"no sentences found under {heading!r}"
    unclaimed = [s for s in found if s not in exempt and not any(text in s for text in texts)]
    assert not unclaimed, f"{place} sentences without a claims entry (policy/claims.py):\n" + "\n".join(unclaimed)


def test_every_alarm_of_the_audit_table_is_a_claim():
    alarms = [row[0] for row in table_rows(section(r"^## Audit: .*$"))]
    assert len(alarms) >= 19
    assert sorted(alarms) == sorted(c.text for c in README_CLAIMS if c.place == ALARMS)


def docstring_of(source: str, place: str) -> str:
    tree = ast.parse((ROOT / source).read_text())
    if place == "module":
        return ast.get_docstring(tree) or ""
    node = tree
    for name in place.split("."):
        node = next(n for n in ast.iter_child_nodes(node)
                    if isinstance(n, (ast.ClassDef, ast.FunctionDef)) and n.name == name)
    return ast.get_docstring(node) or ""


@pytest.mark.parametrize("claim", DOCSTRING_CLAIMS, ids=claim_id)
def test_docstring_claim_is_still_stated(claim: Claim):
    assert normalised(claim.text) in normalised(docstring_of(claim.source, claim.place))


def test_every_policy_citing_readme_enforces_a_claim():
    """A policy written for a README promise is in the table (CONTROLS.md lists it next to its claim)."""
    claimed = {name for claim in CLAIMS for name in claim.policies}
    citing = {p.name for p in POLICIES if any(s.startswith(("README", "components/")) for s in p.controls.sources)}
    assert citing - claimed == set()


def test_the_sentence_splitter_finds_whole_sentences():
    assert sentences("Port 80 has a single action: `301` to `https://…:443`. The ALB drops headers, e.g. `x`. "
                     "**Add a key.** Append it.") == [
        "Port 80 has a single action: `301` to `https://…:443`.", "The ALB drops headers, e.g. `x`.",
        "**Add a key.** Append it."]
