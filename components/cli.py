"""What every command-line entry point of the package shares: exit codes, and one `error: ...` line on stderr for
every failure, never a traceback (README, "Exit codes").

0 ok; 1 the thing checked is wrong (settings problems, policy violations, a failed verification, an operation AWS
refused); 2 the command cannot run as asked (bad arguments, a missing, unreadable or malformed file, no credentials);
130 interrupted (Ctrl-C: 128 + SIGINT, what a shell reports for a command a SIGINT ended).

It lives in components/ because every other folder may import from here and this module imports nothing of the
project (components/__init__.py is lazy, so importing it loads no component).
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import Callable, NoReturn, Optional, Sequence
from urllib.parse import urlsplit

EXIT_OK, EXIT_FAILED, EXIT_UNUSABLE, EXIT_INTERRUPTED = 0, 1, 2, 130
# Set to 1 to see the traceback of an unexpected error (a bug) after its one line.
TRACEBACK_VARIABLE = "SECURESTACK_TRACEBACK"


def one_line(text: object) -> str:
    return " ".join(str(text).split())


def print_error(message: object) -> None:
    print(f"error: {one_line(message)}", file=sys.stderr)


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors are one `error:` line and exit 2 (argparse's own print the usage first)."""

    def error(self, message: str) -> NoReturn:
        print_error(f"{message} (see `{self.prog} --help`)")
        self.exit(EXIT_UNUSABLE)


def http_url(value: str) -> str:
    """An argparse `type` for endpoint overrides: botocore raises `ValueError: Invalid endpoint` only once a client
    is made, deep inside a command; refused here it is a usage error naming the option."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{value!r} is not an http:// or https:// URL")
    return value


# 128 + SIGPIPE: what a shell reports for a command whose reader closed the pipe.
EXIT_BROKEN_PIPE = 141


def run(main: Callable[[Optional[Sequence[str]]], int], argv: Optional[Sequence[str]] = None) -> NoReturn:
    """Exits with `main`'s status; Ctrl-C is one line and 130, and an error `main` did not expect (a bug) is one
    line naming it and 2 rather than a traceback."""
    try:
        status = main(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`... | head`): nothing is wrong with the command, so no message; exit as a process
        # killed by SIGPIPE would, with stdout pointed at /dev/null so the interpreter's own flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_BROKEN_PIPE)
    except KeyboardInterrupt:
        print_error("interrupted")
        status = EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 - the last resort: every expected failure has its own message
        print_error(f"unexpected {type(error).__name__}: {one_line(error) or 'no message'} (a bug in securestack: "
                    f"please report it; {TRACEBACK_VARIABLE}=1 prints the traceback)")
        if os.environ.get(TRACEBACK_VARIABLE) == "1":
            traceback.print_exc()
        status = EXIT_UNUSABLE
    sys.stdout.flush()
    sys.exit(status)
