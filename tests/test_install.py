"""securestack as a library (issue 13 items 1, 3 and 6): what the two wheels hold, and a program of another team
in a fresh venv, outside the repository, using the pip-installed (not editable) components on the mock engine.

The wheels are built once per module with `pip wheel --no-deps` (the backend from pyproject's build-system, in
pip's isolated build environment: the package registry is the only network) from a copy of the checkout, so the
checkout gets no build/ or egg-info. The fresh venv (`python -m venv --without-pip`) reaches the dependencies
through a .pth line to the directories they are installed in, as /work/wt/_tools/mkvenv.sh does; securestack
itself comes only from its wheel.
"""
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path, PurePosixPath

import pytest
from packaging.requirements import Requirement

from securestack.components.rotation import build_archive

REPO = Path(__file__).resolve().parents[1]
PROGRAM = Path(__file__).parent / "support" / "library_program.py"
MOCKS = Path(__file__).parent / "support" / "library_mocks.py"
ROOT_PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
RUNTIME_PROJECT = tomllib.loads((REPO / "securestack_runtime" / "pyproject.toml").read_text(encoding="utf-8"))
KINDS = ("api_key_rotation", "webhook_secret_rotation", "postgres_user_rotation")
# What a copy of the checkout leaves out: VCS data, environments, build output, caches.
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache")
TIMEOUT = 300


def run(command: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=TIMEOUT,
                            **kwargs)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> dict[str, Path]:
    """distribution name -> its wheel, built from a copy of the checkout."""
    copy = tmp_path_factory.mktemp("checkout") / "securestack"
    shutil.copytree(REPO, copy, ignore=NOT_SOURCE, symlinks=True)
    dist = copy.parent / "dist"
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--disable-pip-version-check", "-w", dist,
         copy, copy / "securestack_runtime"])
    built = {}
    for wheel in dist.glob("*.whl"):
        built[wheel.name.split("-")[0].replace("_", "-")] = wheel
    assert set(built) == {"securestack", "securestack-runtime"}, built
    return built


