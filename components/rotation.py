"""RotationFunction: one Secrets Manager rotation Lambda per kind of secret, packaged deterministically.

The archive of a kind is built in memory from the installed package data `securestack.lambdas.<kind>` (at the zip
root; from the checkout or from a site-packages alike), the modules of `securestack.lambdas.rotation_common` the
kind imports (as the `rotation_common` package; e.g. the webhook rotator carries neither the API key verifier
record nor the ECS redeploy) and the distributions named in the kind's `VENDOR` with their dependencies, copied
from the installed environment. Entries are sorted and carry fixed timestamps and permissions, so the same source
gives the same bytes wherever the package is installed. The bytes are written to a per-user cache outside the
package (`archive_cache_dir()`), under a name keyed by their sha256 (an index keyed by the digest of every input
lets a later run take them from there unbuilt, after checking that sha256: `build_archive`), because Pulumi's Python SDK hands the engine
an asset only as a file path, a text string or a URI (pulumi/asset.py: FileAsset, StringAsset, RemoteAsset; no
bytes asset) and a zip is not text. The cache's location never reaches the provider: the Terraform bridge gives the
AWS provider a copy named by the asset's content hash (pulumi-terraform-bridge pkg/tfbridge/info/assets.go,
translateToFile: `$TMPDIR/pulumi-asset-<hash>`), so `pulumi up` sees no change when nothing changed, whichever
machine or cache built the archive. The function deploys the copy AWS Signer signed (components/code_signing.py),
never the local archive, and its code-signing configuration refuses anything else.
"""
import base64
import contextvars
import dis
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import sys
import tempfile
import types
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws
from packaging.requirements import Requirement

from .args import as_args, check_all
from .code_signing import CodeSigningTarget, SignedCode, signed_code
from .common import (aws_identity, combined, concatenated, encrypted_log_group, formatted, policy_json, renamed_from,
                     service_assume_role_policy)

COMMON_PACKAGE = "rotation_common"
LAMBDAS_PACKAGE = "securestack.lambdas"


def _lambdas_root() -> Path:
    """Where `securestack.lambdas` is installed (the checkout's lambdas/ in an editable install).

    Found from a regular subpackage's spec: `securestack.lambdas` itself is a namespace package, whose editable
    mapping lists no directory. find_spec imports the parents only (namespaces), never the Lambda code.
    """
    spec = importlib.util.find_spec(f"{LAMBDAS_PACKAGE}.{COMMON_PACKAGE}")
    if spec is None or spec.origin is None:
        raise RuntimeError(f"{LAMBDAS_PACKAGE}.{COMMON_PACKAGE} is not installed: reinstall securestack")
    return Path(spec.origin).resolve().parent.parent


LAMBDAS_ROOT = _lambdas_root()
# The archive cache: this variable, else $XDG_CACHE_HOME/securestack, else ~/.cache/securestack (XDG Base
# Directory Specification: a relative XDG_CACHE_HOME is ignored). Never inside the installed package.
CACHE_DIR_VARIABLE = "SECURESTACK_CACHE_DIR"
ARCHIVE_CACHE_SUBDIR = "lambda"
VENDOR_MANIFEST = "VENDOR"
HANDLER = "handler.lambda_handler"
# In botocore's lambda Runtime enum and supported by AWS until 2029 (python3.12: 2028).
RUNTIME = "python3.13"
RUNTIME_PYTHON_VERSION = "3.13"
ARCHITECTURE = "arm64"  # the code and its vendored distributions are pure Python
POSTGRES_PORT = 5432
HTTPS_PORT = 443
# The JSON line the rotator logs when the consuming service's redeployment fails (lambdas/rotation_common/
# consumers.py); a CloudWatch Logs JSON filter pattern on the function's log group counts it. A metric filter, not
# PutMetricData from the function: that would need a `monitoring` VPC endpoint.
REDEPLOY_FAILED_OUTCOME = "redeploy-failed"
# The operator CLI tags a secret with it before RotateSecret; the rotator's finishSecret removes it (contract12).
REVOKE_PREVIOUS_TAG = "securestack:revoke-previous"
VERIFIER_RECORD_KIND = "api-key-verifier"
VERIFIER_RECORD_PATH = "api-key-verifiers"
REDEPLOY_FAILURE_PATTERN = f'{{ $.outcome = "{REDEPLOY_FAILED_OUTCOME}" }}'
ALARM_PERIOD_SECONDS = 300
TIMEOUT_SECONDS = 60
MEMORY_MB = 256
# Traces leave through the function's network interface: the stack adds an X-Ray endpoint (infra/endpoints.py).
TRACING_MODE = "Active"
# Where Lambda unpacks the archive: the CA bundle shipped beside the Postgres handler.
PACKAGE_ROOT_AT_RUNTIME = "/var/task"
CA_BUNDLE_FILE = "rds-global-bundle.pem"

_FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can carry
# zlib's default level. Level 9 made the Postgres archive (pg8000 and its dependencies vendored) 0.7 % smaller for
# twice the compression CPU, the largest fixed cost of a dev preview's program (issue 16, target 1). The bytes depend
# only on the level and the sources, so they stay reproducible; changing the level changes them once (one Lambda
# code update and one signing job per rotator at the next `pulumi up`).
_COMPRESS_LEVEL = 6
_FILE_MODE = 0o100644 << 16  # regular file, rw-r--r--, whatever the checkout's umask
_SKIPPED_DIRECTORIES = {"__pycache__", "tests", "test"}
_SKIPPED_SUFFIXES = (".pyc", ".pyo")
# Install-time records: they differ between installers and machines and nothing reads them at run time.
_SKIPPED_DIST_INFO = {"INSTALLER", "REQUESTED", "RECORD", "direct_url.json"}
# What the Lambda Python runtime already carries: "The Lambda Python runtimes include the AWS SDK for Python (Boto3)
# and its dependencies" (AWS Lambda Developer Guide, "Building Lambda functions with Python", Runtime-included SDK
# versions), i.e. boto3's install closure: botocore, jmespath, s3transfer, urllib3, python-dateutil and six. The same
# page warns that packaging an SDK dependency misaligns it with the runtime's SDK, so a vendored distribution that
# needs one (pg8000 needs python-dateutil) takes the runtime's copy; tests/test_rotation_function.py imports each
# handler from its unzipped archive with only these beside it.
LAMBDA_RUNTIME_DISTRIBUTIONS = frozenset({"boto3", "botocore", "jmespath", "s3transfer", "urllib3", "python-dateutil",
                                          "six"})
_MARKER_ENVIRONMENT = {"python_version": RUNTIME_PYTHON_VERSION, "python_full_version": f"{RUNTIME_PYTHON_VERSION}.0",
                       "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
                       "platform_machine": "aarch64", "implementation_name": "cpython",
                       "platform_python_implementation": "CPython", "extra": ""}


# ---------------------------------------------------------------------------------------------------------------
# Packaging
# ---------------------------------------------------------------------------------------------------------------

class ArchiveCacheError(RuntimeError):
    """The archive cache cannot be used; the message is one line naming the directory and how to choose another."""


def archive_cache_dir() -> Path:
    """The directory archives are written to, read from the environment when called (absolute)."""
    override = os.environ.get(CACHE_DIR_VARIABLE, "").strip()
    if override:
        base = Path(override).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / "securestack"
    directory = base.resolve() / ARCHIVE_CACHE_SUBDIR
    package = LAMBDAS_ROOT.parent
    if directory == package or package in directory.parents:
        raise ArchiveCacheError(f"{CACHE_DIR_VARIABLE}: {directory} is inside the installed package {package}; "
                                "choose a directory outside it")
    return directory


@dataclass(frozen=True)
class LambdaArchive:
    """A built archive: its cached file, its sha256 (hex, and base64 as Lambda's `source_code_hash` wants it)."""

    kind: str
    path: Path
    sha256: str
    source_code_hash: str
    entries: tuple[str, ...]


def _packaged(relative: PurePosixPath) -> bool:
    return not (_SKIPPED_DIRECTORIES.intersection(relative.parts[:-1]) or relative.name in _SKIPPED_DIRECTORIES
                or relative.suffix in _SKIPPED_SUFFIXES)


def _tree_files(root: Path, prefix: str) -> Iterator[tuple[str, Path]]:
    for path in sorted(root.rglob("*")):
        relative = PurePosixPath(path.relative_to(root).as_posix())
        if path.is_file() and _packaged(relative):
            yield f"{prefix}{relative}", path


def _kind_files(kind_dir: Path) -> Iterator[tuple[str, Path]]:
    # The kind's own files sit at the zip root; its package marker and the build manifest are not code there.
    for name, path in _tree_files(kind_dir, ""):
        if name not in (VENDOR_MANIFEST, "__init__.py"):
            yield name, path


def _common_imports(path: Path) -> set[str]:
    """The rotation_common modules a source file imports (`from rotation_common import x`, `rotation_common.x`).

    Read from the compiled bytecode's import instructions, not with `ast.parse`: on CPython 3.11.7 (this
    project's machines) `ast.parse` on Pulumi's worker thread while another thread converts an AST (pytest
    rewriting a module) failed at random in CI with "AST constructor recursion depth mismatch" (the AST
    converter's recursion counter is shared, the bug tracked as cpython#106905); compile() never builds AST objects.
    """
    text = path.read_text(encoding="utf-8")
    scanned = _SCANNED_IMPORTS.get(None)
    if scanned is None:
        _SCANNED_IMPORTS.set(scanned := {})
    key = (str(path), text)
    if key not in scanned:
        scanned[key] = frozenset(_scan_common_imports(text, path))
    return set(scanned[key])


