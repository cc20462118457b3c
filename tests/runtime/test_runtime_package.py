"""securestack_runtime stands alone: stdlib + boto3 only, importable from a copy outside this repository."""

import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "securestack_runtime"
REPO_PACKAGES = ("pulumi", "pulumi_aws", "pulumi_policy", "infra", "components", "policy", "lambdas",
                 "rotation_common", "tests", "moto")
PROBE = """
import sys
import securestack_runtime
from securestack_runtime import ApiKeyVerifier, KeyIdentity, WebhookSigner, WebhookVerifier
print(securestack_runtime.__file__)
print(" ".join(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_a_copy_of_the_package_imports_alone_and_pulls_in_nothing_of_this_repo(tmp_path):
    shutil.copytree(PACKAGE, tmp_path / "securestack_runtime", ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin"}, timeout=60, check=True)
    location, modules = result.stdout.splitlines()
    assert location.startswith(str(tmp_path))
    assert not set(modules.split()) & set(REPO_PACKAGES)
    assert {"boto3", "botocore"} <= set(modules.split())


def test_the_package_ships_its_type_marker_and_readme():
    assert (PACKAGE / "py.typed").exists()
    assert "ApiKeyVerifier(key_secret_ids, client=None, refresh_seconds=60)" in (PACKAGE / "README.md").read_text()
