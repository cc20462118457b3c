"""A copy of the project that runs its own code: for tests that break or change code or stack files in a copy."""
import os
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NOT_COPIED = {".git", ".venv", "tests", "bench", "build", "__pycache__", ".pytest_cache"}


def copy_project(destination: Path) -> Path:
    shutil.copytree(REPO, destination, ignore=lambda _, names: [n for n in names if n in NOT_COPIED])
    return destination


def importable_copy(root: Path) -> Path:
    """A directory that, first on PYTHONPATH, makes a project copy's folders the `securestack` packages: the venv's
    editable install maps them to this checkout, and its finder comes after the path entries on sys.meta_path."""
    shim = root / ".import"
    if not shim.exists():
        (shim / "securestack").mkdir(parents=True)
        for package in ("components", "infra", "policy", "lambdas"):
            (shim / "securestack" / package).symlink_to(root / package, target_is_directory=True)
    return shim


def clean_environment(*python_path: str) -> dict[str, str]:
    """Only the given PYTHONPATH: a project copy must run its own code, not this checkout's (unless a test shadows a
    package)."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if python_path:
        environment["PYTHONPATH"] = os.pathsep.join(python_path)
    return environment
