"""One version (issue 13 item 6): pyproject.toml's `version`, semver, read at run time through importlib.metadata;
the policy pack, the runtime distribution and CHANGELOG.md follow it; LICENSE is Apache-2.0."""
import importlib.metadata
import re
import tomllib
from pathlib import Path

import yaml

from securestack.policy.harness import PACK_DIR, pack_version

REPO = Path(__file__).resolve().parents[1]
# semver.org's regular expression for a version (2.0.0), without build metadata.
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
                    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?$")
# Keep a Changelog 1.1.0: "## [x.y.z] - YYYY-MM-DD" per release, newest first, after an "## [Unreleased]".
RELEASE_HEADING = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?$", re.MULTILINE)


def project_version(pyproject: Path = REPO / "pyproject.toml") -> str:
    return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]


def test_the_version_is_semver_and_the_installed_metadata_reports_it():
    version = project_version()
    assert SEMVER.match(version), version
    # What code reads at run time; an editable install whose metadata is stale fails here (reinstall it).
    assert importlib.metadata.version("securestack") == version


def test_the_policy_pack_version_follows_the_package():
    document = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text(encoding="utf-8"))
    assert str(document["version"]) == project_version()
    assert pack_version() == project_version()  # what the harness reports as `securestack@v<version>`


def test_the_runtime_distribution_has_the_same_version():
    assert project_version(REPO / "securestack_runtime" / "pyproject.toml") == project_version()


def test_the_changelog_releases_this_version_first_and_every_release_once():
    text = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = RELEASE_HEADING.findall(text)
    assert headings[0] == ("Unreleased", "")
    released = [version for version, _ in headings[1:]]
    assert released[0] == project_version() and len(released) == len(set(released))
    assert all(SEMVER.match(version) for version in released), released
    as_tuples = [tuple(int(part) for part in version.split("-")[0].split(".")) for version in released]
    assert as_tuples == sorted(as_tuples, reverse=True), "newest release first"
    assert all(date for _, date in headings[1:]), "every release is dated"


def test_the_license_is_apache_2():
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"] == "Apache-2.0"
