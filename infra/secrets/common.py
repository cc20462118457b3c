"""What the operator commands share: the stack's settings, the secret an entry name designates, AWS access, and a
step/undo runner for the commands that change several things in turn."""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, NoReturn, Optional, Sequence, Union

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from securestack.components import cli
from securestack.components.secrets import ISSUER_VENDOR
from securestack.infra.settings import StackSettings
from securestack.infra.verify import UnusableInput, load_expectations

EXIT_OK, EXIT_REFUSED_BY_AWS, EXIT_UNUSABLE = cli.EXIT_OK, cli.EXIT_FAILED, cli.EXIT_UNUSABLE
KIND_API_KEY, KIND_WEBHOOK = "api-key", "webhook-secret"
# Secret paths as the stack names them (components/secrets.py: secret_name).
SECRET_PATHS = {KIND_API_KEY: "api-keys", KIND_WEBHOOK: "webhooks"}
# An operator waits at a prompt: fail within seconds when the endpoint does not answer, retry throttling a little.
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=20, retries={"total_max_attempts": 3, "mode": "standard"})
CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"
KIND_TAG, ISSUER_TAG, COMPROMISED_TAG = "securestack:kind", "securestack:issuer", "securestack:compromised"
ECS_SERVICE_TAG = "securestack:ecs-service"
AWS_ERRORS = (ClientError, BotoCoreError)


class Refused(Exception):
    """The command cannot or must not run; its message is one line saying why (and what to do). Exit 2, or 1 when
    AWS itself refused the operation (contract: 1 is "the thing asked for is refused", 2 "cannot run as asked")."""

    def __init__(self, message: str, exit_code: int = EXIT_UNUSABLE):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class StackSecret:
    kind: str
    entry: str  # the name in securestack:apiKeys / securestack:webhooks
    secret_name: str
    settings: Any = field(default=None, compare=False)  # the entry's settings (ApiKeySettings / WebhookSettings)

    @property
    def is_vendor(self) -> bool:
        return bool(self.settings is not None and self.settings.is_vendor)

    @property
    def noun(self) -> str:
        return "API key" if self.kind == KIND_API_KEY else "webhook secret"


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("stack", help="stack name (Pulumi.<stack>.yaml)")
    parser.add_argument("name", help="the API key or webhook name (securestack:apiKeys / securestack:webhooks)")