def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def wheel_metadata(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return Parser().parsestr(archive.read(name).decode())


def source_files(folder: Path) -> set[PurePosixPath]:
    return {PurePosixPath(p.relative_to(folder).as_posix()) for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


# ---------------------------------------------------------------------------------------------------------------
# The securestack wheel
# ---------------------------------------------------------------------------------------------------------------

def test_the_wheel_ships_every_module_of_the_mapped_folders_under_securestack(wheels):
    names = wheel_names(wheels["securestack"])
    package_dirs = ROOT_PROJECT["tool"]["setuptools"]["package-dir"]
    expected = {f"{package.replace('.', '/')}/{relative}" for package, folder in package_dirs.items()
                for relative in source_files(REPO / folder) if relative.suffix == ".py"}
    shipped = {name for name in names if name.endswith(".py")}
    assert shipped == expected, (sorted(expected - shipped)[:5], sorted(shipped - expected)[:5])
    top_level = {name.split("/", 1)[0] for name in names}
    assert top_level == {"securestack", f"securestack-{ROOT_PROJECT['project']['version']}.dist-info"}
    assert "securestack/__init__.py" not in names  # a namespace: other distributions may add securestack.*


def test_the_wheel_ships_the_lambda_data_the_policy_pack_and_the_type_markers(wheels):
    names = wheel_names(wheels["securestack"])
    for required in ("securestack/components/py.typed", "securestack/infra/py.typed", "securestack/policy/py.typed",
                     "securestack/policy/PulumiPolicy.yaml", "securestack/policy/CONTROLS.md",
                     "securestack/policy/__main__.py",
                     "securestack/lambdas/postgres_user_rotation/VENDOR",
                     "securestack/lambdas/postgres_user_rotation/rds-global-bundle.pem"):
        assert required in names, required
    # Every file of a Lambda kind's folder ships: the archive built from the install must be the repo's.
    for kind in (*KINDS, "rotation_common"):
        for relative in source_files(REPO / "lambdas" / kind):
            assert f"securestack/lambdas/{kind}/{relative}" in names, relative


def test_the_wheel_metadata_is_the_pyproject(wheels):
    metadata = wheel_metadata(wheels["securestack"])
    project = ROOT_PROJECT["project"]
    assert metadata["Name"] == "securestack" and metadata["Version"] == project["version"]
    assert metadata["License-Expression"] == "Apache-2.0"
    assert {str(Requirement(r)) for r in metadata.get_all("Requires-Dist") if "extra ==" not in r} == \
        {str(Requirement(r)) for r in project["dependencies"]}
    with zipfile.ZipFile(wheels["securestack"]) as archive:
        [license_file] = [n for n in archive.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        assert archive.read(license_file) == (REPO / "LICENSE").read_bytes()


# ---------------------------------------------------------------------------------------------------------------
# The securestack-runtime wheel
# ---------------------------------------------------------------------------------------------------------------

def test_the_runtime_wheel_is_the_runtime_package_alone(wheels):
    names = wheel_names(wheels["securestack-runtime"])
    package = {name for name in names if not name.split("/", 1)[0].endswith(".dist-info")}
    expected = {f"securestack_runtime/{relative}" for relative in source_files(REPO / "securestack_runtime")
                if relative.suffix == ".py" or relative.name == "py.typed"}
    assert package == expected
    with zipfile.ZipFile(wheels["securestack-runtime"]) as archive:
        [license_file] = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        assert archive.read(license_file) == (REPO / "LICENSE").read_bytes()


def test_the_runtime_depends_on_boto3_alone_with_the_root_range(wheels):
    """No Pulumi, nothing else of securestack; boto3's range is the one the root pyproject.toml declares."""
    metadata = wheel_metadata(wheels["securestack-runtime"])
    [boto3] = [Requirement(r) for r in metadata.get_all("Requires-Dist")]
    [root_boto3] = [Requirement(r) for r in ROOT_PROJECT["project"]["dependencies"] if Requirement(r).name == "boto3"]
    assert boto3.name == "boto3" and boto3.specifier == root_boto3.specifier
    [declared] = [Requirement(r) for r in RUNTIME_PROJECT["project"]["dependencies"]]
    assert declared.name == "boto3" and declared.specifier == root_boto3.specifier
    assert metadata["Version"] == ROOT_PROJECT["project"]["version"]
    assert metadata["License-Expression"] == "Apache-2.0"


# ---------------------------------------------------------------------------------------------------------------
# A fresh venv and a program of another team
# ---------------------------------------------------------------------------------------------------------------

def dependency_dirs() -> list[str]:
    """Where this environment's copies of securestack's dependencies (and theirs) are installed; never the
    repository's source folders (an editable securestack's metadata may sit there too: it is not imported)."""
    dirs, pending, seen = [], [Requirement(r).name for r in ROOT_PROJECT["project"]["dependencies"]], set()
    while pending:
        name = pending.pop()
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # an optional dependency of a dependency, not installed here
        location = str(Path(str(distribution.locate_file(""))).resolve())
        if location not in dirs:
            dirs.append(location)
        pending += [Requirement(r).name for r in distribution.requires or [] if "extra ==" not in r]
    return dirs


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory, wheels) -> Path:
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    Path(site, "zz_dependencies.pth").write_text("\n".join(dependency_dirs()) + "\n")
    # This environment's pip, installing into the fresh venv's interpreter (pip's --python option).
    run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index",
         "--disable-pip-version-check", wheels["securestack"]])
    return venv


def outside_the_checkout(entry: str) -> bool:
    """A sys.path entry that gives nothing of the repository: not the checkout or any folder of it except its
    .venv (where CI's dependencies are installed)."""
    path = Path(entry or ".").resolve()
    return not (path == REPO or (REPO in path.parents and (REPO / ".venv") not in [path, *path.parents]))


