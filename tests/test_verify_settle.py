"""`infra.verify --settle-seconds N`: reads that lag a deployment are re-read, for a bounded time.

A moto server on 127.0.0.1 seeded like the deployed stack (tests/test_verify.py's seed), behind a proxy
(tests/support/fault_proxy.py) whose first answers to one read are stale: moto's answer recorded before the change
that `pulumi up` made, given again to the next K matching requests, as an endpoint that has not caught up. A fake
clock and sleep stand in for time, so no test waits.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any, Callable

import boto3
import pytest

from securestack.infra import verify
from tests.support.fault_proxy import FaultProxy, Stale, fault_proxy  # noqa: F401 (fault_proxy: a fixture)
from tests.support.moto_server import moto_url  # noqa: F401 (a fixture)
from tests.support.stacks import settings_of
from tests.test_verify import ALL_CHECKS, Seeded, Variant, _finish_rotation, _outputs_without, seed
from tests.test_verify import account  # noqa: F401 (a fixture)

STACK = "dev"


class FakeTime:
    """A monotonic clock that only the sleeps move."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0, "a wait of nothing is a busy loop"
        self.sleeps.append(seconds)
        self.now += seconds


def settling(fake: FakeTime, seconds: int, waits: list[str] | None = None) -> verify.Settling:
    return verify.Settling(seconds, clock=fake.clock, sleep=fake.sleep, jitter=lambda: 0.5,
                           on_wait=(waits.append if waits is not None else lambda message: None))


def through(proxy: FaultProxy, service: str) -> Any:
    return boto3.client(service, region_name=settings_of(STACK).region, endpoint_url=proxy.url)


# ---------------------------------------------------------------------------------------------------------------
# Stale reads: each records the answer of the state before the change, then makes the account what the stack says
# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StaleRead:
    check: str
    make: Callable[[Seeded, FaultProxy], Stale]  # returns the recorded stale answer, the account fresh
    resource: Callable[[Seeded], str]


def _rotation_not_finished(seeded: Seeded, proxy: FaultProxy) -> Stale:
    """The first rotation after `up` is asynchronous (RotateSecret): DescribeSecret still shows AWSPENDING on the
    new version until the rotator's finishSecret, then a read may still answer the state before it."""
    arn = seeded.secret_arns[0]
    stale = proxy.record("secretsmanager.DescribeSecret", matching=arn.encode())
    stages = through(proxy, "secretsmanager").describe_secret(SecretId=arn)["VersionIdsToStages"]
    assert any("AWSPENDING" in labels and "AWSCURRENT" not in labels for labels in stages.values())
    _finish_rotation(seeded.clients("secretsmanager"), arn)
    return stale


def _retention_just_modified(seeded: Seeded, proxy: FaultProxy) -> Stale:
    """RDS right after a modify: DescribeDBInstances still answers the previous backup retention."""
    rds = seeded.clients("rds")
    configured = settings_of(STACK).database.backup_retention_days
    rds.modify_db_instance(DBInstanceIdentifier=seeded.database_identifier, BackupRetentionPeriod=1,
                           ApplyImmediately=True)
    stale = proxy.record("POST /", matching=b"Action=DescribeDBInstances")
    old = through(proxy, "rds").describe_db_instances(DBInstanceIdentifier=seeded.database_identifier)
    assert old["DBInstances"][0]["BackupRetentionPeriod"] == 1 != configured
    rds.modify_db_instance(DBInstanceIdentifier=seeded.database_identifier, BackupRetentionPeriod=configured,
                           ApplyImmediately=True)
    return stale


STALE_READS = {
    "rotation-unfinished": (Variant(stack=STACK, finish_rotations=False),
                            StaleRead("secret.last-rotation", _rotation_not_finished, lambda s: s.secret_arns[0])),
    "retention-just-modified": (Variant(stack=STACK),
                                StaleRead("database.backup-retention", _retention_just_modified,
                                          lambda s: s.database_identifier)),
}


@pytest.fixture
def stale_account(account, moto_url, fault_proxy):
    """(seeded, stale answer, the stale read) for a scenario, verification pointed at the proxy."""
    fault_proxy.reset()

    def make(scenario: str) -> tuple[Seeded, Stale, StaleRead]:
        variant, read = STALE_READS[scenario]
        account(STACK)
        seeded = seed(STACK, moto_url, variant)
        return seeded, read.make(seeded, fault_proxy), read
    yield make
    fault_proxy.reset()


def verify_through(proxy: FaultProxy, seeded: Seeded, how: verify.Settling) -> list[verify.CheckResult]:
    settings = settings_of(STACK)
    return verify.verify_settled(seeded.outputs, settings, verify.Aws(settings.region, proxy.url), how)


def failures(results: list[verify.CheckResult]) -> list[tuple[str, str]]:
    return [(r.check, r.resource) for r in results if r.status == verify.FAIL]


@pytest.mark.parametrize("scenario", sorted(STALE_READS))
def test_a_stale_read_that_turns_fresh_within_the_deadline_passes(scenario, stale_account, fault_proxy):
    seeded, stale, _ = stale_account(scenario)
    stale.replay(times=3)
    fake, waits = FakeTime(), []
    results = verify_through(fault_proxy, seeded, settling(fake, 60, waits))

    assert failures(results) == [], verify.render_text(STACK, results)
    assert stale.replayed == 3  # the first read and two re-reads were stale, the third re-read fresh
    # capped exponential backoff, jitter fixed at the middle: 3/4 of 2 s, 4 s, 8 s
    assert fake.sleeps == [1.5, 3.0, 6.0]
    assert len(waits) == 3 and all("1 check(s) failing" in w for w in waits), waits
    assert {r.check for r in results} == ALL_CHECKS


