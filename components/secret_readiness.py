"""SecretReadiness: `pulumi up` goes on only once a secret has a value, and starts a secret's first rotation.

Secrets Manager rotates asynchronously (RotateSecret returns as soon as AWSPENDING is attached; the rotator's four
steps run afterwards), so a task started right after the secret's creation can find no AWSCURRENT to inject.
This dynamic resource polls DescribeSecret, bounded by `timeout_seconds`, until the secret has an AWSCURRENT
version and no AWSPENDING left on another version (a rotation still running, or a stranded one), and fails naming
the secret and its rotator's log group otherwise. Whatever depends on it (the app's ECS service) starts after.

It also makes a secret's *first* rotation, and only that one, immediate. The SecretRotation is declared with
`rotate_immediately=False`, because the Terraform provider pulumi-aws bridges re-sends `RotateImmediately` with
every update of the rotation (resourceSecretRotationUpdate in terraform-provider-aws
internal/service/secretsmanager/secret_rotation.go), which would rotate each secret whenever its schedule or
rotator changed. A secret with no AWSCURRENT and no rotation in progress gets one `RotateSecret` from here
(no configuration parameters: the schedule and function already stored on the secret, RotateImmediately's
default `true`); a secret that has a value is never rotated by Pulumi again.

A vendor-issued secret (`rotation_lambda_arn=None`: an operator stages its value, nothing rotates it) is
checked once and never rotated: one DescribeSecret, and without an AWSCURRENT the deploy fails at once (waiting
would not help, only an operator can give it a value) with one line naming the secret and the operator commands
that give it one (`infra.secrets stage`, then `promote`, then `pulumi up` again).

Nothing here reads a value: DescribeSecret lists version ids and their stages only, and the client the provider
builds refuses any other operation than DescribeSecret and RotateSecret before a request is signed.

The provider runs in Pulumi's dynamic-provider process with the deployer's AWS credentials from the environment
(the same ones `pulumi up` uses) and the secret's region taken from its ARN. It holds no state and no
credentials: its serialized form (the `__provider` input, pickled by dill) is code and two numbers, not a secret.
It is pickled by value (see `_by_value`), so the provider process needs only the venv (pulumi, boto3), not this
repository on its path; pickled bytecode ties it to the program's Python version, as every Python dynamic
provider is.
"""
from __future__ import annotations

import contextlib
import pickle
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Optional

import boto3
import botocore.config
import pulumi
from botocore.exceptions import ClientError
from pulumi import CustomResource
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult
from pulumi.dynamic.dynamic import PROVIDER_KEY, serialize_provider
from pulumi.runtime._serialization import _serialize

if TYPE_CHECKING:  # boto3-stubs, a development dependency only
    from botocore.model import OperationModel
    from mypy_boto3_secretsmanager import SecretsManagerClient

# What a deploy waits for at most: the four steps of a first rotation, each a Lambda run of at most 60 s,
# plus cold starts in the VPC.
DEFAULT_TIMEOUT_SECONDS = 600
DEFAULT_POLL_SECONDS = 5.0
# Inputs whose change makes the resource check again (a rotation settings change makes Secrets Manager run the
# rotator's testSecret on a transient AWSPENDING version: the deploy ends after it is gone).
WATCHED_INPUTS = ("secretArn", "rotationLambdaArn", "rotationDays", "timeoutSeconds")


def _by_value(cls: type) -> type:
    """Make dill pickle `cls` and its methods by value (code), not as a reference to this module.

    dill pickles a class or function of an importable module as `module.name`; the dynamic-provider process
    would then have to import `components.secret_readiness`, which is not on its path. Classes and functions
    of `__main__` are pickled with their code, so the class and its functions are labelled `__main__` (what
    Pulumi's own fix for pulumi/pulumi#7453, PR #7755, did). Their globals stay this module's: referenced module
    objects (boto3, time) are pickled by reference, constants by value.
    """
    cls.__module__ = "__main__"
    for attribute in vars(cls).values():
        function = getattr(attribute, "__func__", attribute)
        if callable(function) and hasattr(function, "__code__"):
            function.__module__ = "__main__"
    return cls


@_by_value
class SecretNotReady(Exception):
    """The secret has no AWSCURRENT, or keeps a stray AWSPENDING, after the timeout."""


