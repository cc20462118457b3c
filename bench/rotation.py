"""Benchmark of the rotation functions (never a timed test).

For each kind: one full rotation on moto (wall time, and the number of AWS API calls counted
with botocore event hooks), the cold import time of its handler in fresh subprocesses over a
bare `import boto3` measured in the same run, and its code size. Prints the numbers and whether
the targets are met (key and webhook rotators: < 50 KB of code, < 50 ms import over boto3).

    .venv/bin/python bench/rotation.py [--repeat 7] [--strict]

The PostgreSQL rotation needs the PostgreSQL server binaries (it starts a throwaway server);
without them that row says why it was skipped.
"""

import argparse
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


# report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="import samples and rotations per kind")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    aws_environment()
    logging.getLogger(LOGGER_NAME).setLevel(logging.WARNING)  # the rotations' own log lines

    print(f"Rotation functions benchmark (python {sys.version.split()[0]}, {os.cpu_count()} cpus)\n")
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
    print("\nall targets met" if all_met else "\nsome targets MISSED")
    return 1 if args.strict and not all_met else 0


if __name__ == "__main__":
    sys.exit(main())