def clean_environment(cache: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/"), "SECURESTACK_CACHE_DIR":
            str(cache), "PYTHONNOUSERSITE": "1"}


def test_a_program_outside_the_repo_registers_the_installed_components(fresh_venv, tmp_path):
    program_dir = tmp_path / "platform-team"
    program_dir.mkdir()
    shutil.copy(PROGRAM, program_dir / "__main__.py")
    shutil.copy(MOCKS, program_dir / "library_mocks.py")
    result = run([fresh_venv / "bin" / "python", "__main__.py"], cwd=program_dir,
                 env=clean_environment(tmp_path / "cache"))
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert all(outside_the_checkout(entry) for entry in report["sys_path"]), report["sys_path"]
    assert Path(report["components_file"]).resolve().is_relative_to(fresh_venv.resolve())
    outputs = report["outputs"]
    assert outputs["database_endpoint"].endswith(":5432") and outputs["database_port"] == 5432
    assert outputs["database_arn"].startswith("arn:aws:")
    assert outputs["edge_dns_name"].endswith(".elb.amazonaws.com")
    assert outputs["edge_https_listener_arn"].startswith("arn:aws:")


def test_the_installed_package_builds_the_repos_archives_byte_for_byte(fresh_venv, tmp_path):
    probe = ("import json, sys; from securestack.components.rotation import LAMBDAS_ROOT, build_archive; "
             "print(json.dumps({'root': str(LAMBDAS_ROOT), 'archives': {k: [str(a.path), a.sha256] for k in "
             "sys.argv[1:] for a in [build_archive(k)]}}))")
    cache = tmp_path / "installed-cache"
    result = run([fresh_venv / "bin" / "python", "-c", probe, *KINDS], cwd=tmp_path, env=clean_environment(cache))
    report = json.loads(result.stdout)
    assert Path(report["root"]).is_relative_to(fresh_venv.resolve())
    for kind in KINDS:
        path, sha256 = report["archives"][kind]
        assert sha256 == build_archive(kind, cache_dir=tmp_path / "repo-cache").sha256, kind
        assert Path(path).parent == cache.resolve() / "lambda"


def test_the_installed_policy_pack_is_complete(fresh_venv):
    purelib = sysconfig.get_paths(vars={"base": str(fresh_venv), "platbase": str(fresh_venv)})["purelib"]
    pack = Path(purelib) / "securestack" / "policy"
    assert (pack / "PulumiPolicy.yaml").is_file() and (pack / "__main__.py").is_file()
    probe = "from securestack.policy.policies import POLICIES; print(len(POLICIES))"
    result = run([fresh_venv / "bin" / "python", "-c", probe], cwd="/", env=clean_environment(Path("/nonexistent")))
    assert int(result.stdout) > 0


def readme_example() -> str:
    """The Python example of README's "Use the components in your own program" section."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Use the components in your own program\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_readmes_example_runs_from_the_install(fresh_venv, tmp_path):
    """README's example as the body of a mock-engine run; its placeholder key ARNs made whole."""
    key = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    example = readme_example().replace("arn:aws:kms:us-east-1:123456789012:key/...", key)
    body = "\n".join("    " + line for line in example.splitlines())
    program = (f"import library_mocks\nimport pulumi\n\n\n@pulumi.runtime.test\ndef example():\n{body}\n"
               "    return database.endpoint.apply(lambda endpoint: print('endpoint', endpoint))\n\n\nexample()\n")
    (tmp_path / "__main__.py").write_text(program)
    shutil.copy(MOCKS, tmp_path / "library_mocks.py")
    result = run([fresh_venv / "bin" / "python", "__main__.py"], cwd=tmp_path, env=clean_environment(tmp_path / "c"))
    assert result.stdout.strip().splitlines()[-1].endswith(":5432")
