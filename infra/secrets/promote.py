"""`python -m infra.secrets promote <stack> <name> [--wait-seconds N]`: the staged vendor value becomes current.

Steps, each undone (newest first) when a later one fails, so the stages are as they were (common.run_steps):

1. AWSCURRENT moves to the AWSPENDING version (UpdateSecretVersionStage; Secrets Manager moves AWSPREVIOUS to the
   version AWSCURRENT left). Undo: AWSCURRENT back, and AWSPREVIOUS back where it was (or removed).
2. AWSPENDING is removed from it. Undo: put back.
3. `securestack:compromised` is removed when it names the version that was current. Undo: tagged again.
4. When the secret has `securestack:ecs-service` (`<cluster>/<service>`, the app that has the key injected at task
   start): ECS UpdateService forceNewDeployment, so new tasks read the new AWSCURRENT. Undo: a new deployment again,
   so tasks read the restored value.
5. Wait (bounded by --wait-seconds, default 900) until the service is steady: the condition of botocore's ECS
   `services_stable` waiter (botocore/data/ecs/2014-11-13/waiters-2.json: one deployment, runningCount ==
   desiredCount), on the deployment step 4 started; that deployment FAILED or replaced (the ECS circuit breaker and
   its rollback) fails at once.

Then it prints the checklist (and, when it removed the compromised mark, starts the age function so the
CompromisedSecrets alarm clears now): verify the app with the new value, delete the old one in the vendor's dashboard,
`retire`. The first value staged is already AWSCURRENT (Secrets Manager makes a first version current), so for it
only steps 2 to 5 run, and a service that does not exist yet (the stack creates the app once its keys have a value)
is a reminder to run `pulumi up` again. It never reads a value.
"""
from __future__ import annotations

import argparse
import time
from typing import Any, Optional

from securestack.components import cli
from securestack.infra.secrets.common import (AWS_ERRORS, COMPROMISED_TAG, CURRENT, ECS_SERVICE_TAG, EXIT_OK,
                                              PENDING, PREVIOUS, Refused, StackSecret, Step, StepFailed,
                                              add_aws_options, add_stack_arguments, aws_client, aws_exit_code,
                                              aws_problem, describe, find_vendor_secret, load_settings, run_steps,
                                              start_age_function, tags_of, version_with)
from securestack.infra.settings import StackSettings

NAME = "promote"
DEFAULT_WAIT_SECONDS = 900
POLL_SECONDS = 15  # botocore's services_stable waiter polls DescribeServices every 15 s


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(NAME, help="make the staged vendor value current and redeploy the app using it",
                                   description=__doc__.splitlines()[0])
    add_stack_arguments(parser)
    parser.add_argument("--wait-seconds", type=_positive_seconds, default=DEFAULT_WAIT_SECONDS,
                        help=f"how long to wait for the app's service to be steady (default {DEFAULT_WAIT_SECONDS})")
    add_aws_options(parser)
    parser.set_defaults(run=run)


def _positive_seconds(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 3600:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds from 1 to 3600")
    return int(text)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.stack)
    secret = find_vendor_secret(settings, args.name, NAME, "its rotator promotes each value it makes")
    client = aws_client(settings, "secretsmanager", args.region, args.endpoint_url)
    region = args.region or settings.region
    description = describe(client, secret, region)
    pending, current = version_with(description, PENDING), version_with(description, CURRENT)
    if pending is None:
        raise Refused(f"{secret.secret_name} has no staged value ({PENDING}): run `python -m infra.secrets stage "
                      f"{args.stack} {args.name}` first")
    if current is None:
        # Secrets Manager makes a first version AWSCURRENT and never lets AWSCURRENT be removed, only moved.
        raise Refused(f"{secret.secret_name} has a staged value but no {CURRENT} version, a state Secrets Manager "
                      "does not leave: inspect it with `aws secretsmanager describe-secret`; nothing changed")
    promotion = _Promotion(client, secret, description, region)
    service = _service_of(description, secret)
    redeployed = _deployment(settings, args, service, region, first_value=pending == current)
    steps = promotion.stage_steps(pending, current) + (redeployed.steps() if redeployed else [])
    run_steps(f"promote of {secret.secret_name}", steps)
    _report(secret, args, region, pending, current, service, redeployed)
    if promotion.unmarks(pending, current):
        start_age_function(aws_client(settings, "lambda", args.region, args.endpoint_url), settings.environment,
                           "clears")
    return EXIT_OK


