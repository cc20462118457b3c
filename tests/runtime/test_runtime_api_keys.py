"""securestack_runtime.ApiKeyVerifier against moto: every call and every failure of the issue's item 1."""

import json
import threading
import time

import pytest

import securestack_runtime.api_keys as api_keys
from securestack_runtime import ApiKeyVerifier, KeyIdentity
from tests.runtime.support import (
    ClientCalls,
    FakeClock,
    app_client,
    create_key,
    key_secret_name,
    key_tags,
    new_key,
    put_record,
    record_name,
    record_text,
)

REFRESH = 60


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def app(aws):
    """The app's client, its calls counted (and breakable)."""
    return ClientCalls(app_client())


def verifier_for(app, clock, *names, refresh=REFRESH, **options):
    return ApiKeyVerifier(
        [key_secret_name(name) for name in names], client=app.client, refresh_seconds=refresh,
        clock=clock, sleep=clock.sleep, **options,
    )


# accepted values, identity, scopes


def test_current_pending_and_previous_in_grace_are_accepted_with_the_keys_identity(admin, app, clock):
    current, pending, previous = new_key(), new_key(), new_key()
    digests = [(current, "current", None), (pending, "pending", None), (previous, "previous", clock.now + 3600)]
    create_key(admin, "checkout", scopes=("orders:write", "payments:write"), digests=digests)
    verifier = verifier_for(app, clock, "checkout")

    for key in (current, pending, previous):
        assert verifier.verify(key) == KeyIdentity("checkout", "dev", ("orders:write", "payments:write"))
    identity = verifier.verify(current)
    assert identity.allows("payments:write") and not identity.allows("refunds:write")


def test_wildcard_scope_allows_every_scope(admin, app, clock):
    key = new_key()
    create_key(admin, "admin-full", scopes=("*",), digests=[(key, "current", None)],
               tags=key_tags("admin-full", scopes="ALL_SCOPES"))
    identity = verifier_for(app, clock, "admin-full").verify(key)
    assert identity.allows("orders:write") and identity.allows("anything:at-all")


def test_each_key_gets_its_own_identity(admin, app, clock):
    storefront, checkout = new_key(), new_key()
    create_key(admin, "storefront-read", scopes=("products:read",), digests=[(storefront, "current", None)])
    create_key(admin, "checkout", scopes=("orders:write",), digests=[(checkout, "current", None)])
    verifier = verifier_for(app, clock, "storefront-read", "checkout")
    assert verifier.verify(storefront).name == "storefront-read"
    assert verifier.verify(checkout).name == "checkout"
    assert not verifier.verify(storefront).allows("orders:write")


def test_unknown_key_is_refused(admin, app, clock):
    create_key(admin, "checkout", digests=[(new_key(), "current", None)])
    assert verifier_for(app, clock, "checkout").verify(new_key()) is None


@pytest.mark.parametrize("presented", [None, "", 42, b"bytes-key", "x" * 257, "sk_\ud800"],
                         ids=["none", "empty", "int", "bytes", "long", "lone-surrogate"])
def test_what_is_not_a_key_is_refused_without_any_aws_call(admin, app, clock, presented):
    create_key(admin, "checkout", digests=[(new_key(), "current", None)])
    verifier = verifier_for(app, clock, "checkout")
    assert verifier.verify(presented) is None
    assert app.count() == 0


def test_previous_past_its_valid_until_is_refused_even_without_a_reload(admin, app, clock):
    previous = new_key()
    create_key(admin, "checkout", digests=[(new_key(), "current", None), (previous, "previous", clock.now + 30)])
    verifier = verifier_for(app, clock, "checkout")
    assert verifier.verify(previous) is not None
    clock.advance(31)  # still inside refresh_seconds: the cached entry itself expires
    calls = app.count("GetSecretValue")
    assert verifier.verify(previous) is None
    assert app.count("GetSecretValue") == calls + 1  # the one (rate-limited) miss reload, which cannot help


# AWS calls: none per request at steady state


def test_steady_state_makes_one_get_secret_value_per_record_per_refresh_and_never_reads_a_key(admin, app, clock):
    keys = {name: new_key() for name in ("storefront-read", "checkout")}
    for name, key in keys.items():
        create_key(admin, name, digests=[(key, "current", None)])
    verifier = verifier_for(app, clock, *keys)

    for second in range(0, 300):  # 5 minutes, 10 requests a second on the fake clock
        for _ in range(10):
            assert verifier.verify(keys["checkout"]) is not None
        clock.advance(1)

    assert app.count("DescribeSecret") == 2  # each key secret once, for its record's name
    for name in keys:
        assert app.count("GetSecretValue", record_name(name)) == 5  # once per refresh_seconds
    assert {params["SecretId"] for op, params in app.calls if op == "GetSecretValue"} == {record_name(n) for n in keys}
    assert all(params["VersionStage"] == "AWSCURRENT" for op, params in app.calls if op == "GetSecretValue")


