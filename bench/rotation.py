"""Benchmark of the rotation functions, issue 16 target 4 (never a timed test).

- API calls per full rotation, counted on moto with the same botocore event hooks
  (tests/lambdas/harness.py AwsCalls), step by step, for AWS's reference rotation template
  (bench/reference/, vendored unmodified) and for each of this project's rotators, in the same run.
- Cold start from the built archive: each archive is built as the stack builds it
  (components/rotation.py build_archive), unzipped, and run with `python -S -B`,
  PYTHONDONTWRITEBYTECODE=1 and only the Lambda runtime's packages (boto3's closure) beside it;
  timed: `import handler` + the handler's first Secrets Manager client, median of --repeat fresh
  interpreters, alternating with a bare `import boto3` + first client measured the same way.
- Archive sizes (zipped, unzipped, the .py code of the key and webhook rotators against their
  51,200-byte budget) and what the Postgres archive vendors beside the runtime.
- The zero-downtime scenario (issue 12, tests/runtime/zero_downtime.py): app tasks verifying a key
  with securestack_runtime while callers re-read it and the real rotators rotate it and a webhook
  secret, on a simulated clock: refusals (target 0), webhook failures (target 0), Secrets Manager
  calls per verifier per minute at steady state (target: at most 1 per refresh_seconds per secret).

    .venv/bin/python bench/rotation.py [--repeat 7] [--calls-only] [--scenario-only] [--rotations 7]

Ends with one `target 4...` line per figure and `target 4: ... ok|MISSED`; exits 1 when missed.
The PostgreSQL rotation starts a throwaway server (PostgreSQL binaries needed); without them that
row says why it was skipped and target 4 cannot be met.
"""

import argparse
import hmac
import importlib.util
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "lambdas")]

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from rotation_common.logging_json import LOGGER_NAME  # noqa: E402
from securestack.components.rotation import LAMBDA_RUNTIME_DISTRIBUTIONS, build_archive, vendored_names  # noqa: E402
from tests.lambdas.harness import (REGION, STEPS, AppCluster, AwsCalls, RotationService, code_size,  # noqa: E402
                                   isolated_python, lambda_runtime_tree, operations_per_step)

KINDS = ("api_key_rotation", "webhook_secret_rotation", "postgres_user_rotation")
FUNCTIONS = (*KINDS, "secret_age")  # every archive the stack packages
TARGETED_KINDS = ("api_key_rotation", "webhook_secret_rotation")
CODE_SIZE_BUDGET = 50 * 1024  # bytes of .py code (tests/lambdas/test_packaging.py)
ADDED_COLD_START_TARGET_MS = 50.0  # key and webhook: over a bare boto3 + first client
TEMPLATE = REPO_ROOT / "bench" / "reference" / "SecretsManagerRotationTemplate" / "lambda_function.py"
TEMPLATE_COMMIT = "b4b8eca63e1f61bbcfb18c291b640f4fc3b0deb8"
TEMPLATE_LEAVES_OUT = ("its setSecret and testSecret are empty TODOs (raise NotImplementedError after the guard's "
                       "DescribeSecret):\nnothing is set or tested; its finishSecret leaves AWSPENDING on the new "
                       "AWSCURRENT version and\nnever checks that the version it promotes has a value, or a new one")
# What each of our steps does with its calls beyond the template's (printed under the table).
OUR_STEPS = {
    "createSecret": "DescribeSecret (guards, tags); PutSecretValue of a value from the tags (random from `secrets`, no "
                    "GetRandomPassword; a retry's is refused by AWS: the stored value is read and checked); API key: "
                    "verifier record read + write (accepts the new key under its version id); Postgres: AWSCURRENT "
                    "read (its alternate user; must log in), the value names AWSCURRENT's version",
    "setSecret": "DescribeSecret (guards, tags); Postgres: AWSPENDING (made from the AWSCURRENT described) and the "
                 "master secret",
    "testSecret": "AWSPENDING by version id and stage: the guard (DescribeSecret only when it finds nothing) and the "
                  "test (format; Postgres: logs in and acts as the owner)",
    "finishSecret": "DescribeSecret; never an empty version or a copy: API key: its record entry (read + write after "
                    "the move); webhook: AWSPENDING and AWSCURRENT read; Postgres: AWSPENDING names the AWSCURRENT "
                    "described; move AWSCURRENT; AWSPENDING stays on it, as the template leaves it",
}

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