class _Promotion:
    """The Secrets Manager steps (1-3) and their undo."""

    def __init__(self, client: Any, secret: StackSecret, description: dict[str, Any], region: str):
        self.client, self.secret, self.region = client, secret, region
        self.arn = description["ARN"]
        self.previous = version_with(description, PREVIOUS)
        self.compromised = tags_of(description).get(COMPROMISED_TAG)
        self.current_restored = False  # the first of the two calls undoing step 1 is done

    def unmarks(self, pending: str, current: str) -> bool:
        """Whether promoting removes the compromised mark (step 3): it names the value being replaced."""
        return current != pending and self.compromised == current

    def stage_steps(self, pending: str, current: str) -> list[Step]:
        steps = []
        if current != pending:
            steps.append(Step(f"move {CURRENT} to version {pending}", lambda: self._move(CURRENT, pending, current),
                              lambda: self._restore_current(pending, current),
                              lambda: self._restore_current_fix(pending, current)))
        steps.append(Step(f"remove {PENDING} from version {pending}", lambda: self._move(PENDING, None, pending),
                          lambda: self._move(PENDING, pending, None), self._fix(PENDING, pending, None)))
        if self.unmarks(pending, current):
            steps.append(Step(f"remove tag {COMPROMISED_TAG}", self._untag, self._tag,
                              f"aws secretsmanager tag-resource --region {self.region} --secret-id "
                              f"{self.secret.secret_name} --tags Key={COMPROMISED_TAG},Value={current}"))
        return steps

    def _move(self, stage: str, to: Optional[str], away_from: Optional[str]) -> None:
        request: dict[str, Any] = {"SecretId": self.arn, "VersionStage": stage}
        if to is not None:
            request["MoveToVersionId"] = to
        if away_from is not None:
            request["RemoveFromVersionId"] = away_from
        self.client.update_secret_version_stage(**request)

    def _restore_current(self, pending: str, current: str) -> None:
        # Moving AWSCURRENT back makes Secrets Manager put AWSPREVIOUS on `pending`: put it back where it was.
        self._move(CURRENT, current, pending)
        self.current_restored = True
        self._move(PREVIOUS, self.previous, pending)

    def _restore_current_fix(self, pending: str, current: str) -> str:
        previous_back = self._fix(PREVIOUS, self.previous, pending)
        return previous_back if self.current_restored else f"{self._fix(CURRENT, current, pending)} && {previous_back}"

    def _fix(self, stage: str, to: Optional[str], away_from: Optional[str]) -> str:
        command = (f"aws secretsmanager update-secret-version-stage --region {self.region} --secret-id "
                   f"{self.secret.secret_name} --version-stage {stage}")
        if to is not None:
            command += f" --move-to-version-id {to}"
        if away_from is not None:
            command += f" --remove-from-version-id {away_from}"
        return command

    def _untag(self) -> None:
        self.client.untag_resource(SecretId=self.arn, TagKeys=[COMPROMISED_TAG])

    def _tag(self) -> None:
        self.client.tag_resource(SecretId=self.arn, Tags=[{"Key": COMPROMISED_TAG, "Value": self.compromised}])


def _deployment(settings: StackSettings, args: argparse.Namespace, service: Optional[tuple[str, str]], region: str,
                first_value: bool) -> Optional["_Deployment"]:
    """The redeploy of the app's service, when the secret names one that runs. For a first value the app may not
    exist yet (the stack creates it once its keys have a value); for any later one it must."""
    if service is None:
        return None
    deployment = _Deployment(aws_client(settings, "ecs", args.region, args.endpoint_url), *service, args.wait_seconds)
    if deployment.exists():
        return deployment
    if first_value:
        return None
    raise Refused(f"the app's service {service[0]}/{service[1]} (tag {ECS_SERVICE_TAG}) is not running in {region}: "
                  "deploy it first; nothing changed")


def _service_of(description: dict[str, Any], secret: StackSecret) -> Optional[tuple[str, str]]:
    value = tags_of(description).get(ECS_SERVICE_TAG)
    if value is None:
        return None
    cluster, _, service = value.partition("/")
    if not cluster or not service:
        raise Refused(f"secret {secret.secret_name} is tagged {ECS_SERVICE_TAG}={value!r}, not <cluster>/<service>: "
                      "run `pulumi up` to restore its tags; nothing changed")
    return cluster, service