# What `_common_imports` found per (file, exact source text) during one program run: the rotators and the secret age
# function share rotation_common's modules, and compiling them once per kind was half of building the four archives
# (issue 16). Scoped to the context the program runs in (pulumi runs a program once per process; infra/recording.py
# runs each in a fresh contextvars.Context), so every run pays for its own scan, as a real `pulumi preview` does,
# and a file changed between runs is scanned again (its text is part of the key).
_SCANNED_IMPORTS: contextvars.ContextVar[dict[tuple[str, str], frozenset[str]]] = \
    contextvars.ContextVar("securestack_scanned_common_imports")


def _scan_common_imports(text: str, path: Path) -> set[str]:
    code = compile(text, str(path), "exec", dont_inherit=True)
    found: set[str] = set()
    for code_object in _code_objects(code):
        module = None
        for opcode, name in _import_instructions(code_object):
            if opcode == _IMPORT_NAME:
                module = name
                names = [module]
            elif module:
                names = [f"{module}.{name}"]
            else:
                continue
            found.update(name.split(".")[1] for name in names
                         if name.startswith(f"{COMMON_PACKAGE}.") and name.count(".") == 1)
    return found


_IMPORT_NAME, _IMPORT_FROM, _EXTENDED_ARG = dis.opmap["IMPORT_NAME"], dis.opmap["IMPORT_FROM"], dis.opmap["EXTENDED_ARG"]


def _import_instructions(code: types.CodeType) -> Iterator[tuple[int, str]]:
    """(opcode, name) of the IMPORT_NAME / IMPORT_FROM instructions of `code`, read from its raw bytecode: what
    `dis.get_instructions` reports for them (both name `co_names[arg]`), without building an Instruction for every
    instruction, which was a tenth of the dev stack program's CPU (issue 16). Instructions are two bytes, opcode
    and argument, wider arguments prefixed by EXTENDED_ARG; inline caches are CACHE (0) instructions."""
    raw, extended = code.co_code, 0
    for offset in range(0, len(raw), 2):
        opcode, argument = raw[offset], raw[offset + 1] | extended
        extended = argument << 8 if opcode == _EXTENDED_ARG else 0
        if opcode in (_IMPORT_NAME, _IMPORT_FROM):
            yield opcode, code.co_names[argument]


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    """A module's code and every function or class body nested in it (imports may sit inside functions)."""
    yield code
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from _code_objects(constant)


def _common_files(kind_dir: Path, common_dir: Path) -> Iterator[tuple[str, Path]]:
    """rotation_common's package marker and the modules the kind's code needs, transitively: the least code."""
    needed, pending = set(), set().union(*(_common_imports(p) for p in sorted(kind_dir.glob("*.py"))))
    while pending:
        module = pending.pop()
        path = common_dir / f"{module}.py"
        if module in needed or not path.is_file():
            continue  # `from rotation_common import metadata` names a module; other names are attributes
        needed.add(module)
        pending |= _common_imports(path)
    for name in ["__init__", *sorted(needed)]:
        yield f"{COMMON_PACKAGE}/{name}.py", common_dir / f"{name}.py"


def vendored_names(kind_dir: Path) -> list[str]:
    manifest = kind_dir / VENDOR_MANIFEST
    if not manifest.exists():
        return []
    lines = (line.split("#", 1)[0].strip() for line in manifest.read_text().splitlines())
    return [line for line in lines if line]


def _runtime_requirements(distribution: importlib.metadata.Distribution) -> list[str]:
    """Names of the distribution's dependencies on the Lambda runtime (extras and other platforms left out)."""
    names = []
    for text in distribution.requires or []:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate(_MARKER_ENVIRONMENT):
            names.append(requirement.name)
    return names


def _distribution_key(name: str) -> str:
    return name.lower().replace("_", "-")


def distribution_closure(names: Sequence[str]) -> list[importlib.metadata.Distribution]:
    """The named distributions and everything they depend on, each once, as installed in this environment, less
    what the Lambda runtime provides (LAMBDA_RUNTIME_DISTRIBUTIONS: never packaged, nor followed)."""
    found: dict[str, importlib.metadata.Distribution] = {}
    pending = list(names)
    while pending:
        name = pending.pop()
        key = _distribution_key(name)
        if key in found or key in LAMBDA_RUNTIME_DISTRIBUTIONS:
            continue
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise RuntimeError(f"'{name}' is vendored into a rotation function but not installed: "
                               "pip install -r requirements.txt") from None
        found[key] = distribution
        pending.extend(_runtime_requirements(distribution))
    return [found[key] for key in sorted(found)]