@_by_value
class SecretReadinessProvider(ResourceProvider):
    """create/update: wait until the secret is ready (starting its first rotation if it never had one)."""

    # Nothing secret is captured (no client, no credentials): the serialized provider stays a plain input.
    serialize_as_secret_always = False
    ALLOWED_OPERATIONS = ("DescribeSecret", "RotateSecret")
    CURRENT, PENDING = "AWSCURRENT", "AWSPENDING"

    def __init__(self, poll_seconds: float = DEFAULT_POLL_SECONDS):
        super().__init__()
        self.poll_seconds = poll_seconds

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # `__provider` is left out on purpose: pickled code carries its file's path, which differs between
        # machines; a check again (update) is only worth it when what it checks changed.
        changed = [key for key in WATCHED_INPUTS if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=props["secretArn"], outs=self.wait_until_ready(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self.wait_until_ready(news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to undo: the secret is its own resource."""

    def client(self, region: str) -> SecretsManagerClient:
        """A Secrets Manager client of the deployer's credentials that can only describe and rotate."""
        client = boto3.session.Session().client(
            "secretsmanager", region_name=region,
            config=botocore.config.Config(connect_timeout=5, read_timeout=20,
                                          retries={"max_attempts": 5, "mode": "standard"}))
        allowed = self.ALLOWED_OPERATIONS

        def refuse_others(model: OperationModel, **_: Any) -> None:
            if model.name not in allowed:
                raise PermissionError(f"the secret readiness check never calls {model.name}")

        client.meta.events.register("before-parameter-build.secretsmanager", refuse_others)
        return client

    def wait_until_ready(self, props: dict[str, Any]) -> dict[str, Any]:
        arn = props["secretArn"]
        client = self.client(arn.split(":")[3])
        if not props.get("rotationLambdaArn"):
            return self.check_operator_staged(client, props)
        deadline = time.monotonic() + float(props.get("timeoutSeconds") or DEFAULT_TIMEOUT_SECONDS)
        started = False
        while True:
            description = client.describe_secret(SecretId=arn)
            stages = description.get("VersionIdsToStages") or {}
            current = [v for v, labels in stages.items() if self.CURRENT in labels]
            stray = [v for v, labels in stages.items() if self.PENDING in labels and self.CURRENT not in labels]
            if current and not stray:
                return {**props, "firstRotationStarted": started}
            if not current and not stray and not started:
                started = self.start_first_rotation(client, arn)
            if time.monotonic() >= deadline:
                raise SecretNotReady(self.not_ready_message(description, props, current, stray))
            time.sleep(self.poll_seconds)

    def check_operator_staged(self, client: SecretsManagerClient, props: dict[str, Any]) -> dict[str, Any]:
        """A vendor-issued secret: ready once an operator promoted a value; never rotated, never waited for."""
        description = client.describe_secret(SecretId=props["secretArn"])
        stages = description.get("VersionIdsToStages") or {}
        if any(self.CURRENT in labels for labels in stages.values()):
            return {**props, "firstRotationStarted": False}
        raise SecretNotReady(self.not_staged_message(description, props))

    @staticmethod
    def not_staged_message(description: Mapping[str, Any], props: dict[str, Any]) -> str:
        name = str(description.get("Name") or props["secretArn"])
        tags = {tag.get("Key"): tag.get("Value") for tag in description.get("Tags") or []}
        parts = name.split("/")  # securestack/<env>/<kind path>/<name>, the stack's naming
        environment = tags.get("securestack:env") or (parts[1] if len(parts) == 4 else "<stack>")
        entry = tags.get("securestack:name") or parts[-1]
        vendor = tags.get("securestack:vendor") or "its vendor"
        command = ".venv/bin/python -m infra.secrets"
        return (f"secret {name} has no AWSCURRENT value (issued by {vendor}, never rotated): stage the value "
                f"{vendor} issued with `{command} stage {environment} {entry}`, then `{command} promote "
                f"{environment} {entry}`, then `pulumi up` again")

    @staticmethod
    def start_first_rotation(client: SecretsManagerClient, arn: str) -> bool:
        """RotateSecret once; False if Secrets Manager still runs another rotation (checked again next poll)."""
        try:
            client.rotate_secret(SecretId=arn)
        except ClientError as error:
            # "A previous rotation isn't complete": e.g. the testSecret run of a rotation just configured.
            if error.response.get("Error", {}).get("Code") == "InvalidRequestException":
                return False
            raise
        return True

    @staticmethod
    def not_ready_message(description: Mapping[str, Any], props: dict[str, Any], current: list[str],
                          stray: list[str]) -> str:
        name = description.get("Name") or props["secretArn"]
        function = str(description.get("RotationLambdaARN") or props.get("rotationLambdaArn") or "").split(":")[-1]
        logs = f"/aws/lambda/{function}" if function else "its rotation function's log group"
        waited = props.get("timeoutSeconds") or DEFAULT_TIMEOUT_SECONDS
        if stray:
            state = (f"AWSPENDING is still on version {stray[0]} (a rotation running or failed; once fixed, "
                     f"`aws secretsmanager update-secret-version-stage --secret-id {name} --version-stage "
                     f"AWSPENDING --remove-from-version-id {stray[0]}` clears a failed one)")
        else:
            state = "no rotation has made a value"
        what = "has no AWSCURRENT value" if not current else "keeps a stray AWSPENDING"
        return f"secret {name} {what} after {waited} s: {state}; see {logs}"


@dataclass(frozen=True)
class SecretReadinessArgs:
    secret_arn: pulumi.Input[str]
    # None: a vendor-issued secret (an operator stages and promotes its value): checked once, never rotated.
    rotation_lambda_arn: Optional[pulumi.Input[str]]
    rotation_days: int
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS


_PROVIDER = SecretReadinessProvider()


class SecretReadiness(Resource, module="securestack", name="SecretReadiness"):
    """Type `pulumi-python:dynamic/securestack:SecretReadiness`: the secret has a value once this exists.

    Registered as `pulumi.dynamic.Resource.__init__` registers it (pulumi/dynamic/dynamic.py, 3.272): the same
    type token, the props plus `__provider`, the serialized provider, secret when the provider says so or captured
    a secret. Only the serialization is done once per provider object instead of once per resource: dill took
    19 ms per resource for the same text every time (issue 16), and a stack has one of these per secret."""

    secret_arn: pulumi.Output[str]

    def __init__(self, name: str, args: SecretReadinessArgs, opts: Optional[pulumi.ResourceOptions] = None,
                 provider: Optional[SecretReadinessProvider] = None):
        props = {"secretArn": args.secret_arn, "rotationLambdaArn": args.rotation_lambda_arn,
                 "rotationDays": args.rotation_days, "timeoutSeconds": args.timeout_seconds,
                 PROVIDER_KEY: serialized_provider(provider or _PROVIDER)}
        # Resource.__init__ would serialize the provider again: its base registers what it would have.
        CustomResource.__init__(self, f"pulumi-python:{self._resource_type_name}", name, props, opts)


# Provider object -> its `__provider` input. Providers hold no state that changes after construction (the
# serialized text is the same every time: tests/lambdas/test_secret_readiness.py), so one serialization per object
# is the same as one per resource. Weak keys: a provider a caller drops takes its text with it.
_SERIALIZED: "weakref.WeakKeyDictionary[SecretReadinessProvider, pulumi.Input[str]]" = weakref.WeakKeyDictionary()


def serialized_provider(provider: SecretReadinessProvider) -> pulumi.Input[str]:
    """The `__provider` input pulumi.dynamic.Resource would send for `provider`, serialized once per object."""
    if provider not in _SERIALIZED:
        with _pickler_restored():
            text, contains_secrets = _serialize(True, serialize_provider, provider)
        always_secret = getattr(provider, "serialize_as_secret_always", True)
        _SERIALIZED[provider] = pulumi.Output.secret(text) if always_secret or contains_secrets else text
    return _SERIALIZED[provider]


@contextlib.contextmanager
def _pickler_restored() -> Iterator[None]:
    """pulumi's `serialize_provider` (pulumi/dynamic/dynamic.py, 3.272) wraps `pickle._Pickler._batch_setitems` in a
    sorting wrapper on every call and restores only `pickle.Pickler`, so each serialization adds a frame to every
    dict pickled later: a stack with a few hundred keys (one serialization each, before the cache above) died with
    RecursionError. The methods are put back after each serialization (it is synchronous, in it); one sorting
    wrapper gives the same bytes as many, so no provider input changes."""
    batch_setitems, save_dict = pickle._Pickler._batch_setitems, pickle._Pickler.save_dict  # type: ignore[attr-defined]
    try:
        yield
    finally:
        pickle._Pickler._batch_setitems, pickle._Pickler.save_dict = batch_setitems, save_dict  # type: ignore[attr-defined]
