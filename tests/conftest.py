"""Suite-wide fixtures and hooks. Kept minimal: the shared throwaway PostgreSQL server and the session ledger."""

import gc
import os
import sys
from pathlib import Path

import pytest

# `tests.support` must import whether or not `tests` is a package and whatever rootdir pytest picks.
_REPO_ROOT = str(Path(__file__).resolve().parents[1])
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

# First, before any test module imports the recording engine: count recordings and preview subprocesses.
from tests.support import session_ledger  # noqa: E402

session_ledger.install()

from tests.support.postgres import PostgresUnavailable, running_postgres  # noqa: E402


def pytest_configure(config):
    """The session ledger: no stack recorded twice, no preview subprocess run twice (tests/support/session_ledger)."""
    config.pluginmanager.register(session_ledger.SessionLedger(config), "securestack-session-ledger")


# The cyclic garbage collector, in the test processes only (never in the commands the tests start, nor in bench/):
# the stack program allocates hundreds of thousands of objects per recording (issue 16: the collector is 45-65 % of
# program CPU), and every young collection that overflows into the oldest generation walks everything the imports
# made (pulumi_aws, moto, boto3), which never becomes garbage. `gc.freeze()` moves those objects to the permanent
# generation the collector ignores (Python docs, gc.freeze: "ignore all the future collections"), and larger
# thresholds make collections rarer; cycles are still collected, so memory stays bounded. Measured on
# tests/test_settings_two_pass.py: 39.0 s -> 20.2 s CPU (user+sys), same 67 passed.
GC_THRESHOLDS = (50_000, 50, 100)


def pytest_collection_finish(session):
    """Once every test module is imported (each pytest-xdist worker collects on its own)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server on 127.0.0.1 with TLS (verify `ca_file`) and scram-sha-256 only.

    Its superuser connection (`postgres_server.connect_superuser()`) is usable by any test; tests
    that create roles or tables use names of their own so they don't collide.
    """
    try:
        with running_postgres(tls=True) as server:
            yield server
    except PostgresUnavailable as missing:
        # .ci/run installs PostgreSQL and sets this: there a missing server is a failure, not a quiet skip.
        if os.environ.get("SECURESTACK_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here (SECURESTACK_REQUIRE_POSTGRES=1): {missing}")
        pytest.skip(str(missing))


# Fails a test when a secret value it registered appears in its output, logs or its subprocesses' (tests/support).
from tests.support.leaks import leak_guard  # noqa: E402,F401
