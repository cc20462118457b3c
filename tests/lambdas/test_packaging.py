"""Each kind works from its Lambda archive layout, imports only what the archive carries, and
reads its configuration (endpoint, CA bundle) from the environment.

The archive (built by the infrastructure) = the files of lambdas/<kind>/ at the root +
rotation_common/ as a package at the root + the distributions listed in VENDOR; boto3 comes
from the Lambda runtime.
"""

import importlib.metadata
import json
import re
import subprocess
import sys

import pytest

from tests.lambdas.harness import LAMBDAS_DIR, archive_tree, code_size

KINDS = ("api_key_rotation", "webhook_secret_rotation", "postgres_user_rotation")
# Every Lambda the stack packages: the rotators and the daily secret age function (issue 15).
FUNCTIONS = (*KINDS, "secret_age")
# boto3 and what it pulls in (certifi: used by botocore when installed), from the Lambda runtime.
RUNTIME_PROVIDED = {"boto3", "botocore", "jmespath", "s3transfer", "dateutil", "urllib3", "six", "certifi"}
# Top-level modules of the vendored distributions (pg8000 and its dependencies).
VENDORED_MODULES = {"pg8000": {"pg8000", "scramp", "asn1crypto", "dateutil", "six"}}
CODE_SIZE_LIMIT = 50 * 1024


def vendored(kind):
    path = LAMBDAS_DIR / kind / "VENDOR"
    if not path.exists():
        return []
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


IMPORT_PROBE = """
import json, sys
import handler
assert callable(handler.lambda_handler)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


@pytest.mark.parametrize("kind", FUNCTIONS)
def test_handler_imports_from_the_archive_layout_and_needs_only_what_it_carries(kind, tmp_path):
    root = archive_tree(kind, tmp_path / "archive")
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE], cwd=root, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}
    )
    assert result.returncode == 0, result.stderr[-2000:]
    modules = set(json.loads(result.stdout))
    own = {"handler", "rotation_common", "database", "clients"}  # clients: the secret age function's CloudWatch
    third_party = {m for m in modules - own - set(sys.stdlib_module_names) if not m.startswith("_")}
    allowed = set(RUNTIME_PROVIDED)
    for distribution in vendored(kind):
        allowed |= VENDORED_MODULES[distribution]
    assert third_party <= allowed, sorted(third_party - allowed)


@pytest.mark.parametrize(("kind", "carried", "left_out"), [
    ("api_key_rotation", {"verifier_record", "standalone"}, {"consumers"}),
    ("webhook_secret_rotation", {"standalone"}, {"verifier_record", "consumers"}),
    ("postgres_user_rotation", {"consumers"}, {"verifier_record", "standalone"}),
])
def test_each_archive_carries_only_the_shared_modules_its_kind_imports(kind, carried, left_out):
    """Issue 12: the verifier record code ships with the API key rotator only, the ECS redeploy with the database
    login's only; the import probe above proves what is carried is enough."""
    from tests.lambdas.harness import archive_sources

    modules = {name[len("rotation_common/"):-len(".py")] for name in archive_sources(kind)
               if name.startswith("rotation_common/")}
    assert carried <= modules and not left_out & modules
    assert {"__init__", "protocol", "metadata", "clients", "logging_json", "values"} <= modules


def test_the_secret_age_archive_carries_its_handler_and_only_the_logging_it_imports():
    """It never rotates: none of the rotation protocol, tag metadata or value handling rides along (values.py only
    for the log's error description)."""
    from tests.lambdas.harness import archive_sources

    assert set(archive_sources("secret_age")) == {
        "handler.py", "clients.py", "rotation_common/__init__.py", "rotation_common/clients.py",
        "rotation_common/logging_json.py", "rotation_common/values.py"}
    assert vendored("secret_age") == []


def test_vendor_lists_name_installed_distributions_and_never_boto3():
    assert vendored("postgres_user_rotation") == ["pg8000"]
    assert vendored("api_key_rotation") == vendored("webhook_secret_rotation") == []
    for kind in KINDS:
        for distribution in vendored(kind):
            assert distribution not in {"boto3", "botocore"}
            importlib.metadata.distribution(distribution)  # raises if not installed


@pytest.mark.parametrize("kind", ["api_key_rotation", "webhook_secret_rotation"])
def test_key_and_webhook_rotators_stay_under_50_kb_of_code(kind):
    assert code_size(kind) < CODE_SIZE_LIMIT


# An `if TYPE_CHECKING:` block (boto3-stubs' client types, for mypy) never runs: its imports are not the runtime's.
_TYPE_CHECKING_BLOCK = re.compile(r"^if TYPE_CHECKING:.*\n(?:(?:[ \t]+.*)?\n)*", flags=re.MULTILINE)


def test_rotation_common_imports_only_stdlib_and_boto3():
    allowed = set(sys.stdlib_module_names) | {"boto3", "botocore", "rotation_common"}
    for path in (LAMBDAS_DIR / "rotation_common").glob("*.py"):
        runtime_text = _TYPE_CHECKING_BLOCK.sub("", path.read_text())
        imported = set(re.findall(r"^\s*(?:import|from)\s+(\w+)", runtime_text, flags=re.MULTILINE))
        assert imported <= allowed, (path.name, sorted(imported - allowed))


def test_packaged_rds_ca_bundle_is_a_list_of_ca_certificates():
    from cryptography import x509

    from postgres_user_rotation import database

    certificates = x509.load_pem_x509_certificates(database.PACKAGED_CA_BUNDLE.read_bytes())
    assert len(certificates) >= 20
    for certificate in certificates:
        assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert "Amazon RDS" in certificate.subject.rfc4514_string()


def test_postgres_tls_defaults_to_the_packaged_bundle_and_verifies_host_names(monkeypatch):
    import ssl

    from postgres_user_rotation import database

    monkeypatch.delenv("PG_CA_BUNDLE", raising=False)
    context = database.tls_context()
    bundle_size = len(ssl.create_default_context(cafile=str(database.PACKAGED_CA_BUNDLE)).get_ca_certs())
    assert len(context.get_ca_certs()) == bundle_size
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_secrets_manager_endpoint_comes_from_the_environment(rotation, monkeypatch):
    from rotation_common.protocol import secretsmanager_client

    monkeypatch.setenv("SECRETS_MANAGER_ENDPOINT", "https://vpce-0abc.secretsmanager.eu-west-1.vpce.amazonaws.com")
    assert secretsmanager_client().meta.endpoint_url == "https://vpce-0abc.secretsmanager.eu-west-1.vpce.amazonaws.com"
    monkeypatch.delenv("SECRETS_MANAGER_ENDPOINT")
    assert secretsmanager_client().meta.endpoint_url == "https://secretsmanager.eu-west-1.amazonaws.com"
