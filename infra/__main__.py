"""Entry point `pulumi up` runs (Pulumi.yaml: main: infra/).

The engine runs this file by path, so nothing relative to it is importable; the program comes from the installed
`securestack` distribution (requirements.txt installs this checkout, editable, into the project's .venv).
"""
from securestack.infra.program import build

build()
