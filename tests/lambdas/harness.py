"""Test harness for the rotation functions: Secrets Manager's side of a rotation on moto, fault
injection through botocore event hooks, and the record of secret values that must stay out of logs.
"""

import copy
import json
import secrets
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.secretsmanager.exceptions import ResourceExistsException
from moto.secretsmanager.models import SecretsManagerBackend, secretsmanager_backends

REGION = "eu-west-1"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
ROTATION_LAMBDA_ARN = f"arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function:securestack-rotator"
SECRET_FIELDS = ("key", "secret", "password")
# The token's stages after finishSecret: AWSPENDING stays on the new AWSCURRENT, as AWS's template leaves it (a
# rotation "must end" with AWSPENDING there or nowhere: RotateSecret API reference; the next RotateSecret moves it).
FINISHED = ["AWSCURRENT", "AWSPENDING"]
LAMBDAS_DIR = Path(__file__).resolve().parents[2] / "lambdas"


def moto_secret(secret_id):
    return secretsmanager_backends[DEFAULT_ACCOUNT_ID][REGION].secrets[secret_id]


class RotationService:
    """Plays Secrets Manager's part of a rotation and invokes the handler in-process.

    moto's RotateSecret can only invoke a function through Docker, so this does its bookkeeping:
    enable rotation, attach AWSPENDING to a new version without a value, call the four steps
    with that version's id as ClientRequestToken (retrying a step reuses the same token).
    """

    def __init__(self):
        refuse_second_values()
        self.client = boto3.client("secretsmanager", region_name=REGION)

    def create_secret(self, name, tags, value=None, rotation=True):
        request = {"Name": name, "Tags": [{"Key": key, "Value": val} for key, val in tags.items()]}
        if value is not None:
            request["SecretString"] = value if isinstance(value, str) else json.dumps(value)
        arn = self.client.create_secret(**request)["ARN"]
        if rotation:
            self.set_rotation(arn, enabled=True)
        return arn

    def secret_names(self):
        return {secret["Name"] for secret in self.client.list_secrets()["SecretList"]}

    def set_rotation(self, secret_id, enabled):
        secret = moto_secret(secret_id)
        secret.rotation_requested = True  # moto shows RotationEnabled only after a RotateSecret
        secret.rotation_enabled = enabled
        secret.rotation_lambda_arn = ROTATION_LAMBDA_ARN
        secret.auto_rotate_after_days = 90

    def start(self, secret_id):
        token = str(uuid.uuid4())
        secret = moto_secret(secret_id)
        secret.remove_version_stages_from_old_versions(["AWSPENDING"])
        secret.versions[token] = {"createdate": int(time.time()), "version_id": token, "version_stages": ["AWSPENDING"]}
        return token

    def step(self, handler, secret_id, token, step, **extra):
        event = {"Step": step, "SecretId": secret_id, "ClientRequestToken": token, **extra}
        return handler.lambda_handler(event, None)

    def rotate(self, handler, secret_id, token=None, steps=STEPS):
        token = token or self.start(secret_id)
        for step in steps:
            self.step(handler, secret_id, token, step)
        return token

    def put_pending(self, secret_id, token, value):
        """A pending value stored by someone else than the rotation function."""
        self.client.put_secret_value(
            SecretId=secret_id, ClientRequestToken=token, SecretString=json.dumps(value), VersionStages=["AWSPENDING"]
        )

    def stages(self, secret_id):
        described = self.client.describe_secret(SecretId=secret_id).get("VersionIdsToStages", {})
        return {version: sorted(stages) for version, stages in described.items()}

    def value(self, secret_id, stage):
        return json.loads(self.client.get_secret_value(SecretId=secret_id, VersionStage=stage)["SecretString"])

    def snapshot(self, secret_id):
        """Every version's stages and value: equal snapshots mean the secret was not touched."""
        versions = moto_secret(secret_id).versions
        return {vid: (sorted(v["version_stages"]), v.get("secret_string")) for vid, v in copy.deepcopy(versions).items()}

    def all_secret_values(self):
        """Every value stored in any version of any secret, and the secret fields inside them."""
        found = set()
        for secret in secretsmanager_backends[DEFAULT_ACCOUNT_ID][REGION].secrets.values():
            for version in secret.versions.values():
                text = version.get("secret_string")
                if text:
                    found.add(text)
                    found.update(_secret_fields(text))
        return found


def _secret_fields(text):
    try:
        value = json.loads(text)
    except ValueError:
        return []
    if not isinstance(value, dict):
        return []
    return [str(value[name]) for name in SECRET_FIELDS if value.get(name)]