@pytest.mark.parametrize("scenario", sorted(STALE_READS))
def test_a_read_still_stale_at_the_deadline_fails_naming_the_check(scenario, stale_account, fault_proxy):
    seeded, stale, read = stale_account(scenario)
    stale.replay(times=10_000)
    fake = FakeTime()
    results = verify_through(fault_proxy, seeded, settling(fake, 20))

    assert failures(results) == [(read.check, read.resource(seeded))], verify.render_text(STACK, results)
    [line] = [r.line() for r in results if r.status == verify.FAIL]
    assert line.startswith(f"FAIL {read.check} [{read.resource(seeded)}]: ") and \
        line.endswith("(still failing after 20s)"), line
    # no wait goes past the deadline; the last read is at it
    assert sum(fake.sleeps) == pytest.approx(20) and fake.now == pytest.approx(20)
    assert fake.sleeps[:-1] == sorted(fake.sleeps[:-1])  # the last one is cut to the deadline
    assert stale.replayed == len(fake.sleeps) + 1 and stale.forwarded == 1  # only the recording reached moto


def test_settle_seconds_zero_reads_once(stale_account, fault_proxy, monkeypatch, capsys):
    """The drift job's `--settle-seconds 0`: every check read once, a stale answer is the answer."""
    seeded, stale, read = stale_account("rotation-unfinished")
    stale.replay(times=1)
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(seeded.outputs)))
    code = verify.main([STACK, "--settle-seconds", "0", "--endpoint-url", fault_proxy.url])
    captured = capsys.readouterr()

    assert code == verify.EXIT_FAILED, captured.out
    [line] = [line for line in captured.out.splitlines() if line.startswith("FAIL ")]
    assert line.startswith(f"FAIL {read.check} [{read.resource(seeded)}]: ") and "still failing" not in line
    assert stale.replayed == 1 and stale.forwarded == 1  # one read of the secret: the stale one
    assert "settling:" not in captured.err


def test_a_failure_the_outputs_cause_is_not_waited_for(account, moto_url):
    """No wait changes the outputs file: a check that cannot run for a missing export fails at once."""
    account(STACK)
    seeded = seed(STACK, moto_url)
    fake = FakeTime()
    settings = settings_of(STACK)
    results = verify.verify_settled(_outputs_without(seeded.outputs, "loadBalancer.webAclArn"), settings,
                                    verify.Aws(settings.region, moto_url), settling(fake, 300))
    [failed] = [r for r in results if r.status == verify.FAIL]
    assert failed.check == "load-balancer.waf-associated" and failed.detail.startswith("cannot check:")
    assert "still failing" not in failed.detail and fake.sleeps == []


def test_a_failure_aws_answers_is_re_read_until_the_deadline_even_if_no_wait_fixes_it(account, moto_url):
    """A weak TLS policy is configuration, yet it looks like a listener change not yet visible: re-read (cheap),
    bounded by the deadline, then failed naming the check."""
    account(STACK)
    seeded = seed(STACK, moto_url)
    seeded.clients("elbv2").modify_listener(ListenerArn=seeded.https_listener_arn,
                                            SslPolicy="ELBSecurityPolicy-2016-08")
    fake = FakeTime()
    settings = settings_of(STACK)
    results = verify.verify_settled(seeded.outputs, settings, verify.Aws(settings.region, moto_url),
                                    settling(fake, 45))
    [failed] = [r for r in results if r.status == verify.FAIL]
    assert failed.check == "load-balancer.tls-policy" and failed.resource == seeded.https_listener_arn
    assert failed.detail.endswith("(still failing after 45s)") and fake.now == pytest.approx(45)


def test_backoff_doubles_up_to_its_cap_with_jitter():
    low = verify.Settling(jitter=lambda: 0.0)
    high = verify.Settling(jitter=lambda: 0.999)
    assert [low.backoff(n) for n in range(6)] == [1.0, 2.0, 4.0, 8.0, 15.0, 15.0]
    assert all(low.backoff(n) < high.backoff(n) < 2 * low.backoff(n) for n in range(6))
    assert max(high.backoff(n) for n in range(40)) <= verify.MAX_BACKOFF_SECONDS


def test_every_check_says_why_it_may_need_time():
    assert set(verify.EVENTUALLY_CONSISTENT) == ALL_CHECKS
    assert all(reason.strip() for reason in verify.EVENTUALLY_CONSISTENT.values())


@pytest.mark.parametrize("value, message", [
    ("-1", "-1 is outside 0..3600 seconds"), ("3601", "3601 is outside 0..3600 seconds"),
    ("abc", "'abc' is not a whole number of seconds"), ("2.5", "'2.5' is not a whole number of seconds"),
])
def test_bad_settle_seconds_are_one_line_and_exit_two(value, message, capsys):
    with pytest.raises(SystemExit) as exited:
        verify.main([STACK, "--settle-seconds", value])
    captured = capsys.readouterr()
    assert exited.value.code == verify.EXIT_UNUSABLE and captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("error: argument --settle-seconds: ") \
        and message in captured.err


def test_the_default_settle_is_the_contracts(monkeypatch):
    seen: list[verify.Settling] = []
    monkeypatch.setattr(verify, "run", lambda *args, settling, **kwargs: seen.append(settling) or [])
    assert verify.main([STACK]) == verify.EXIT_OK
    assert seen[0].seconds == verify.DEFAULT_SETTLE_SECONDS == 300