def add_aws_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", help="AWS region (default: the stack's aws:region)")
    parser.add_argument("--endpoint-url", type=cli.http_url, help="send every AWS call to this endpoint (tests)")


def load_settings(stack: str) -> StackSettings:
    try:
        return load_expectations(stack)
    except UnusableInput as error:
        raise Refused(str(error)) from None


def stack_secrets(settings: StackSettings) -> list[StackSecret]:
    """Every API key and webhook secret of the stack, in the order of its settings."""
    return [StackSecret(kind, entry.name, secret_path(settings, kind, entry.name), entry)
            for kind, section in ((KIND_API_KEY, settings.api_keys), (KIND_WEBHOOK, settings.webhooks))
            for entry in section.root]


def secret_path(settings: StackSettings, kind: str, entry: str) -> str:
    return f"securestack/{settings.environment}/{SECRET_PATHS[kind]}/{entry}"


def find_secret(settings: StackSettings, entry: str) -> StackSecret:
    """The API key or webhook secret named `entry` in the stack's settings."""
    found = [secret for secret in stack_secrets(settings) if secret.entry == entry]
    if not found:
        keys, webhooks = ", ".join(settings.api_keys.names()) or "none", ", ".join(settings.webhooks.names()) or "none"
        raise Refused(f"stack '{settings.environment}' has no API key or webhook named '{entry}' "
                      f"(API keys: {keys}; webhooks: {webhooks})")
    if len(found) > 1:
        raise Refused(f"'{entry}' names both an API key and a webhook in stack '{settings.environment}': rename one")
    return found[0]


def find_vendor_secret(settings: StackSettings, entry: str, command: str, self_issued_hint: str) -> StackSecret:
    """`find_secret`, refused for a self-issued entry: its rotator makes (and stages) its values."""
    secret = find_secret(settings, entry)
    if not secret.is_vendor:
        raise Refused(f"'{entry}' is a self-issued {secret.noun}: its rotator makes its values, so there is nothing "
                      f"to {command} by hand; {self_issued_hint}")
    return secret


def aws_client(settings: StackSettings, service: str, region: Optional[str], endpoint_url: Optional[str]) -> Any:
    """A client on the operator's credentials (boto3's default chain), refused without any."""
    try:
        session = boto3.Session(region_name=region or settings.region)
        credentials = session.get_credentials()
        if credentials is not None:
            # Any service by name: boto3-stubs types a client per literal service name (infra/verify.py does so too).
            make_client: Callable[..., Any] = session.client
            return make_client(service, endpoint_url=endpoint_url, config=CLIENT_CONFIG)
    except (BotoCoreError, ValueError) as error:  # a missing profile, a bad endpoint URL, a credential provider
        raise Refused(f"cannot set up AWS access: {' '.join(str(error).split())}") from None
    raise Refused("no AWS credentials found (boto3's default chain: environment, profile, SSO, web identity, "
                  "instance role)")


def secretsmanager(settings: StackSettings, region: Optional[str], endpoint_url: Optional[str]) -> Any:
    return aws_client(settings, "secretsmanager", region, endpoint_url)


def tags_of(description: Mapping[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in description.get("Tags") or []}


def error_code(error: Exception) -> str:
    return error.response.get("Error", {}).get("Code", "") if isinstance(error, ClientError) else ""


def aws_message(error: ClientError) -> str:
    # One line: AWS messages name the secret and the problem, never a value (no command sends one back).
    return " ".join(str(error.response.get("Error", {}).get("Message") or error_code(error)).split())


def aws_problem(error: Exception) -> str:
    if isinstance(error, ClientError):
        return f"{error_code(error)}: {aws_message(error)}"
    return " ".join(str(error).split())  # NoCredentialsError, EndpointConnectionError, ...


def aws_exit_code(error: Exception) -> int:
    """An answer from AWS (access denied, throttled, ...) is AWS refusing; no answer at all is a command that
    cannot run (unreachable endpoint, no credentials)."""
    return EXIT_REFUSED_BY_AWS if isinstance(error, ClientError) else EXIT_UNUSABLE


def describe(client: Any, secret: StackSecret, region: str) -> dict[str, Any]:
    """DescribeSecret of a secret the stack deployed, of the kind (and, for a vendor entry, the issuer) settings
    say: never its value."""
    try:
        description: dict[str, Any] = client.describe_secret(SecretId=secret.secret_name)
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            raise Refused(f"secret {secret.secret_name} not found in {region}: is stack "
                          f"'{secret.secret_name.split('/')[1]}' deployed there?") from None
        raise Refused(f"{secret.secret_name}: {aws_problem(error)}", EXIT_REFUSED_BY_AWS) from None
    except BotoCoreError as error:
        raise Refused(f"{secret.secret_name}: {aws_problem(error)}") from None
    tags = tags_of(description)
    if tags.get(KIND_TAG) != secret.kind:
        raise Refused(f"secret {secret.secret_name} is tagged {KIND_TAG}={tags.get(KIND_TAG)!r}, not "
                      f"'{secret.kind}': not the stack's {secret.entry}")
    if secret.is_vendor and tags.get(ISSUER_TAG) != ISSUER_VENDOR:
        raise Refused(f"secret {secret.secret_name} is tagged {ISSUER_TAG}={tags.get(ISSUER_TAG)!r} but the stack "
                      f"says '{secret.entry}' is vendor-issued: run `pulumi up` first")
    return description


def start_age_function(lambda_client: Any, environment: str, alarm_change: str) -> None:
    """Invokes the stack's age function (`securestack-<env>-secret-age`) asynchronously (InvocationType=Event), so
    the CompromisedSecrets alarm `alarm_change`s ("raises", "clears") now rather than at its next daily run. Its
    absence is a note, its failure a warning on stderr: the mark itself is what matters, and it is set."""
    function = f"securestack-{environment}-secret-age"
    try:
        lambda_client.get_function(FunctionName=function)  # exists? (a stack deployed before the age function)
        lambda_client.invoke(FunctionName=function, InvocationType="Event", Payload=b"{}")
    except AWS_ERRORS as error:
        if error_code(error) == "ResourceNotFoundException":
            print(f"note: no age function {function} here: the alarm {alarm_change} once the stack's age function "
                  "runs")
        else:
            print(f"warning: could not start {function} now ({aws_problem(error)}): the alarm {alarm_change} at its "
                  "next daily run", file=sys.stderr)
        return
    print(f"started {function}, so the CompromisedSecrets alarm {alarm_change} within minutes")


def version_with(description: Mapping[str, Any], stage: str) -> Optional[str]:
    """The version carrying a staging label (a label is on one version at most), or None."""
    for version, stages in (description.get("VersionIdsToStages") or {}).items():
        if stage in stages:
            return str(version)
    return None


# ---------------------------------------------------------------------------------------------------------------
# Steps and their undo: a command that changes several things either completes or leaves them as they were
# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """One change. `undo` reverses it (None: nothing to reverse); `fix` is the command an operator runs to reverse it
    by hand when `undo` itself fails; `after` says the state once it is done."""

    does: str
    do: Callable[[], None]
    undo: Optional[Callable[[], None]] = None
    fix: Union[str, Callable[[], str]] = ""  # a callable: an undo of several calls says what is left of it

    def fix_command(self) -> str:
        return self.fix() if callable(self.fix) else self.fix


class StepFailed(Exception):
    """A step's own failure that is not an AWS error (e.g. a deployment that did not become steady in time)."""

    def __init__(self, message: str, exit_code: int = EXIT_REFUSED_BY_AWS):
        super().__init__(message)
        self.exit_code = exit_code


def run_steps(what: str, steps: Sequence[Step]) -> None:
    """Runs `steps` in order; when one fails, undoes the ones done before it, newest first, and raises Refused: one
    line naming the failed step and saying the state is as it was, or, when an undo fails too, exactly which steps
    are still in effect and the commands that reverse them (newest first)."""
    done: list[Step] = []
    for step in steps:
        try:
            step.do()
        except KeyboardInterrupt:
            # Ctrl-C too: an operator who gives up (say, on a long wait) gets the stages back as they were.
            _give_back(done, f"{what} interrupted at '{step.does}'", cli.EXIT_INTERRUPTED)
        except (*AWS_ERRORS, StepFailed) as error:
            code = error.exit_code if isinstance(error, StepFailed) else aws_exit_code(error)
            _give_back(done, f"{what} failed at '{step.does}' ({_problem(error)})", code)
        done.append(step)


def _give_back(done: list[Step], failure: str, code: int) -> NoReturn:
    """Undoes `done` (newest first) and raises the one line saying so."""
    _undo(done, failure)
    undone = "; the steps before it were undone, so nothing changed" if done else "; nothing changed"
    raise Refused(failure + undone, code) from None


def _undo(done: list[Step], failure: str) -> None:
    for position in range(len(done) - 1, -1, -1):
        step = done[position]
        if step.undo is None:
            continue
        try:
            step.undo()
        except AWS_ERRORS as error:
            in_effect = [s for s in reversed(done[:position + 1]) if s.undo is not None]
            fixes = "; then ".join(s.fix_command() for s in in_effect)
            raise Refused(f"{failure}; undoing '{step.does}' failed too ({_problem(error)}): still in effect: "
                          f"{', '.join(repr(s.does) for s in in_effect)}; to put it back run: {fixes}",
                          EXIT_REFUSED_BY_AWS) from None


def _problem(error: Exception) -> str:
    return str(error) if isinstance(error, StepFailed) else aws_problem(error)