def refuse_second_values():
    """PutSecretValue as on AWS: a version that already holds a value keeps it; a request with another value under
    its ClientRequestToken fails with ResourceExistsException ("you can't modify an existing version": PutSecretValue
    API reference, ClientRequestToken). moto overwrites a version while it is AWSPENDING, which would let a retried
    createSecret replace a value later steps already used. Installed once, for the process."""
    original = SecretsManagerBackend.put_secret_value
    if getattr(original, "refuses_second_values", False):
        return

    def put_secret_value(self, secret_id, secret_string, secret_binary, client_request_token, version_stages):
        secret = self.secrets.get(secret_id) if self._is_valid_identifier(secret_id) else None
        version = None if secret is None else secret.versions.get(client_request_token)
        if version is not None and ("secret_string" in version or "secret_binary" in version):
            if (version.get("secret_string"), version.get("secret_binary")) != (secret_string, secret_binary):
                raise ResourceExistsException(f"You can't use ClientRequestToken {client_request_token} because that "
                                              f"value is already in use for a version of secret {secret.arn}.")
        return original(self, secret_id=secret_id, secret_string=secret_string, secret_binary=secret_binary,
                        client_request_token=client_request_token, version_stages=version_stages)

    put_secret_value.refuses_second_values = True
    SecretsManagerBackend.put_secret_value = put_secret_value


class AwsCalls:
    """Counts and breaks the AWS API calls of clients made from a boto3 session after it.

    Its hooks are registered once, up front, because a client copies the session's hooks when
    it is built (and the rotation functions keep their client); faults added later still apply.
    """

    def __init__(self, session):
        self.calls = []
        self._faults = []
        # before-parameter-build fires once per API call (retries excluded), with its parameters.
        session.events.register("before-parameter-build", self._before)
        session.events.register("after-call", self._after)

    def count(self, operation=None):
        return sum(1 for name, _ in self.calls if operation in (None, name))

    def params(self, operation):
        return [params for name, params in self.calls if name == operation]

    def fail(self, service, operation, when="before", times=1, code="InternalServiceError", matching=None):
        """Raise a ClientError in `operation`: before the request is sent (the call failed) or
        after its response (the call succeeded but the function crashed right after it).
        `matching`: only calls whose parameters include these items."""
        self._faults.append(
            {"event": f"{service}.{operation}", "when": when, "remaining": times, "code": code, "matching": matching or {}}
        )

    def _before(self, event_name, model, params, **_):
        self.calls.append((model.name, copy.deepcopy(params)))
        self._maybe_fail(event_name, "before", model.name, params)

    def _after(self, event_name, model, **_):
        params = self.params(model.name)[-1] if self.params(model.name) else {}
        self._maybe_fail(event_name, "after", model.name, params)

    def _maybe_fail(self, event_name, when, operation, params):
        for fault in self._faults:
            if (
                event_name.endswith(fault["event"])
                and fault["when"] == when
                and fault["remaining"] > 0
                and all(params.get(k) == v for k, v in fault["matching"].items())
            ):
                fault["remaining"] -= 1
                error = {"Error": {"Code": fault["code"], "Message": "injected by the test"}}
                raise ClientError(error, operation)


def operations_per_step(service, handler, secret_id, calls, tolerated=()):
    """One full rotation: {step: [the API operations it called, in order]}. A step raising one of `tolerated` (the
    reference template's TODO steps, run unmodified by bench/rotation.py) is counted and the rotation goes on."""
    token, by_step = service.start(secret_id), {}
    for step in STEPS:
        before = len(calls.calls)
        try:
            service.step(handler, secret_id, token, step)
        except tolerated:
            pass
        by_step[step] = [name for name, _ in calls.calls[before:]]
    return by_step


def patch_moto_first_value(monkeypatch, first_value_becomes_current):
    """How a secret created without a value gets its first one. PutSecretValue's documentation
    says the first version of a secret becomes AWSCURRENT; whether that holds for the version
    RotateSecret pre-creates is not documented, so the tests run both ways:
    - True: the first PutSecretValue also attaches AWSCURRENT;
    - False: AWSCURRENT appears at finishSecret (moto cannot move AWSCURRENT when no version has
      it yet: it raises IndexError, so that case is patched to attach it).
    """
    put_original = SecretsManagerBackend.put_secret_value
    move_original = SecretsManagerBackend.update_secret_version_stage

    def put_secret_value(self, secret_id, client_request_token, **kwargs):
        secret = self.secrets[secret_id]
        first = not any("secret_string" in v or "secret_binary" in v for v in secret.versions.values())
        result = put_original(self, secret_id=secret_id, client_request_token=client_request_token, **kwargs)
        if first and first_value_becomes_current:
            secret.versions[client_request_token]["version_stages"].append("AWSCURRENT")
            secret.default_version_id = client_request_token
        return result

    def update_secret_version_stage(self, secret_id, version_stage, remove_from_version_id, move_to_version_id):
        secret = self.secrets[secret_id]
        has_current = any("AWSCURRENT" in v["version_stages"] for v in secret.versions.values())
        if version_stage == "AWSCURRENT" and not remove_from_version_id and not has_current:
            secret.versions[move_to_version_id]["version_stages"].append("AWSCURRENT")
            secret.default_version_id = move_to_version_id
            return secret.arn, secret.name
        return move_original(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)

    monkeypatch.setattr(SecretsManagerBackend, "put_secret_value", put_secret_value)
    monkeypatch.setattr(SecretsManagerBackend, "update_secret_version_stage", update_secret_version_stage)