def _distribution_files(distribution: importlib.metadata.Distribution) -> Iterator[tuple[str, Path]]:
    for file in distribution.files or []:
        relative = PurePosixPath(file.as_posix())
        if relative.parts[0] == ".." or not _packaged(relative):
            continue  # scripts and data installed outside site-packages are not importable code
        if relative.parts[0].endswith(".dist-info") and relative.name in _SKIPPED_DIST_INFO:
            continue
        yield str(relative), Path(str(distribution.locate_file(file)))


def _kind_dir(kind: str, lambdas_root: Path) -> Path:
    kind_dir = lambdas_root / kind
    if not (kind_dir / "handler.py").is_file():
        raise FileNotFoundError(f"{kind_dir}/handler.py is missing: no rotation function to package")
    return kind_dir


def archive_sources(kind: str, lambdas_root: Path = LAMBDAS_ROOT) -> dict[str, Path]:
    """Zip entry name -> source file, for one kind."""
    kind_dir = _kind_dir(kind, lambdas_root)
    sources: dict[str, Path] = {}
    parts = [_kind_files(kind_dir), _common_files(kind_dir, lambdas_root / COMMON_PACKAGE)]
    parts += [_distribution_files(d) for d in distribution_closure(vendored_names(kind_dir))]
    for part in parts:
        for name, path in part:
            if name in sources:
                raise RuntimeError(f"two files would be packaged as '{name}' in the {kind} archive")
            sources[name] = path
    return dict(sorted(sources.items()))