# cold start from the unzipped archive

# One fresh interpreter: CPU seconds of `import <module>`, then of its first Secrets Manager client, then the wall
# seconds of both. CPU time is what is judged: this machine's 2 cores are shared, and wall time there measures the load.
COLD_START_PROBE = """
import time
started, started_wall = time.process_time(), time.perf_counter()
{import_line}
imported = time.process_time()
{client_line}
print(imported - started, time.process_time() - imported, time.perf_counter() - started_wall)
"""
HANDLER_PROBE = COLD_START_PROBE.format(
    import_line="import handler",
    client_line="from rotation_common.protocol import secretsmanager_client; secretsmanager_client()")
BARE_PROBE = COLD_START_PROBE.format(import_line="import boto3", client_line="boto3.client('secretsmanager')")


def unzipped_archives(scratch):
    """kind -> (built archive, the directory it was unzipped to)."""
    found = {}
    for kind in FUNCTIONS:
        archive = build_archive(kind, cache_dir=scratch / "cache")
        root = scratch / "task" / kind
        with zipfile.ZipFile(archive.path) as package:
            package.extractall(root)
        found[kind] = (archive, root)
    return found


def timed(root, runtime, probe):
    result = isolated_python(root, runtime, probe)
    if result.returncode != 0:
        raise SystemExit(f"error: cold start probe failed in {root}: {result.stderr.strip().splitlines()[-1]}")
    return [float(value) for value in result.stdout.split()]


def measure_cold_starts(trees, runtime, repeat):
    """Medians over `repeat` alternating rounds, per kind and for bare boto3: (import CPU s, first client CPU s,
    both CPU s, both wall s)."""
    samples = {name: [] for name in ("boto3", *KINDS)}
    empty = runtime.parent / "empty"
    empty.mkdir(exist_ok=True)
    for _ in range(repeat):
        samples["boto3"].append(timed(empty, runtime, BARE_PROBE))
        for kind in KINDS:
            samples[kind].append(timed(trees[kind][1], runtime, HANDLER_PROBE))
    return {name: (statistics.median(s[0] for s in values), statistics.median(s[1] for s in values),
                   statistics.median(s[0] + s[1] for s in values), statistics.median(s[2] for s in values))
            for name, values in samples.items()}


# API calls of one full rotation on moto


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
    """(first rotation's seconds, median seconds of the following ones, the last rotation's calls by step)."""
    durations, by_step = [], {}
    for _ in range(max(repeat, 2)):  # the last is a steady-state rotation, whatever the first had to set up
        started = time.perf_counter()
        # NotImplementedError: the template's setSecret and testSecret, counted, and the rotation goes on.
        by_step = operations_per_step(service, handler, arn, calls, tolerated=(NotImplementedError,))
        durations.append(time.perf_counter() - started)
    return durations[0], statistics.median(durations[1:]), by_step


def bench_template(repeat):
    """AWS's template, loaded from bench/reference/ unmodified, on a secret with a current value."""
    spec = importlib.util.spec_from_file_location("reference_rotation_template", TEMPLATE)
    template = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(template)
    logging.getLogger().setLevel(logging.WARNING)  # the template sets the root logger to INFO at import
    # The template reads its endpoint from here (os.environ[...]: required); moto answers the regional one.
    os.environ["SECRETS_MANAGER_ENDPOINT"] = f"https://secretsmanager.{REGION}.amazonaws.com"
    try:
        with mock_aws():
            boto3.setup_default_session(region_name=REGION)
            service = RotationService()
            arn = service.create_secret("bench-template", {}, "initial-password")
            calls = AwsCalls(boto3.DEFAULT_SESSION)
            return measure_rotations(template, arn, service, calls, repeat)
    finally:
        os.environ.pop("SECRETS_MANAGER_ENDPOINT", None)


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

LABELS = {"template": "AWS template", "api_key_rotation": "api key", "webhook_secret_rotation": "webhook",
          "postgres_user_rotation": "postgres user"}