class _Deployment:
    """Steps 4-5: a forced new deployment of the app's ECS service, and the wait until it is steady."""

    def __init__(self, ecs: Any, cluster: str, service: str, wait_seconds: int):
        self.ecs, self.cluster, self.service, self.wait_seconds = ecs, cluster, service, wait_seconds
        self.deployment_id: Optional[str] = None
        self.running = ""

    @property
    def name(self) -> str:
        return f"{self.cluster}/{self.service}"

    def exists(self) -> bool:
        try:
            found = self.ecs.describe_services(cluster=self.cluster, services=[self.service])
        except AWS_ERRORS as error:
            if "ClusterNotFound" in aws_problem(error):
                return False
            raise Refused(f"ECS service {self.name}: {aws_problem(error)}; nothing changed",
                          aws_exit_code(error)) from None
        return any(s.get("status") == "ACTIVE" for s in found.get("services", []))

    def steps(self) -> list[Step]:
        fix = (f"aws ecs update-service --cluster {self.cluster} --service {self.service} --force-new-deployment")
        return [Step(f"redeploy ECS service {self.name}", self._redeploy, self._redeploy_again, fix),
                Step(f"wait for ECS service {self.name} to be steady", self._wait_steady)]

    def _redeploy(self) -> None:
        service = self.ecs.update_service(cluster=self.cluster, service=self.service,
                                          forceNewDeployment=True)["service"]
        primary: list[dict[str, Any]] = [d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"]
        self.deployment_id = primary[0].get("id") if primary else None

    def _redeploy_again(self) -> None:
        # The tasks the first deployment started read the value just taken back: start them again on the old one.
        self.ecs.update_service(cluster=self.cluster, service=self.service, forceNewDeployment=True)

    def _check_not_failed(self, deployments: list[dict[str, Any]]) -> None:
        """The deployment this promote started failed (rolloutState FAILED: the ECS deployment circuit breaker), or
        was replaced (the circuit breaker's rollback is a new PRIMARY deployment): waiting longer cannot help."""
        if self.deployment_id is None:
            return
        ours = next((d for d in deployments if d.get("id") == self.deployment_id), None)
        if ours is None:
            raise StepFailed(f"the new deployment {self.deployment_id} was replaced by another one (a rollback by "
                             "the ECS circuit breaker?)")
        if ours.get("rolloutState") == "FAILED":
            raise StepFailed(f"the new deployment failed: {cli.one_line(ours.get('rolloutStateReason') or 'FAILED')}")

    def _wait_steady(self) -> None:
        deadline = time.monotonic() + self.wait_seconds
        while True:
            found = self.ecs.describe_services(cluster=self.cluster, services=[self.service])
            services = [s for s in found.get("services", []) if s.get("status") == "ACTIVE"]
            if not services:
                reasons = ", ".join(failure.get("reason", "?") for failure in found.get("failures", []))
                raise StepFailed(f"the service is no longer active ({reasons or 'not ACTIVE'})")
            state = services[0]
            deployments = state.get("deployments", [])
            self._check_not_failed(deployments)
            primary: dict[str, Any] = next((d for d in deployments if d.get("status") == "PRIMARY"), {})
            running, desired = state.get("runningCount"), state.get("desiredCount")
            self.running = f"{running} of {desired} task(s) running"
            ours = self.deployment_id is None or primary.get("id") == self.deployment_id
            if len(deployments) == 1 and running == desired and ours:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StepFailed(f"not steady after {self.wait_seconds} s: {len(deployments)} deployment(s), "
                                 f"{self.running}")
            time.sleep(min(POLL_SECONDS, remaining))


def _report(secret: StackSecret, args: argparse.Namespace, region: str, pending: str, current: str,
            service: Optional[tuple[str, str]], redeployed: Optional[_Deployment]) -> None:
    if current == pending:
        print(f"{secret.secret_name} ({region}): version {pending}, its first value, is {CURRENT}")
    else:
        print(f"promoted {secret.secret_name} ({region}): version {pending} is {CURRENT}; the old value (version "
              f"{current}) is {PREVIOUS} until `retire`")
    if redeployed is not None:
        print(f"redeployed ECS service {redeployed.name}: steady, {redeployed.running} (new tasks read the new value)")
    elif service is not None:
        print(f"the app's ECS service {service[0]}/{service[1]} does not exist yet: run `pulumi up --stack "
              f"{args.stack}` again, which creates it now that the value is {CURRENT}")
    vendor = secret.settings.vendor
    print("checklist:")
    print(f"  1. verify the app works with the new {secret.noun} (a request that calls {vendor}, its logs)")
    if current != pending:
        print(f"  2. delete (or expire) the old {secret.noun} in {vendor}'s dashboard")
        print(f"  3. python -m infra.secrets retire {args.stack} {args.name}")