def zip_bytes(sources: Mapping[str, Path]) -> bytes:
    """A zip whose bytes depend only on the entry names and contents."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(sources):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIMESTAMP)
            info.external_attr = _FILE_MODE
            info.create_system = 3  # unix, so the mode above is read the same everywhere
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, sources[name].read_bytes(), compresslevel=_COMPRESS_LEVEL)
    return buffer.getvalue()


def _cached(directory: Path, name: str, data: bytes) -> Path:
    """`data` as `directory/name`: reused when the file already holds exactly these bytes, else (re)written."""
    path = directory / name
    try:
        if path.is_file() and path.read_bytes() == data:
            return path
        # Private to the user: the provider uploads what this file holds at `pulumi up`, and Signer signs it.
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Written aside then renamed: a concurrent build never sees half a file under the final name.
        with tempfile.NamedTemporaryFile(dir=directory, delete=False, suffix=".partial") as partial:
            partial.write(data)
        os.replace(partial.name, path)
    except OSError as error:
        raise ArchiveCacheError(f"cannot write the Lambda archive cache {directory} ({error.strerror or error}); "
                                f"set {CACHE_DIR_VARIABLE} to a writable directory") from None
    return path


def build_archive(kind: str, lambdas_root: Path = LAMBDAS_ROOT, cache_dir: Optional[Path] = None) -> LambdaArchive:
    """The kind's archive, cached as `<cache_dir>/<kind>-<sha256>.zip` (default: archive_cache_dir()).

    Built in memory when the cache's index has no archive for exactly these inputs (`archive_inputs_digest`), or
    when the archive it names no longer has the sha256 it is named by (a tampered or damaged file is rebuilt and
    rewritten). Scanning imports and compressing were four fifths of building, a tenth of a dev preview's program
    (issue 16, target 1); reading and hashing the inputs is a fifth of it. A fresh machine (a CI runner) builds."""
    directory = cache_dir if cache_dir is not None else archive_cache_dir()
    inputs = archive_inputs_digest(kind, lambdas_root)
    indexed = _indexed_archive(directory, kind, inputs)
    if indexed is not None:
        return indexed
    sources = archive_sources(kind, lambdas_root)
    data = zip_bytes(sources)
    digest = hashlib.sha256(data)
    path = _cached(directory, f"{kind}-{digest.hexdigest()}.zip", data)
    archive = LambdaArchive(kind=kind, path=path, sha256=digest.hexdigest(),
                            source_code_hash=base64.b64encode(digest.digest()).decode(), entries=tuple(sources))
    _write_index(directory, inputs, archive)
    return archive


def archive_inputs_digest(kind: str, lambdas_root: Path = LAMBDAS_ROOT) -> str:
    """sha256 over everything the kind's archive bytes can depend on: every file of the kind's directory and of
    rotation_common (which of its modules go in is decided from their text), every file of the vendored
    distributions, this module's own source (how entries are chosen and written) and the Python and zlib versions
    (zipfile's and deflate's output). The same digest means the same archive; a changed byte anywhere, another."""
    kind_dir = _kind_dir(kind, lambdas_root)
    digest = hashlib.sha256(f"{kind}\0{sys.version_info[:2]}\0{zlib.ZLIB_RUNTIME_VERSION}\0".encode())
    digest.update(Path(__file__).read_bytes())
    candidates = [_tree_files(kind_dir, "kind/"), _tree_files(lambdas_root / COMMON_PACKAGE, "common/")]
    candidates += [_distribution_files(d) for d in distribution_closure(vendored_names(kind_dir))]
    for part in candidates:
        for name, path in part:
            content = path.read_bytes()
            digest.update(f"\0{name}\0{len(content)}\0".encode())
            digest.update(content)
    return digest.hexdigest()


def _index_path(directory: Path, inputs: str) -> Path:
    return directory / f"index-{inputs}.json"


def _indexed_archive(directory: Path, kind: str, inputs: str) -> Optional[LambdaArchive]:
    """The archive the index names for these inputs, if it is there with the sha256 it is named by; else None."""
    try:
        entry = json.loads(_index_path(directory, inputs).read_text(encoding="utf-8"))
        sha256, entries = entry["sha256"], tuple(entry["entries"])
        path = directory / f"{kind}-{sha256}.zip"
        digest = hashlib.sha256(path.read_bytes())
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no index yet, or one this code cannot use: build
    if digest.hexdigest() != sha256 or entry.get("kind") != kind:
        return None
    return LambdaArchive(kind=kind, path=path, sha256=sha256,
                         source_code_hash=base64.b64encode(digest.digest()).decode(), entries=entries)


def _write_index(directory: Path, inputs: str, archive: LambdaArchive) -> None:
    text = json.dumps({"kind": archive.kind, "sha256": archive.sha256, "entries": list(archive.entries)})
    _cached(directory, _index_path(directory, inputs).name, text.encode("utf-8"))


# ---------------------------------------------------------------------------------------------------------------
# The function
# ---------------------------------------------------------------------------------------------------------------

ROTATOR_KINDS = ("api_key_rotation", "webhook_secret_rotation", "postgres_user_rotation")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
SECRET_PATH_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
# CloudWatch Logs' accepted retentions (PutRetentionPolicy).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)


@dataclass
class RotatorDatabaseAccess:
    """What the Postgres rotator reaches: the database (5432) and the RDS-managed master secret."""

    security_group_id: pulumi.Input[str]
    """Security group of the database; the rotator gets egress to it on 5432 (the database must admit the
    rotator's group). Required."""
    master_secret_arn: pulumi.Input[str]
    """ARN of the RDS-managed master secret the rotator reads. Required."""
    master_secret_key_arn: pulumi.Input[str]
    """KMS key ARN the master secret is encrypted with (the data key). Required."""


@dataclass
class RedeployedService:
    """The ECS service a rotator redeploys after a rotation (names, not outputs: no cycle with the service)."""

    cluster: str
    """ECS cluster name. Required."""
    service: str
    """ECS service name. Required."""


@dataclass
class RotationFunctionArgs:
    """Inputs of RotationFunction."""

    environment: str
    """Environment name; names the function `securestack-<environment>-<kind>`. Required."""
    kind: str
    """Rotator kind, a directory of lambdas/: api_key_rotation, webhook_secret_rotation or postgres_user_rotation.
    Required."""
    secret_path: str
    """The function may rotate only secrets named `securestack/<environment>/<secret_path>/...`. Required."""
    secrets_key_arn: pulumi.Input[str]
    """KMS key ARN of the secrets it rotates (also encrypts its environment variables). Required."""
    logs_key_arn: pulumi.Input[str]
    """KMS key ARN of its log group. Required."""
    vpc_id: pulumi.Input[str]
    """VPC the function runs in. Required."""
    vpc_cidr: pulumi.Input[str]
    """CIDR of that VPC: the function's only egress is 443 to it (the interface endpoints). Required."""
    private_subnet_ids: pulumi.Input[list[pulumi.Input[str]]]
    """Private subnets of the function's network interfaces. Required."""
    code_signing: CodeSigningTarget
    """Where the archive is signed; the function runs only code its code-signing configuration accepts
    (RotatorCodeSigning.target()). Required."""
    log_retention_days: int = 365
    """Retention of its log group in days (a CloudWatch Logs retention value). Default 365."""
    reserved_concurrency: Optional[int] = None
    """Reserved concurrent executions, >= 1. Default none: the account's unreserved pool (Lambda refuses a
    reservation that leaves less than 100 unreserved)."""
    log_level: str = "INFO"
    """Log level of the function: DEBUG, INFO, WARNING or ERROR. Default INFO."""
    database: Optional[RotatorDatabaseAccess] = None
    """The database and master secret the Postgres rotator reaches. Default none."""
    ecs_service: Optional[RedeployedService] = None
    """The service the rotator redeploys after a rotation (the app injecting the rotated secret). Default none."""
    writes_verifier_records: bool = False
    """The api-key rotator keeps each key's verifier record (securestack/<env>/api-key-verifiers/*) in step.
    Default false."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource. Default none."""

    def __post_init__(self) -> None:
        checks = [
            ("kind", self.kind in ROTATOR_KINDS, f"{self.kind!r} is not one of {', '.join(ROTATOR_KINDS)}"),
            ("secret_path", _is_secret_path(self.secret_path),
             f"{self.secret_path!r} must be lowercase path segments (e.g. api-keys)"),
            ("log_retention_days", self.log_retention_days in LOG_RETENTION_DAYS,
             "must be a CloudWatch Logs retention value"),
            ("reserved_concurrency", self.reserved_concurrency is None or self.reserved_concurrency >= 1,
             "must be >= 1 (or unset: unreserved)"),
            ("log_level", self.log_level in LOG_LEVELS, f"must be one of {', '.join(LOG_LEVELS)}"),
        ]
        check_all(self, checks)


def _is_secret_path(path: str) -> bool:
    """Lowercase segments starting with a letter (`api-keys`, `database`): part of an IAM resource ARN pattern."""
    return all(segment[:1].isalpha() and set(segment) <= SECRET_PATH_CHARACTERS for segment in path.split("/"))


def vpc_function_runtime_statements(log_group_arn: pulumi.Input[str],
                                    arn: Callable[[str, str], pulumi.Output[str]],
                                    region: pulumi.Input[str]) -> list[dict[str, Any]]:
    """What Lambda checks when it creates a traced function in a VPC: network interfaces, tracing, its own logs
    (`arn(service, resource)` builds an ARN in the function's partition, region and account)."""
    return [
        {"Sid": "OwnLogGroup", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": concatenated(log_group_arn, ":*")},
        {"Sid": "NetworkInterfacesInThisAccount", "Effect": "Allow",
         "Action": ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses"],
         "Resource": [arn("ec2", kind) for kind in ("network-interface/*", "subnet/*", "security-group/*")]},
        # EC2 Describe* and X-Ray's Put* have no resource-level permissions: '*' bounded to this region. Lambda's
        # create-time VPC check calls EC2 with this role's session in the function's region (aws:RequestedRegion
        # is in every request context); the Lambda guide only asks Resource '*' for DescribeNetworkInterfaces.
        {"Sid": "DescribeNetworkAndTrace", "Effect": "Allow",
         "Action": ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords"],
         "Resource": "*", "Condition": {"StringEquals": {"aws:RequestedRegion": region}}},
    ]


def function_name(environment: str, kind: str) -> str:
    return f"securestack-{environment}-{kind.replace('_', '-')}"


def role_name(function: str) -> str:
    return f"{function}-role"


class RotationFunction(pulumi.ComponentResource):
    """A rotation Lambda in the private subnets with a least-privilege role and encrypted logs. It deploys only
    as code AWS Signer signed, and Secrets Manager may invoke it for this account only."""

    arn: pulumi.Output[str]
    """ARN of the function."""
    name: pulumi.Output[str]
    """Name of the function."""
    role_arn: pulumi.Output[str]
    """ARN of the function's role (what the rotated secrets' policies name as their only writer)."""
    security_group_id: pulumi.Output[str]
    """Security group of the function (a database admits it)."""
    source_code_hash: pulumi.Output[str]
    """Base64 SHA-256 of the deployed archive."""
    ready_arn: pulumi.Output[str]
    """The function's ARN, known once it can rotate: its invoke permission and secrets policy exist (what a
    secret's rotation waits for: SecretStoreArgs.rotator_ready)."""

    def __init__(self, name: str, args: RotationFunctionArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = as_args(RotationFunctionArgs, args)
        super().__init__("securestack:index:RotationFunction", name, None,
                         renamed_from("securestack:rotation:RotationFunction", opts))
        self._name, self._args, self._tags = name, args, {**args.tags, "securestack:rotator": args.kind}
        self.account_id, self.partition, self.region = aws_identity(self)
        self.function_name = function_name(args.environment, args.kind)
        self.archive = build_archive(args.kind)
        self.signed_code: SignedCode = signed_code(
            f"{name}-code", args.code_signing, kind=args.kind, archive_path=str(self.archive.path),
            sha256_hex=self.archive.sha256, parent=self, tags=self._tags)
        self.log_group = encrypted_log_group(
            f"{name}-logs", log_group_name=f"/aws/lambda/{self.function_name}", kms_key_arn=args.logs_key_arn,
            retention_days=args.log_retention_days, tags=self._tags, parent=self)
        self.security_group = self._security_group()
        self.role = aws.iam.Role(
            f"{name}-role", name=role_name(self.function_name), description=f"rotation function {self.function_name}",
            assume_role_policy=service_assume_role_policy("lambda.amazonaws.com", self.account_id),
            tags=self._tags, opts=self._child())
        runtime_policy = self._runtime_policy()
        self.function = self._function(runtime_policy)
        self.secrets_policy = self._secrets_policy()
        self.permission = aws.lambda_.Permission(
            f"{name}-invoke", function=self.function.name, action="lambda:InvokeFunction",
            principal="secretsmanager.amazonaws.com", source_account=self.account_id, opts=self._child())
        self.arn = self.function.arn
        self.name = self.function.name
        self.role_arn = self.role.arn
        self.security_group_id = self.security_group.id
        self.source_code_hash = pulumi.Output.from_input(self.archive.source_code_hash)
        # AWS refuses a rotation until the invoke permission exists, and the immediate first rotation fails
        # without the role's secrets permissions: the ARN carries both as dependencies.
        self.ready_arn = combined(lambda arn, *_: arn, self.function.arn, self.permission.id, self.secrets_policy.id)
        self.register_outputs({"arn": self.arn, "name": self.name, "role_arn": self.role_arn,
                               "security_group_id": self.security_group_id,
                               "source_code_hash": self.source_code_hash, "ready_arn": self.ready_arn})

    def _child(self, **extra: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **extra)

    @property
    def redeploy_alarm_name(self) -> str:
        return f"{self.function_name}-redeploy-failures"

    def alarm_on_redeploy_failures(self, alarm_topic_arn: pulumi.Input[str]) -> Optional[aws.cloudwatch.MetricAlarm]:
        """A metric filter on this function's log group and an alarm to the audit topic: a rotation whose
        consuming service could not be redeployed left tasks on the previous value (valid until the next
        rotation only). None when the function redeploys nothing."""
        if self._args.ecs_service is None:
            return None
        cluster, service = self._args.ecs_service.cluster, self._args.ecs_service.service
        metric = "".join(part.capitalize() for part in self._args.kind.split("_")) + "RedeployFailures"
        namespace = f"securestack/{self._args.environment}/rotation"
        metric_filter = aws.cloudwatch.LogMetricFilter(
            f"{self._name}-redeploy-failures-filter", name=self.redeploy_alarm_name,
            log_group_name=self.log_group.name, pattern=REDEPLOY_FAILURE_PATTERN,
            metric_transformation={"name": metric, "namespace": namespace, "value": "1"}, opts=self._child())
        first_step = (f"Read the redeploy-failed line in /aws/lambda/{self.function_name} (error_code), fix it, then "
                      f"aws ecs update-service --cluster {cluster} --service {service} --force-new-deployment: "
                      "running tasks hold the previous value, valid only until the next rotation.")
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-redeploy-failures-alarm", name=self.redeploy_alarm_name,
            alarm_description=f"[securestack {self._args.environment}] redeploy-failures: {self.function_name} "
                              f"rotated a secret but could not redeploy {cluster}/{service}. First: {first_step}",
            metric_name=metric, namespace=namespace, statistic="Sum", period=ALARM_PERIOD_SECONDS,
            evaluation_periods=1, threshold=1, comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching", actions_enabled=True, alarm_actions=[alarm_topic_arn],
            tags=self._tags, opts=self._child(depends_on=[metric_filter]))

    def _security_group(self) -> aws.ec2.SecurityGroup:
        args = self._args
        egress: list[aws.ec2.SecurityGroupEgressArgsDict] = [
            {"protocol": "tcp", "from_port": HTTPS_PORT, "to_port": HTTPS_PORT, "cidr_blocks": [args.vpc_cidr],
                   "description": "AWS APIs through the VPC interface endpoints"}]
        if args.database is not None:
            egress.append({"protocol": "tcp", "from_port": POSTGRES_PORT, "to_port": POSTGRES_PORT,
                           "security_groups": [args.database.security_group_id],
                           "description": "PostgreSQL (the database admits this group)"})
        return aws.ec2.SecurityGroup(
            f"{self._name}-sg", vpc_id=args.vpc_id, description=f"rotation function {self.function_name}: egress only",
            egress=egress, tags={**self._tags, "Name": self.function_name}, opts=self._child())

    def _arn(self, service: str, resource: pulumi.Input[str]) -> pulumi.Output[str]:
        return formatted("arn:{0}:{1}:{2}:{3}:{4}", self.partition, service, self.region,
                                    self.account_id, resource)

    def _runtime_policy(self) -> aws.iam.RolePolicy:
        """What Lambda checks when it creates the function: network interfaces, tracing, its own logs."""
        statements = vpc_function_runtime_statements(self.log_group.arn, self._arn, self.region)
        return aws.iam.RolePolicy(f"{self._name}-runtime", role=self.role.id, policy=policy_json(statements),
                                  opts=self._child())

    def _secrets_policy(self) -> aws.iam.RolePolicy:
        args = self._args
        via_secrets_manager = {"StringEquals": {"kms:ViaService": formatted(
            "secretsmanager.{0}.amazonaws.com", self.region)}}
        own_secrets = self._arn("secretsmanager", f"secret:securestack/{args.environment}/{args.secret_path}/*")
        rotates_this = {"secretsmanager:resource/AllowRotationLambdaArn": self.function.arn}
        statements: list[dict[str, Any]] = [
            # AWS's template for rotation roles: only secrets whose rotation names this very function.
            {"Sid": "RotateOnlySecretsThatNameThisFunction", "Effect": "Allow",
             "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                        "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"],
             "Resource": own_secrets, "Condition": {"StringEquals": rotates_this}},
            {"Sid": "SecretsKeyThroughSecretsManager", "Effect": "Allow",
             "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": args.secrets_key_arn,
             "Condition": via_secrets_manager},
        ]
        if args.secret_path in ("api-keys", "webhooks"):
            # finishSecret removes the operator's revoke-previous tag once it acted on it; that tag key only
            # (aws:TagKeys on UntagResource, Service Authorization Reference: AWS Secrets Manager).
            statements.append({"Sid": "ClearRevokePreviousTag", "Effect": "Allow",
                               "Action": "secretsmanager:UntagResource", "Resource": own_secrets,
                               "Condition": {"StringEquals": rotates_this,
                                             "ForAllValues:StringEquals": {"aws:TagKeys": [REVOKE_PREVIOUS_TAG]}}})
        if args.writes_verifier_records:
            # A verifier record has no rotation of its own (nothing to name this function): it is bounded by its
            # path in this environment and by its kind tag, which only the stack writes.
            statements.append({
                "Sid": "MaintainVerifierRecordsOfThisEnvironment", "Effect": "Allow",
                "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                           "secretsmanager:PutSecretValue"],
                "Resource": self._arn("secretsmanager",
                                      f"secret:securestack/{args.environment}/{VERIFIER_RECORD_PATH}/*"),
                "Condition": {"StringEquals": {"secretsmanager:ResourceTag/securestack:kind": VERIFIER_RECORD_KIND,
                                               "secretsmanager:ResourceTag/securestack:env": args.environment}}})
        if args.database is not None:
            statements += [
                {"Sid": "ReadDatabaseMasterSecret", "Effect": "Allow",
                 "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
                 "Resource": args.database.master_secret_arn},
                {"Sid": "MasterSecretKeyThroughSecretsManager", "Effect": "Allow", "Action": "kms:Decrypt",
                 "Resource": args.database.master_secret_key_arn, "Condition": via_secrets_manager},
            ]
        if args.ecs_service is not None:
            cluster, service = args.ecs_service.cluster, args.ecs_service.service
            statements.append({"Sid": "RedeployTheConsumingService", "Effect": "Allow", "Action": "ecs:UpdateService",
                               "Resource": self._arn("ecs", f"service/{cluster}/{service}")})
        return aws.iam.RolePolicy(f"{self._name}-secrets", role=self.role.id, policy=policy_json(statements),
                                  opts=self._child())

    def _environment(self) -> dict[str, pulumi.Input[str]]:
        variables: dict[str, pulumi.Input[str]] = {
            # The interface endpoint's private DNS answers this name inside the VPC.
            "SECRETS_MANAGER_ENDPOINT": formatted("https://secretsmanager.{0}.amazonaws.com", self.region),
            "LOG_LEVEL": self._args.log_level,
        }
        if self._args.database is not None:
            variables["PG_CA_BUNDLE"] = f"{PACKAGE_ROOT_AT_RUNTIME}/{CA_BUNDLE_FILE}"
        return variables

    def _function(self, runtime_policy: aws.iam.RolePolicy) -> aws.lambda_.Function:
        args = self._args
        return aws.lambda_.Function(
            f"{self._name}-function", name=self.function_name, role=self.role.arn, runtime=RUNTIME, handler=HANDLER,
            architectures=[ARCHITECTURE],
            # The signed copy of the archive; Lambda checks its signature against the config (Enforce).
            s3_bucket=self.signed_code.bucket, s3_key=self.signed_code.key,
            code_signing_config_arn=args.code_signing.config_arn,
            source_code_hash=self.archive.source_code_hash, timeout=TIMEOUT_SECONDS, memory_size=MEMORY_MB,
            description=f"Secrets Manager rotation ({args.kind}) for securestack {args.environment}",
            # Configuration only (no secret values): encrypted at rest with the environment's secrets key, not
            # Lambda's AWS-managed key. Lambda creates a grant for the execution role on the key with the
            # deploying principal's kms:CreateGrant/Encrypt, which the key policy leaves to IAM (components/keys.py,
            # AccountAdministersThroughIam); AWS Lambda developer guide, "Securing Lambda environment variables".
            environment={"variables": self._environment()}, kms_key_arn=args.secrets_key_arn,
            vpc_config={"subnet_ids": args.private_subnet_ids, "security_group_ids": [self.security_group.id]},
            reserved_concurrent_executions=args.reserved_concurrency, tracing_config={"mode": TRACING_MODE},
            logging_config={"log_format": "Text", "log_group": self.log_group.name},
            tags=self._tags,
            # The log group first (else Lambda creates one unencrypted, kept forever); the runtime policy first
            # (Lambda checks the network-interface and tracing permissions when it creates the function).
            opts=self._child(depends_on=[self.log_group, runtime_policy]))
