"""Benchmark of the rotation functions (never a timed test).

For each kind: one full rotation on moto (wall time, and the number of AWS API calls counted
with botocore event hooks), the cold import time of its handler in fresh subprocesses over a
bare `import boto3` measured in the same run, and its code size. Prints the numbers and whether
the targets are met (key and webhook rotators: < 50 KB of code, < 50 ms import over boto3).

The zero-downtime scenario (issue 12, tests/runtime/zero_downtime.py): app tasks verifying a key with
securestack_runtime while callers re-read it on their own schedules and the real rotators rotate it and a
webhook secret, on a simulated clock: requests, refusals (target 0), webhook failures (target 0), p50/p99 of
`ApiKeyVerifier.verify` at steady state against a bare `hmac.compare_digest` measured the same way, and
Secrets Manager calls per verifier per minute at steady state (target: at most 1 per refresh_seconds per secret).

    .venv/bin/python bench/rotation.py [--repeat 7] [--strict] [--scenario-only] [--rotations 7]

The PostgreSQL rotation needs the PostgreSQL server binaries (it starts a throwaway server);
without them that row says why it was skipped.
"""

import argparse
import hmac
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "lambdas")]

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from rotation_common.logging_json import LOGGER_NAME  # noqa: E402
from tests.lambdas.harness import REGION, AppCluster, AwsCalls, RotationService, archive_tree, code_size  # noqa: E402

KINDS = ("api_key_rotation", "webhook_secret_rotation", "postgres_user_rotation")
TARGETED_KINDS = ("api_key_rotation", "webhook_secret_rotation")
CODE_SIZE_TARGET = 50 * 1024
IMPORT_OVER_BOTO3_TARGET_MS = 50.0

# One fresh interpreter: cold `import <module>`; with boto3_first, boto3 is imported (and timed)
# before it, so the second number is what the module adds on top of boto3.
IMPORT_PROBE = """
import time
timings = []
for module in {modules!r}:
    started = time.perf_counter()
    __import__(module)
    timings.append(time.perf_counter() - started)
print(" ".join(map(str, timings)))
"""

STANDALONE_TAGS = {
    "api_key_rotation": {
        "securestack:env": "bench",
        "securestack:name": "bench-key",
        "securestack:kind": "api-key",
        "securestack:scopes": "products:read orders:write",
        "securestack:key-prefix": "sk_test_",
        "securestack:verifier-secret": "securestack/bench/api-key-verifiers/bench-key",
    },
    "webhook_secret_rotation": {
        "securestack:env": "bench",
        "securestack:name": "bench-webhook",
        "securestack:kind": "webhook-secret",
    },
}


# import time