def test_a_key_published_after_the_last_load_is_accepted_by_one_miss_reload(admin, app, clock):
    current, pending = new_key(), new_key()
    create_key(admin, "checkout", digests=[(current, "current", None)])
    verifier = verifier_for(app, clock, "checkout")
    assert verifier.verify(current) is not None
    put_record(admin, "checkout", record_text("checkout", ["orders:write"], [(current, "current", None), (pending, "pending", None)]))

    calls = app.count("GetSecretValue")
    assert verifier.verify(pending) is not None
    assert app.count("GetSecretValue") == calls + 1


def test_miss_reloads_are_rate_limited_and_a_miss_waits_instead_of_being_refused_on_a_stale_set(admin, app, clock):
    current, later = new_key(), new_key()
    create_key(admin, "checkout", digests=[(current, "current", None)])
    verifier = verifier_for(app, clock, "checkout", miss_reload_seconds=2)
    assert verifier.verify(current) is not None
    loads = app.count("GetSecretValue")

    for _ in range(50):
        assert verifier.verify(new_key()) is None  # unknown keys, all within a few fake seconds
    assert app.count("GetSecretValue") - loads <= 50
    assert clock.slept and all(0 < wait <= 2 for wait in clock.slept)
    # 50 misses took ~2 s each of (fake) waiting: at most one reload per 2 s.
    assert app.count("GetSecretValue") - loads <= (sum(clock.slept) / 2) + 1

    # Right after a miss reload, the rotator publishes a key and a caller presents it: accepted, not refused.
    put_record(admin, "checkout", record_text("checkout", ["orders:write"], [(current, "current", None), (later, "pending", None)]))
    assert verifier.verify(later) is not None


