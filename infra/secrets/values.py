"""The value an operator stages: read from standard input or a no-echo prompt (never argv or the environment, which
other processes, shell history and CI logs see), and checked for shape without ever repeating it.

Every message here describes the value (its length, what it lacks) and never quotes it or any part of it: a paste
of the wrong secret must not end up in a terminal's scrollback or a CI log.
"""
from __future__ import annotations

import getpass
import sys
from typing import Callable, Optional, TextIO

from securestack.infra.secrets.common import Refused

# 16: shorter than any vendor's key or signing secret (StackBE's and BareCommerce's are 32+ characters after the
# prefix), so a shorter value is a truncated paste or the key's name, not a key. 4096: far beyond any API key or
# signing secret, far below Secrets Manager's 65,536-byte SecretString limit, so a file piped in by mistake is
# refused rather than stored.
MIN_LENGTH, MAX_LENGTH = 16, 4096
PRINTABLE = range(0x21, 0x7F)  # printable ASCII without space: a key is a token, whitespace is a paste error


def read_value(noun: str, stdin: Optional[TextIO] = None, prompt: Callable[[str], str] = getpass.getpass) -> str:
    """The value from stdin when it is not a terminal (one line; its trailing newline dropped), else from a
    no-echo prompt asked twice (a typo in a hidden entry cannot be seen). `stdin`: sys.stdin as it is at the call
    (not at import: a caller that redirects it, as the tests running the command in-process do, is read)."""
    stdin = stdin if stdin is not None else sys.stdin
    if not stdin.isatty():
        text = _read_text(stdin, MAX_LENGTH + 3)  # enough to tell "too long" without reading a whole file
        return text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
    first = prompt(f"new {noun} (not shown): ")
    if prompt(f"the same {noun} again: ") != first:
        raise Refused(f"the two entries of the {noun} differ: nothing staged, run the command again")
    return first


def _read_text(stdin: TextIO, limit: int) -> str:
    """Bytes that are not UTF-8 become U+FFFD, which the shape check refuses as non-ASCII: decoding them strictly
    would fail with an error quoting the offending byte of the value."""
    binary = getattr(stdin, "buffer", None)
    if binary is None:
        return stdin.read(limit)
    data: bytes = binary.read(limit)
    return data.decode("utf-8", errors="replace")


def shape_problem(value: str, noun: str, prefix: Optional[str], production: bool) -> Optional[str]:
    """Why `value` cannot be a vendor-issued `noun`, or None; never includes the value or any part of it."""
    if not value:
        return f"no {noun} given (pipe it on standard input, or type it at the prompt)"
    if len(value) > MAX_LENGTH:
        return (f"the {noun} is longer than {MAX_LENGTH} characters: a vendor-issued value is {MIN_LENGTH} to "
                f"{MAX_LENGTH} (a file instead of the value?)")
    if len(value) < MIN_LENGTH:
        return (f"the {noun} is {len(value)} characters long: a vendor-issued value is {MIN_LENGTH} to {MAX_LENGTH} "
                "(a truncated paste, or the key's name instead of the key?)")
    if any(ord(character) not in PRINTABLE for character in value):
        return (f"the {noun} contains whitespace, control or non-ASCII characters: a vendor-issued value is printable "
                "ASCII only (a stray space or line break in the paste?)")
    if prefix is not None and not value.startswith(prefix):
        environment = "a production stack takes live keys" if production else "a non-production stack takes test keys"
        return f"the {noun} does not start with {prefix}: {environment} ({prefix}...) from the vendor's dashboard"
    return None
