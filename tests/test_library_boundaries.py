"""The package's dependency direction, as tests rather than conventions.

stack config -> infra/settings -> component Args -> components -> resources: nothing under components/ imports the
stack program (infra) or its settings models (pydantic); and every import of project code goes through the
`securestack` namespace, so the repository's folder names never leak into an installed site-packages.
"""
import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROJECT_PACKAGES = ("components", "infra", "policy", "lambdas")
PYTHON_FOLDERS = ("components", "infra", "policy", "securestack_runtime", "tests", "bench", "examples")
# What a component may not import: the stack program and the settings library it validates config with.
NOT_FOR_COMPONENTS = ("securestack.infra", "pydantic")


def python_files(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (REPO / folder).rglob("*.py") if ".venv" not in path.parts)


def imported_modules(path: Path, root: Path = REPO) -> list[tuple[int, str]]:
    """(line, module) of every import in the file, relative ones resolved against the file's package."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(("securestack", *path.relative_to(root).parent.parts))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                found.append((node.lineno, f"{base}.{node.module}" if node.module else base))
            else:
                found.append((node.lineno, node.module or ""))
    return found


@pytest.mark.parametrize("path", python_files("components"), ids=lambda p: str(p.relative_to(REPO)))
def test_components_never_import_the_stack_program(path):
    offending = [f"line {line}: {module}" for line, module in imported_modules(path)
                 if any(module == banned or module.startswith(f"{banned}.") for banned in NOT_FOR_COMPONENTS)]
    assert offending == [], f"{path.relative_to(REPO)} imports the stack program or its settings: {offending}"


@pytest.mark.parametrize("path", python_files(*PYTHON_FOLDERS), ids=lambda p: str(p.relative_to(REPO)))
def test_project_code_is_imported_through_the_securestack_namespace(path):
    offending = [f"line {line}: {module}" for line, module in imported_modules(path)
                 if module.split(".")[0] in PROJECT_PACKAGES]
    assert offending == [], (f"{path.relative_to(REPO)} imports a top-level project folder (use securestack.<pkg>, "
                             f"or a relative import): {offending}")


def test_the_scan_sees_a_forbidden_import(tmp_path):
    """The scanner itself: a settings import in a component file and a top-level `infra` import are both seen."""
    probe = tmp_path / "components" / "probe.py"
    probe.parent.mkdir()
    probe.write_text("from securestack.infra.settings import database\nimport infra.preview\nfrom .common import x\n")
    modules = [module for _, module in imported_modules(probe, root=tmp_path)]
    assert modules == ["securestack.infra.settings", "infra.preview", "securestack.components.common"]