def archive_sources(kind):
    from securestack.components.rotation import archive_sources as packaged

    return packaged(kind)


def archive_tree(kind, root):
    """A kind's Lambda archive laid out in `root`, exactly the entries the stack packages
    (components/rotation.py: its files at the root, the rotation_common modules it imports, its vendored
    distributions)."""
    for name, source in archive_sources(kind).items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return root


def lambda_runtime_tree(root):
    """What the Lambda Python runtime puts beside an archive, laid out in `root`: boto3 and its dependencies
    (components/rotation.py LAMBDA_RUNTIME_DISTRIBUTIONS) as installed here, linked, and nothing else of this venv.
    With `python -S` (no site-packages) and PYTHONPATH=<archive>:<root>, a handler finds only its archive and these."""
    import importlib.metadata
    from pathlib import PurePosixPath

    from securestack.components.rotation import LAMBDA_RUNTIME_DISTRIBUTIONS

    root.mkdir(parents=True, exist_ok=True)
    for name in sorted(LAMBDA_RUNTIME_DISTRIBUTIONS):
        distribution = importlib.metadata.distribution(name)
        tops = {PurePosixPath(file.as_posix()).parts[0] for file in distribution.files or []}
        for top in sorted(t for t in tops if t != ".." and t != "__pycache__"):
            source = Path(str(distribution.locate_file(top)))
            if source.exists() and not (root / top).exists():
                (root / top).symlink_to(source)
    return root


def isolated_python(archive_root, runtime_root, code, timeout=60):
    """`code` in a fresh interpreter as Lambda runs a handler: the unzipped archive first, then the runtime's
    packages, no site-packages (-S), no bytecode written or read for the archive (-B, PYTHONDONTWRITEBYTECODE)."""
    import os
    import subprocess
    import sys

    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": f"{archive_root}{os.pathsep}{runtime_root}",
           "PYTHONDONTWRITEBYTECODE": "1", "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "isolated",
           "AWS_SECRET_ACCESS_KEY": "isolated"}
    return subprocess.run([sys.executable, "-S", "-B", "-c", code], cwd=archive_root, env=env, capture_output=True,
                          text=True, timeout=timeout)


def code_size(kind):
    """Bytes of Python code the stack packages for a kind (its files + the rotation_common modules it imports)."""
    return sum(path.stat().st_size for name, path in archive_sources(kind).items()
               if name.endswith(".py") and ("/" not in name or name.startswith("rotation_common/")))


def _quote_literal(text):
    return "'" + text.replace("'", "''") + "'"


@dataclass
class AppCluster:
    """A database owned by a master role with CREATEROLE, like an RDS instance's master user."""

    server: object
    dbname: str
    master_user: str
    master_password: str = field(repr=False)

    @classmethod
    def create(cls, server):
        suffix = secrets.token_hex(4)
        cluster = cls(server, f"app_{suffix}", f"master_{suffix}", secrets.token_urlsafe(24))
        connection = server.connect_superuser()
        try:
            password = _quote_literal(cluster.master_password)
            connection.run(f"CREATE ROLE {cluster.master_user} LOGIN CREATEROLE PASSWORD {password}")
            connection.run(f"CREATE DATABASE {cluster.dbname} OWNER {cluster.master_user}")
        finally:
            connection.close()
        return cluster

    def drop(self):
        connection = self.server.connect_superuser()
        try:
            connection.run(f"DROP DATABASE IF EXISTS {self.dbname} WITH (FORCE)")
            connection.run(f"DROP ROLE IF EXISTS {self.master_user}")
        finally:
            connection.close()


POSTGRES_TAGS = {"securestack:env": "dev", "securestack:name": "app", "securestack:kind": "postgres-user"}


def postgres_secret_ready_to_finish(rotation, tags=None):
    """A database-login secret whose rotation reached finishSecret (the only step that redeploys, and one that
    never talks to the database): (arn, token). Set and test steps need a server: tests/lambdas/
    test_postgres_rotation.py."""
    value = {"engine": "postgres", "host": "db.internal", "port": 5432, "dbname": "app", "username": "app",
             "password": secrets.token_urlsafe(32),
             "masterarn": f"arn:aws:secretsmanager:{REGION}:{DEFAULT_ACCOUNT_ID}:secret:rds@21db-master"}
    arn = rotation.create_secret("securestack/dev/database/app", {**POSTGRES_TAGS, **(tags or {})}, value)
    token = rotation.start(arn)
    rotation.put_pending(arn, token, {**value, "username": "app_clone", "password": secrets.token_urlsafe(32)})
    return arn, token