def timed_imports(modules, cwd):
    """Seconds each of `modules` takes to import, in order, in a fresh interpreter."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE.format(modules=list(modules))],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return [float(value) for value in result.stdout.split()]


def measure_imports(repeat):
    """Medians, in one interleaved run, of: a cold bare `import boto3`; each handler's cold
    import (boto3 included); and what each handler adds when boto3 is already imported."""
    samples = {"boto3": [], **{kind: [] for kind in KINDS}, **{("added", kind): [] for kind in KINDS}}
    with tempfile.TemporaryDirectory() as scratch:
        trees = {kind: archive_tree(kind, Path(scratch) / kind) for kind in KINDS}
        for _ in range(repeat):
            samples["boto3"] += timed_imports(["boto3"], scratch)
            for kind in KINDS:
                samples[kind] += timed_imports(["handler"], trees[kind])
                samples[("added", kind)].append(timed_imports(["boto3", "handler"], trees[kind])[1])
    return {name: statistics.median(values) for name, values in samples.items()}


# rotations on moto


def aws_environment():
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
    }.items():
        os.environ[name] = value
    os.environ.pop("SECRETS_MANAGER_ENDPOINT", None)


def measure_rotations(handler, arn, service, calls, repeat):
    """(first rotation's seconds, median seconds of the following ones, API calls of one)."""
    durations, call_counts = [], []
    for _ in range(repeat):
        token = service.start(arn)
        before = calls.count()
        started = time.perf_counter()
        service.rotate(handler, arn, token)
        durations.append(time.perf_counter() - started)
        call_counts.append(calls.count() - before)
    following = durations[1:] or durations
    return durations[0], statistics.median(following), call_counts[0], calls_by_operation(calls, call_counts[-1])


def calls_by_operation(calls, last_n):
    counts = {}
    for name, _ in calls.calls[-last_n:]:
        counts[name] = counts.get(name, 0) + 1
    return counts


def bench_standalone(kind, repeat):
    import importlib

    handler = importlib.import_module(f"{kind}.handler")
    from rotation_common.metadata import SecretMetadata

    with mock_aws():
        boto3.setup_default_session(region_name=REGION)
        service = RotationService()
        value = handler.ROTATOR.new_value(SecretMetadata(STANDALONE_TAGS[kind]), None)
        record = STANDALONE_TAGS[kind].get("securestack:verifier-secret")
        if record:  # an API key's verifier record, as the stack creates it: no value, the rotator writes it
            service.create_secret(record, {"securestack:kind": "api-key-verifier"}, rotation=False)
        arn = service.create_secret(f"bench-{kind}", STANDALONE_TAGS[kind], value)
        calls = AwsCalls(boto3.DEFAULT_SESSION)
        return measure_rotations(handler, arn, service, calls, repeat)


def bench_postgres(repeat):
    from tests.support.postgres import PostgresUnavailable, running_postgres

    import postgres_user_rotation.handler as handler

    try:
        server_context = running_postgres(tls=True)
        server = server_context.__enter__()
    except PostgresUnavailable as missing:
        return f"skipped: {missing}"
    try:
        os.environ["PG_CA_BUNDLE"] = server.ca_file
        cluster = AppCluster.create(server)
        with mock_aws():
            boto3.setup_default_session(region_name=REGION)
            service = RotationService()
            master = {"username": cluster.master_user, "password": cluster.master_password}
            master_arn = service.client.create_secret(Name="rds!db-bench", SecretString=json.dumps(master))["ARN"]
            tags = {
                "securestack:env": "bench",
                "securestack:name": "bench-db",
                "securestack:kind": "postgres-user",
                "securestack:db-host": server.host,
                "securestack:db-port": str(server.port),
                "securestack:db-name": cluster.dbname,
                "securestack:db-username": "bench_app",
                "securestack:db-owner-role": "bench_owner",
                "securestack:master-secret-arn": master_arn.replace("!", "@21"),
            }
            arn = service.create_secret("bench-db-user", tags, app_user(server, cluster, master_arn))
            calls = AwsCalls(boto3.DEFAULT_SESSION)
            return measure_rotations(handler, arn, service, calls, repeat)
    finally:
        server_context.__exit__(None, None, None)


def app_user(server, cluster, master_arn):
    """The base user as a DBA made it, and the secret value that holds it."""
    import secrets

    from postgres_user_rotation.database import quote_literal

    password = secrets.token_urlsafe(24)
    connection = server.connect_superuser(cluster.dbname)
    try:
        connection.run(f"CREATE ROLE bench_app LOGIN PASSWORD {quote_literal(password)}")
    finally:
        connection.close()
    return {
        "engine": "postgres",
        "host": server.host,
        "port": server.port,
        "dbname": cluster.dbname,
        "username": "bench_app",
        "password": password,
        "masterarn": master_arn,
    }


# the zero-downtime scenario (issue 12)

SCENARIO_GAPS = (0, 0.05, 0.4, 1.5, 2.6, 0.1)  # seconds between rotation steps, cycled
STEADY_REFRESH_SECONDS = 60
STEADY_KEYS = 4  # the shipped catalog's self-issued keys
STEADY_REQUESTS_PER_SECOND = 20


def run_zero_downtime(rotations):
    """The judged scenario with `rotations` key rotations (the middle one revoking the previous key)."""
    import pytest

    from tests.lambdas.harness import RotationService, patch_moto_first_value
    from tests.runtime.zero_downtime import Scenario

    key_plan = [(SCENARIO_GAPS[i % len(SCENARIO_GAPS)], i == rotations // 2 and rotations >= 3) for i in range(rotations)]
    webhook_plan = [SCENARIO_GAPS[i % len(SCENARIO_GAPS)] for i in range(max(rotations - 1, 1))]
    with pytest.MonkeyPatch.context() as monkeypatch, mock_aws():
        patch_moto_first_value(monkeypatch, first_value_becomes_current=False)
        boto3.setup_default_session(region_name=REGION)
        scenario = Scenario(RotationService())
        scenario.start()
        started = scenario.clock.now
        scenario.run_rotations(key_plan, webhook_plan)
        return scenario.figures, scenario.clock.now - started


def percentiles_us(samples_ns):
    ordered = sorted(samples_ns)
    pick = lambda fraction: ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] / 1000  # noqa: E731
    return pick(0.5), pick(0.99)


def run_steady_state(minutes, repeat):
    """Verifiers of STEADY_KEYS keys and a webhook at STEADY_REQUESTS_PER_SECOND on a simulated clock: AWS calls
    per minute per verifier, and the wall time of each verify next to a bare hmac.compare_digest."""
    import hashlib
    import secrets as random

    from securestack_runtime import ApiKeyVerifier, WebhookSigner, WebhookVerifier
    from tests.runtime.support import ClientCalls, FakeClock, app_client, create_key, key_secret_name, new_key

    with mock_aws():
        boto3.setup_default_session(region_name=REGION)
        admin = app_client()
        clock = FakeClock()
        keys = {}
        for index in range(STEADY_KEYS):
            name = f"key-{index}"
            keys[name] = [new_key() for _ in range(3)]
            create_key(admin, name, digests=[(keys[name][0], "current", None), (keys[name][1], "pending", None),
                                             (keys[name][2], "previous", clock.now + 7 * 86400)])
        webhook = admin.create_secret(Name="securestack/bench/webhooks/w", SecretString=json.dumps({"secret": "whsec_" + random.token_urlsafe(32)}))["ARN"]
        verifier_calls, signer_calls, receiver_calls = (ClientCalls(app_client()) for _ in range(3))
        options = {"refresh_seconds": STEADY_REFRESH_SECONDS, "clock": clock, "sleep": clock.sleep}
        verifier = ApiKeyVerifier([key_secret_name(name) for name in keys], client=verifier_calls.client, **options)
        signer = WebhookSigner(webhook, client=signer_calls.client, **options)
        receiver = WebhookVerifier(webhook, client=receiver_calls.client, **options)
        presented = keys[f"key-{STEADY_KEYS - 1}"][0]  # the last candidate compared: no shortcut either way
        verifier.verify(presented), receiver.verify(b"{}", signer.sign(b"{}"))  # warm: first loads
        warm = {name: calls.count() for name, calls in
                (("verifier", verifier_calls), ("signer", signer_calls), ("receiver", receiver_calls))}
        verify_ns, refused = [], 0
        ticks = int(minutes * 60 * STEADY_REQUESTS_PER_SECOND)
        for _ in range(ticks):
            started = time.perf_counter_ns()
            identity = verifier.verify(presented)
            verify_ns.append(time.perf_counter_ns() - started)
            refused += identity is None
            body = b'{"event":"order.paid"}'
            refused += not receiver.verify(body, signer.sign(body))
            clock.advance(1 / STEADY_REQUESTS_PER_SECOND)
        first, second = hashlib.sha256(b"a").digest(), hashlib.sha256(b"a").digest()
        bare_ns = []
        for _ in range(max(ticks, 1000) * max(repeat // 7, 1)):
            started = time.perf_counter_ns()
            hmac.compare_digest(first, second)
            bare_ns.append(time.perf_counter_ns() - started)
        per_minute = {
            "ApiKeyVerifier": ((verifier_calls.count() - warm["verifier"]) / minutes, STEADY_KEYS),
            "WebhookSigner": ((signer_calls.count() - warm["signer"]) / minutes, 1),
            "WebhookVerifier": ((receiver_calls.count() - warm["receiver"]) / minutes, 1),
        }
        return {"verify": percentiles_us(verify_ns), "bare": percentiles_us(bare_ns), "refused": refused,
                "per_minute": per_minute, "requests": ticks}


def report_zero_downtime(rotations, steady_minutes, repeat):
    """Prints the scenario's figures; True when refusals and failures are 0 and the call target is met."""
    figures, simulated = run_zero_downtime(rotations)
    p50, p99 = figures.percentile(0.5) * 1e6, figures.percentile(0.99) * 1e6
    print(f"zero-downtime scenario: real rotators on moto, 4 callers x 20 requests/s + one request each after every\n"
          f"rotator API call, 2 app tasks (refresh 5 s and 60 s), {simulated:.0f} s simulated")
    header = (f"{'requests':>9}{'refusals':>9}{'superseded':>11}{'key rot':>8}{'hook rot':>9}{'webhooks':>9}"
              f"{'failed':>7}{'p50 us':>8}{'p99 us':>8}  target")
    print(header)
    print("-" * len(header))
    met = figures.refusals == 0 and figures.webhook_failures == 0 and figures.rotations.get("api-key") == rotations
    print(f"{figures.requests:>9}{figures.refusals:>9}{figures.refusals_of_superseded:>11}"
          f"{figures.rotations.get('api-key', 0):>8}{figures.rotations.get('webhook', 0):>9}{figures.webhooks:>9}"
          f"{figures.webhook_failures:>7}{p50:>8.1f}{p99:>8.1f}  {'met' if met else 'MISSED'}")
    print("refusals: of a key Secrets Manager holds as current, pending (published) or previous in grace (target 0);\n"
          "superseded: of keys two rotations old or revoked, then re-read; p50/p99: verify, reloads included\n")

    steady = run_steady_state(steady_minutes, repeat)
    (v50, v99), (b50, b99) = steady["verify"], steady["bare"]
    print(f"steady state: {STEADY_KEYS} keys x 3 digests, {STEADY_REQUESTS_PER_SECOND} requests/s for "
          f"{steady_minutes:g} simulated minutes, refresh_seconds={STEADY_REFRESH_SECONDS}")
    print(f"verify p50 {v50:.2f} us p99 {v99:.2f} us; bare hmac.compare_digest p50 {b50:.2f} us p99 {b99:.2f} us "
          f"(x{v50 / b50:.1f} / x{v99 / b99:.1f}); refused {steady['refused']} of {steady['requests']}")
    target = 60 / STEADY_REFRESH_SECONDS
    for name, (per_minute, secret_count) in steady["per_minute"].items():
        per_secret = per_minute / secret_count
        ok = per_secret <= target
        met &= ok
        print(f"  {name:<16} {per_minute:>6.2f} Secrets Manager calls/min for {secret_count} secret(s) = "
              f"{per_secret:.2f} per secret per minute (target <= {target:g})  {'met' if ok else 'MISSED'}")
    met &= steady["refused"] == 0
    return met


# report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="import samples and rotations per kind")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--scenario-only", action="store_true", help="run only the zero-downtime scenario")
    parser.add_argument("--rotations", type=int, default=7, help="key rotations of the scenario (webhook: one less)")
    parser.add_argument("--steady-minutes", type=float, default=10, help="simulated minutes of the steady state")
    args = parser.parse_args()
    aws_environment()
    logging.getLogger(LOGGER_NAME).setLevel(logging.WARNING)  # the rotations' own log lines
    # The scenario's app tasks start before the key's first value exists and say so once; not a result.
    logging.getLogger("securestack.runtime").setLevel(logging.ERROR)

    print(f"Rotation functions benchmark (python {sys.version.split()[0]}, {os.cpu_count()} cpus)\n")
    if args.scenario_only:
        met = report_zero_downtime(args.rotations, args.steady_minutes, args.repeat)
        return 1 if args.strict and not met else 0
    imports = measure_imports(args.repeat)
    baseline_ms = imports["boto3"] * 1000
    print(f"cold imports, medians of {args.repeat} fresh interpreters; bare `import boto3` = {baseline_ms:.1f} ms")
    all_met = True
    header = f"{'kind':<26}{'code KB':>9}{'cold ms':>9}{'vs boto3':>10}{'added ms':>10}  target"
    print(header)
    print("-" * len(header))
    for kind in KINDS:
        size_kb = code_size(kind) / 1024
        cold_ms = imports[kind] * 1000
        added_ms = imports[("added", kind)] * 1000
        verdict = "-"
        if kind in TARGETED_KINDS:
            met = size_kb * 1024 < CODE_SIZE_TARGET and added_ms < IMPORT_OVER_BOTO3_TARGET_MS
            all_met &= met
            verdict = "met" if met else "MISSED"
        print(f"{kind:<26}{size_kb:>9.1f}{cold_ms:>9.1f}{cold_ms / baseline_ms:>9.2f}x{added_ms:>10.1f}  {verdict}")
    print(
        "cold ms: fresh interpreter, boto3 included; vs boto3: ratio to the bare boto3 import;\n"
        "added ms: the handler's import with boto3 already imported (in a fresh interpreter).\n"
        "targets (key, webhook): code < 50 KB, added import < 50 ms over boto3\n"
    )

    print(f"one full rotation on moto (4 steps), {args.repeat} rotations per kind")
    header = f"{'kind':<26}{'first ms':>10}{'next ms':>10}{'API calls':>11}  by operation"
    print(header)
    print("-" * len(header))
    for kind in KINDS:
        result = bench_postgres(args.repeat) if kind == "postgres_user_rotation" else bench_standalone(kind, args.repeat)
        if isinstance(result, str):
            print(f"{kind:<26}{result}")
            continue
        first, following, api_calls, by_operation = result
        detail = ", ".join(f"{name} {count}" for name, count in sorted(by_operation.items()))
        print(f"{kind:<26}{first * 1000:>10.1f}{following * 1000:>10.1f}{api_calls:>11}  {detail}")
    print()
    all_met &= report_zero_downtime(args.rotations, args.steady_minutes, args.repeat)
    print("\nall targets met" if all_met else "\nsome targets MISSED")
    return 1 if args.strict and not all_met else 0


if __name__ == "__main__":
    sys.exit(main())
