"""README.md read as the tests that run its procedures need it: a section's body, its fenced blocks, its code.

Procedures (restoring a database, adding an environment) are tested by running the commands README shows, so the
text cannot drift from what works.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
README = PROJECT_ROOT / "README.md"
# A fenced block, also indented under a list item: (language, body).
FENCE = re.compile(r"^ *```(\w*)\n(.*?)^ *```", re.DOTALL | re.MULTILINE)
SPAN = re.compile(r"`([^`\n]+)`")


def readme_text() -> str:
    return README.read_text(encoding="utf-8")


def readme_section(heading: str) -> str:
    """The text from a level-2 heading (exact line) up to the next level-2 heading."""
    text = readme_text()
    start = text.index(f"\n{heading}\n") + 1
    end = text.find("\n## ", start + len(heading))
    return text[start:] if end < 0 else text[start:end]


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block, bodies dedented by the list indentation README uses (3 spaces)."""
    return [(language, re.sub(r"^ {3}", "", body, flags=re.MULTILINE)) for language, body in FENCE.findall(text)]


def code_spans(text: str) -> list[str]:
    """Every inline code span outside the fenced blocks."""
    return SPAN.findall(FENCE.sub("", text))


def merged(base: Any, addition: Any) -> Any:
    """`addition` written into `base` the way README says: mappings key by key, everything else replaced."""
    if isinstance(base, dict) and isinstance(addition, dict):
        return {**base, **{key: merged(base.get(key), value) for key, value in addition.items()}}
    return addition
