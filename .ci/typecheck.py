"""Strict type check ([tool.mypy] in pyproject.toml) of the packages as they are installed.

mypy resolves imports from paths and cannot follow setuptools' editable finder (an import hook), and the
folders' names (components/, infra/, ...) are not the modules' names (securestack.components, ...). So this
lays [tool.setuptools] package-dir out as symlinks under build/typecheck/ (securestack/components ->
components/, ...) and puts that tree on MYPYPATH: every `securestack.*` import resolves to the same file it
imports once installed. The tree's place is fixed so mypy's cache stays valid between runs, and error lines
are printed with the repository's own paths (components/x.py, not build/typecheck/securestack/components/x.py).
"""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "build" / "typecheck"


def package_folders() -> dict[str, str]:
    """The package-dir mapping of pyproject.toml: dotted package name -> folder relative to the root."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    mapping: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    return mapping


def lay_out_tree(mapping: dict[str, str]) -> dict[str, str]:
    """Symlink each mapped package to its folder; returns tree prefix -> repository prefix for error lines."""
    prefixes = {}
    for package, folder in mapping.items():
        link = TREE.joinpath(*package.split("."))
        target = ROOT / folder
        if not (link.is_symlink() and link.readlink() == target):
            link.parent.mkdir(parents=True, exist_ok=True)
            link.unlink(missing_ok=True)
            link.symlink_to(target, target_is_directory=True)
        prefixes[f"{link.relative_to(ROOT)}/"] = f"{folder}/"
    return prefixes


def main() -> int:
    prefixes = lay_out_tree(package_folders())
    environment = dict(os.environ, MYPYPATH=str(TREE))
    result = subprocess.run(
        [sys.executable, "-m", "mypy", *sys.argv[1:]],
        cwd=ROOT, env=environment, capture_output=True, text=True, check=False,
    )
    for stream, text in ((sys.stdout, result.stdout), (sys.stderr, result.stderr)):
        for prefix, folder in prefixes.items():
            text = text.replace(prefix, folder)
        stream.write(text)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