def report_calls(repeat):
    """Prints the side-by-side table; returns {name: total calls, None when skipped} and {name: calls of
    createSecret + finishSecret}, the template's first."""
    results = {"template": bench_template(repeat)}
    for kind in KINDS:
        results[kind] = bench_postgres(repeat) if kind == "postgres_user_rotation" else bench_standalone(kind, repeat)
    print(f"API calls of one full rotation on moto (4 steps; steady state: the last of {max(repeat, 2)} rotations), "
          "counted with the same botocore hooks")
    header = f"{'function':<16}" + "".join(f"{step:>14}" for step in STEPS) + f"{'total':>7}{'first ms':>10}{'next ms':>9}"
    print(header)
    print("-" * len(header))
    totals, implemented = {}, {}
    for name, result in results.items():
        if isinstance(result, str):
            print(f"{LABELS[name]:<16}{result}")
            totals[name] = None
            continue
        first, following, by_step = result
        totals[name] = sum(len(ops) for ops in by_step.values())
        implemented[name] = len(by_step["createSecret"]) + len(by_step["finishSecret"])
        print(f"{LABELS[name]:<16}" + "".join(f"{len(by_step[step]):>14}" for step in STEPS)
              + f"{totals[name]:>7}{first * 1000:>10.1f}{following * 1000:>9.1f}")
    print("by operation:")
    for name, result in results.items():
        if not isinstance(result, str):
            operations = {}
            for ops in result[2].values():
                for op in ops:
                    operations[op] = operations.get(op, 0) + 1
            print(f"  {LABELS[name]:<14}" + ", ".join(f"{op} {n}" for op, n in sorted(operations.items())))
    print(f"the template (aws-samples/aws-secrets-manager-rotation-lambdas@{TEMPLATE_COMMIT[:7]}, run unmodified): "
          f"{TEMPLATE_LEAVES_OUT}.\nours, per step:")
    for step, what in OUR_STEPS.items():
        print(f"  {step}: {what}")
    print()
    return totals, implemented


def report_cold_starts(trees, runtime, repeat):
    """Prints cold start figures; True when the key and webhook rotators add < the target over bare boto3."""
    starts = measure_cold_starts(trees, runtime, repeat)
    bare_import, bare_client, bare_total, bare_wall = (value * 1000 for value in starts["boto3"])
    print(f"cold start from the unzipped archive (python -S -B, PYTHONDONTWRITEBYTECODE=1, only the runtime's "
          f"{', '.join(sorted(LAMBDA_RUNTIME_DISTRIBUTIONS))}\nbeside it), medians of {repeat} alternating fresh "
          f"interpreters, CPU ms; bare `import boto3` {bare_import:.1f} + first client {bare_client:.1f} = "
          f"{bare_total:.1f} (wall {bare_wall:.1f})")
    header = f"{'kind':<26}{'import':>8}{'client':>8}{'total':>8}{'wall':>8}{'added':>8}  target (added)"
    print(header)
    print("-" * len(header))
    met = True
    for kind in KINDS:
        imported, client, total, wall = (value * 1000 for value in starts[kind])
        added = total - bare_total
        verdict = "-"
        if kind in TARGETED_KINDS:
            ok = added < ADDED_COLD_START_TARGET_MS
            met &= ok
            verdict = f"< {ADDED_COLD_START_TARGET_MS:g} ms {'ok' if ok else 'MISSED'}"
        print(f"{kind:<26}{imported:>8.1f}{client:>8.1f}{total:>8.1f}{wall:>8.1f}{added:>8.1f}  {verdict}")
    print("import: `import handler` (boto3 included; the archive's code, pg8000 for Postgres, compiled from source: "
          "Lambda's /var/task\nis read-only and holds no bytecode); client: the handler's own first Secrets Manager "
          "client; added: CPU total over bare boto3's\n")
    return met, {kind: starts[kind][2] * 1000 - bare_total for kind in KINDS}