def test_concurrent_misses_share_one_reload(admin, aws):
    current, pending = new_key(), new_key()
    create_key(admin, "checkout", digests=[(current, "current", None)])
    app = ClientCalls(app_client())
    verifier = ApiKeyVerifier([key_secret_name("checkout")], client=app.client, miss_reload_seconds=0.2)
    assert verifier.verify(current) is not None
    put_record(admin, "checkout", record_text("checkout", ["orders:write"], [(current, "current", None), (pending, "pending", None)]))
    loads = app.count("GetSecretValue")
    results = []
    threads = [threading.Thread(target=lambda: results.append(verifier.verify(pending))) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 16 and all(result is not None for result in results)
    assert app.count("GetSecretValue") - loads <= 2  # one reload (at most one more, started by a late thread)


def test_a_scheduled_reload_in_progress_never_blocks_other_requests(admin, aws):
    key = new_key()
    create_key(admin, "checkout", digests=[(key, "current", None)])
    clock = FakeClock()
    client = app_client()
    verifier = ApiKeyVerifier([key_secret_name("checkout")], client=client, refresh_seconds=5, clock=clock)
    assert verifier.verify(key) is not None
    release, entered = threading.Event(), threading.Event()
    real_get = client.get_secret_value

    def slow_get(**request):
        entered.set()
        assert release.wait(10)
        return real_get(**request)

    client.get_secret_value = slow_get
    clock.advance(6)
    reloading = threading.Thread(target=verifier.verify, args=(key,))
    reloading.start()
    assert entered.wait(10)  # that request is reloading on its own thread...
    started = time.perf_counter()
    assert verifier.verify(key) is not None  # ...while this one is answered from the set in hand
    assert time.perf_counter() - started < 0.5
    release.set()
    reloading.join(10)


def test_refresh_loads_now_and_reports_success(admin, app, clock):
    key = new_key()
    create_key(admin, "checkout", digests=[(key, "current", None)])
    verifier = verifier_for(app, clock, "checkout")
    assert verifier.refresh() is True
    assert app.count("GetSecretValue") == 1
    assert verifier.verify(key) is not None
    assert app.count("GetSecretValue") == 1


# revocation and records that drop a value


def test_a_dropped_previous_is_refused_within_refresh_seconds(admin, app, clock):
    current, previous = new_key(), new_key()
    create_key(admin, "checkout", digests=[(current, "current", None), (previous, "previous", clock.now + 7 * 86400)])
    verifier = verifier_for(app, clock, "checkout", refresh=10)
    assert verifier.verify(previous) is not None
    put_record(admin, "checkout", record_text("checkout", ["orders:write"], [(current, "current", None)]))  # revoked

    revoked_at, accepted_for = clock.now, None
    for _ in range(0, 120):
        if verifier.verify(previous) is not None:
            accepted_for = clock.now - revoked_at
        clock.advance(0.1)
    assert accepted_for is not None and accepted_for <= 10  # refused once the set is refreshed
    assert verifier.verify(current) is not None


# failures: keep the last good set, log once, never accept what was not loaded


MALFORMED = {
    "not-json": "{not json",
    "not-an-object": "[]",
    "wrong-format": json.dumps({"format": 2, "name": "checkout", "env": "dev", "scopes": ["a:b"], "digests": []}),
    "another-key": None,  # filled in below: a valid record of another key
    "bad-digest": None,
    "duplicate-stage": None,
    "bad-valid-until": None,
    "no-scopes": None,
}


def malformed_record(kind, key):
    good = json.loads(record_text("checkout", ["orders:write"], [(key, "current", None)]))
    if MALFORMED.get(kind):
        return MALFORMED[kind]
    if kind == "another-key":
        good["name"] = "admin-full"
    elif kind == "bad-digest":
        good["digests"][0]["sha256"] = good["digests"][0]["sha256"].upper()
    elif kind == "duplicate-stage":
        good["digests"].append(dict(good["digests"][0], sha256="0" * 64))
    elif kind == "bad-valid-until":
        good["digests"][0]["validUntil"] = "2030-01-01 00:00:00"
    elif kind == "no-scopes":
        good["scopes"] = []
    return json.dumps(good)


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_malformed_record_keeps_the_last_good_set_and_is_logged_once(admin, app, clock, captured_logs, kind):
    current, pending = new_key(), new_key()
    create_key(admin, "checkout", digests=[(current, "current", None)])
    verifier = verifier_for(app, clock, "checkout", refresh=5)
    assert verifier.verify(current) is not None
    broken = malformed_record(kind, pending)
    put_record(admin, "checkout", broken)

    for _ in range(10):
        clock.advance(6)
        assert verifier.verify(current) is not None  # last good set
        assert verifier.verify(pending) is None  # only in the malformed record: never accepted

    lines = captured_logs.runtime_lines()
    assert len(lines) == 1, lines
    assert "cannot load securestack/dev/api-keys/checkout (malformed " in lines[0]
    assert "keeping the last good set" in lines[0]


@pytest.mark.parametrize("kind", ["not-json", "another-key", "bad-digest"])
def test_malformed_record_at_first_load_accepts_nothing(admin, app, clock, kind):
    key = new_key()
    create_key(admin, "checkout", digests=None)
    put_record(admin, "checkout", malformed_record(kind, key))
    assert verifier_for(app, clock, "checkout").verify(key) is None


@pytest.mark.parametrize(
    ("fault", "logged"),
    [
        ({"code": "ThrottlingException"}, "aws-error ThrottlingException"),
        ({"code": "AccessDeniedException"}, "aws-error AccessDeniedException"),
        ({"network": True}, "aws-unreachable EndpointConnectionError"),
    ],
    ids=["throttled", "denied", "network"],
)
def test_aws_failures_keep_the_last_good_set_log_once_and_recover(admin, app, clock, captured_logs, fault, logged):
    current, pending = new_key(), new_key()
    create_key(admin, "checkout", digests=[(current, "current", None)])
    verifier = verifier_for(app, clock, "checkout", refresh=5)
    assert verifier.verify(current) is not None
    put_record(admin, "checkout", record_text("checkout", ["orders:write"], [(current, "current", None), (pending, "pending", None)]))
    app.fail("GetSecretValue", **fault)

    for _ in range(10):
        clock.advance(6)
        assert verifier.verify(current) is not None
        assert verifier.verify(pending) is None  # not loaded yet: not accepted
    assert [line for line in captured_logs.runtime_lines() if "cannot load" in line] == [
        f"securestack.runtime WARNING ApiKeyVerifier: cannot load securestack/dev/api-keys/checkout ({logged}); "
        "keeping the last good set"
    ]

    app.heal()
    clock.advance(6)
    assert verifier.verify(pending) is not None
    assert captured_logs.runtime_lines()[-1].endswith("ApiKeyVerifier: securestack/dev/api-keys/checkout loads again")


def test_aws_unavailable_at_first_load_accepts_nothing(admin, app, clock):
    key = new_key()
    create_key(admin, "checkout", digests=[(key, "current", None)])
    app.fail("DescribeSecret", code="InternalServiceError")
    verifier = verifier_for(app, clock, "checkout")
    assert verifier.verify(key) is None
    app.heal()
    clock.advance(3)  # past the miss rate limit
    assert verifier.verify(key) is not None


def test_one_broken_record_does_not_stop_the_others(admin, app, clock):
    storefront, checkout = new_key(), new_key()
    create_key(admin, "storefront-read", digests=[(storefront, "current", None)])
    create_key(admin, "checkout", digests=None)
    put_record(admin, "checkout", "{not json")
    verifier = verifier_for(app, clock, "storefront-read", "checkout")
    assert verifier.verify(storefront) is not None
    assert verifier.verify(checkout) is None


def test_key_secret_without_verifier_tag_is_refused_and_logged(admin, app, clock, captured_logs):
    key = new_key()
    tags = key_tags("checkout")
    del tags["securestack:verifier-secret"]
    create_key(admin, "checkout", digests=[(key, "current", None)], tags=tags)
    assert verifier_for(app, clock, "checkout").verify(key) is None
    assert "(malformed secret has no 'securestack:verifier-secret' tag)" in captured_logs.runtime_lines()[0]


def test_verifier_tag_naming_another_secret_is_not_followed(admin, app, clock, captured_logs):
    key = new_key()
    create_key(admin, "admin-full", digests=[(key, "current", None)])
    create_key(admin, "checkout", digests=None,
               tags=key_tags("checkout", extra={"securestack:verifier-secret": record_name("admin-full")}))
    assert verifier_for(app, clock, "checkout").verify(key) is None
    assert app.count("GetSecretValue") == 0
    assert "does not name this key's verifier record" in captured_logs.runtime_lines()[0]


def test_record_without_a_value_yet_is_refused_and_logged(admin, app, clock, captured_logs):
    create_key(admin, "checkout", digests=None)
    assert verifier_for(app, clock, "checkout").verify(new_key()) is None
    assert "(malformed verifier record has no AWSCURRENT value yet)" in captured_logs.runtime_lines()[0]


# constant time


def test_every_candidate_is_compared_even_when_the_first_matches(admin, app, clock, monkeypatch):
    current = new_key()
    create_key(admin, "storefront-read", digests=[(current, "current", None), (new_key(), "pending", None)])
    create_key(admin, "checkout", digests=[(new_key(), "current", None), (new_key(), "previous", clock.now + 99)])
    verifier = verifier_for(app, clock, "storefront-read", "checkout")
    verifier.refresh()
    compared = []
    real = api_keys.hmac.compare_digest

    def counting(first, second):
        compared.append((len(first), len(second)))
        return real(first, second)

    monkeypatch.setattr(api_keys.hmac, "compare_digest", counting)
    assert verifier.verify(current) is not None
    assert compared == [(32, 32)] * 4  # all four digests, the presented key's digest against each


# construction


@pytest.mark.parametrize("ids", ["securestack/dev/api-keys/checkout", [], [""], None], ids=["string", "empty", "blank", "none"])
def test_key_secret_ids_must_be_a_list_of_ids(aws, ids):
    with pytest.raises(ValueError, match="key_secret_ids must be"):
        ApiKeyVerifier(ids, client=app_client())


@pytest.mark.parametrize("refresh", [0, -1, float("nan"), "60", True])
def test_refresh_seconds_must_be_a_positive_number(aws, refresh):
    with pytest.raises(ValueError, match="refresh_seconds must be a number >= 1"):
        ApiKeyVerifier(["k"], client=app_client(), refresh_seconds=refresh)


def test_from_environment_reads_the_stacks_json_list(admin, aws):
    key = new_key()
    arn = create_key(admin, "checkout", digests=[(key, "current", None)])
    verifier = ApiKeyVerifier.from_environment({"SECURESTACK_API_KEY_VERIFIERS": json.dumps([arn])}, client=app_client())
    assert verifier.verify(key).name == "checkout"
    with pytest.raises(ValueError, match="SECURESTACK_API_KEY_VERIFIERS is not set"):
        ApiKeyVerifier.from_environment({}, client=app_client())
    with pytest.raises(ValueError, match="SECURESTACK_API_KEY_VERIFIERS is not a JSON list"):
        ApiKeyVerifier.from_environment({"SECURESTACK_API_KEY_VERIFIERS": "{}"}, client=app_client())


def test_default_client_needs_no_argument(admin, aws):
    key = new_key()
    create_key(admin, "checkout", digests=[(key, "current", None)])
    assert ApiKeyVerifier([key_secret_name("checkout")]).verify(key) is not None
