"""Entry point `pulumi up` runs (Pulumi.yaml: main: infra/).

The engine runs this file by path, so nothing relative to it is importable; the program comes from the installed
`securestack` distribution (requirements.txt installs this checkout, editable, into the project's .venv).

The Pulumi CLI's Python language host runs it with a resource monitor to register with (pulumi-language-python-exec
passes `--monitor` to pulumi.runtime.configure); Pulumi's mock engine (set_mocks) sets one too. Run directly
(`python -m infra`, `python -m securestack.infra`) there is none, and the program cannot run: one line and exit 2.
Under the engine, settings problems end the program as a `pulumi.RunError`, which pulumi-language-python-exec logs
as its message alone ("a clean exit rather than the usual verbose unhandled error logic": pulumi/errors.py), not as
"Program failed with an unhandled exception" and a traceback.
"""
import sys

import pulumi
from pulumi.runtime.settings import get_monitor

from securestack.components import cli

if get_monitor() is None:
    cli.print_error("the stack program runs under the Pulumi engine: `pulumi preview --stack <stack>` / `pulumi up "
                    "--stack <stack>`, or offline `.venv/bin/python -m infra.preview <stack>`")
    sys.exit(cli.EXIT_UNUSABLE)

from securestack.infra.program import build  # noqa: E402 - only with an engine to register with
from securestack.infra.settings import SettingsError  # noqa: E402

try:
    build()
except SettingsError as error:
    raise pulumi.RunError(f"stack '{pulumi.get_stack()}': {error}") from None