def report_archives(trees):
    """Prints every archive's sizes; (code sizes within budget, Postgres vendors only what the runtime lacks)."""
    print("archives as the stack builds them (components/rotation.py build_archive)")
    header = f"{'function':<26}{'zipped KB':>10}{'unzipped KB':>12}{'code bytes':>11}  vendored beside the runtime"
    print(header)
    print("-" * len(header))
    within_budget, runtime_free = True, True
    for kind, (archive, root) in trees.items():
        unzipped = sum(path.stat().st_size for path in root.rglob("*") if path.is_file())
        distributions = sorted({entry.split("/")[0].removesuffix(".dist-info") for entry in archive.entries
                                if entry.split("/")[0].endswith(".dist-info")})
        carried_runtime = {d.rsplit("-", 1)[0].lower().replace("_", "-") for d in distributions} \
            & LAMBDA_RUNTIME_DISTRIBUTIONS
        runtime_free &= not carried_runtime
        code = code_size(kind) if kind in KINDS else None
        if kind in TARGETED_KINDS:
            within_budget &= code < CODE_SIZE_BUDGET
        named = ", ".join(distributions) or "-"
        print(f"{kind:<26}{archive.path.stat().st_size / 1024:>10.1f}{unzipped / 1024:>12.1f}"
              f"{code if code is not None else '-':>11}  {named}")
    print(f"code bytes: the .py files of the kind and rotation_common (key, webhook budget {CODE_SIZE_BUDGET:,}); "
          f"VENDOR lists {vendored_names(REPO_ROOT / 'lambdas' / 'postgres_user_rotation')} (+ dependencies)\n")
    return within_budget, runtime_free


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="cold start samples and rotations per kind (>= 5)")
    parser.add_argument("--strict", action="store_true", help="kept for old callers: a missed target exits 1 anyway")
    parser.add_argument("--calls-only", action="store_true", help="only the API call comparison")
    parser.add_argument("--scenario-only", action="store_true", help="run only the zero-downtime scenario")
    parser.add_argument("--rotations", type=int, default=7, help="key rotations of the scenario (webhook: one less)")
    parser.add_argument("--steady-minutes", type=float, default=10, help="simulated minutes of the steady state")
    args = parser.parse_args()
    aws_environment()
    logging.getLogger(LOGGER_NAME).setLevel(logging.WARNING)  # the rotations' own log lines
    # The scenario's app tasks start before the key's first value exists and say so once; not a result.
    logging.getLogger("securestack.runtime").setLevel(logging.ERROR)

    print(f"Rotation functions benchmark (python {sys.version.split()[0]}, {os.cpu_count()} cpus, load "
          f"{os.getloadavg()[0]:.2f})\n")
    if args.scenario_only:
        met = report_zero_downtime(args.rotations, args.steady_minutes, args.repeat)
        print(f"target 4 (zero-downtime scenario): {'ok' if met else 'MISSED'}")
        return 0 if met else 1
    totals, steps_the_template_implements = report_calls(args.repeat)
    template = totals.pop("template")
    calls_met = all(total is not None and total <= template for total in totals.values())
    figure = ", ".join(f"{LABELS[k]} {'skipped' if v is None else v}" for k, v in totals.items())
    implemented = ", ".join(f"{LABELS[k]} {v}" for k, v in steps_the_template_implements.items())
    figure += f" (createSecret + finishSecret, the steps it implements: {implemented})"
    lines = [f"target 4 (API calls per full rotation <= the template's {template}): {figure}"
             f"  {'ok' if calls_met else 'MISSED'}"]
    verdicts = [calls_met]
    if not args.calls_only:
        with tempfile.TemporaryDirectory() as scratch:
            trees = unzipped_archives(Path(scratch))
            runtime = lambda_runtime_tree(Path(scratch) / "runtime")
            cold_met, added = report_cold_starts(trees, runtime, max(args.repeat, 5))
            budget_met, runtime_free = report_archives(trees)
            postgres_zip = trees["postgres_user_rotation"][0].path.stat().st_size / 1024
        zero_met = report_zero_downtime(args.rotations, args.steady_minutes, args.repeat)
        lines += [
            "target 4 (cold start from the unzipped archive + first client, over bare boto3; key, webhook < "
            f"{ADDED_COLD_START_TARGET_MS:g} ms): " + ", ".join(f"{LABELS[k]} {v:+.1f} ms" for k, v in added.items())
            + f"  {'ok' if cold_met else 'MISSED'}",
            f"target 4 (Postgres archive carries only what the Lambda runtime lacks): {postgres_zip:.0f} KB zipped"
            f"  {'ok' if runtime_free else 'MISSED'}",
            f"target 4 (key, webhook code < {CODE_SIZE_BUDGET:,} bytes): "
            + ", ".join(f"{LABELS[k]} {code_size(k):,}" for k in TARGETED_KINDS) + f"  {'ok' if budget_met else 'MISSED'}",
            f"target 4 (zero downtime: no refusal, no webhook failure, <= 1 call per secret per refresh): "
            f"{'ok' if zero_met else 'MISSED'}",
        ]
        verdicts += [cold_met, runtime_free, budget_met, zero_met]
    print("\n".join(lines))
    met = all(verdicts)
    print(f"target 4: {sum(verdicts)} of {len(verdicts)} figures met  {'ok' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
