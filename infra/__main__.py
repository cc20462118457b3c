"""Entry point `pulumi up` runs (Pulumi.yaml: main: infra/)."""
import pathlib
import sys

# The engine runs this file by path; the project root holds the `infra` and `components` packages.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from infra.program import build  # noqa: E402

build()
