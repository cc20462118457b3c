"""Issue 15: vendor-issued API keys and webhook secrets in the stack settings (`issuer: vendor`).

Each malformed entry is reported once, at the key path the file has, and the rest of the config still parses.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

from securestack.infra.settings import SettingsError, Tier, build_settings
from securestack.infra.settings.secrets import default_app_variable, vendor_key_prefix
from tests.support.stacks import STACK_FILES, account_of, replaced, section, shipped_config

KEYS, HOOKS, SECRETS, APP = "securestack:apiKeys", "securestack:webhooks", "securestack:secrets", "securestack:app"
BARECOMMERCE = {"name": "barecommerce", "issuer": "vendor", "vendor": "barecommerce", "scopes": ["orders:read"],
                "consumers": ["app"]}


def with_keys(stack: str, *extra: dict[str, Any]) -> dict[str, str]:
    config = shipped_config(stack)
    return replaced(config, KEYS, [*section(config, KEYS), *extra])


def problems_of(config: dict[str, str], stack: str = "dev") -> list[str]:
    with pytest.raises(SettingsError) as raised:
        build_settings(config, stack)
    return raised.value.problems


def vendor_key(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in {**BARECOMMERCE, **fields}.items() if v is not None}


def test_the_shipped_stacks_carry_a_vendor_key_the_app_consumes():
    for stack in ("dev", "prod"):
        settings = build_settings(shipped_config(stack), stack)
        stackbe = settings.api_keys.by_name("stackbe")
        assert (stackbe.issuer, stackbe.vendor, stackbe.is_vendor) == ("vendor", "stackbe", True)
        assert stackbe.app_variable == "STACKBE_API_KEY"  # the guide's variable
        assert [key.name for key in settings.api_keys.vendor_issued()] == ["stackbe"]
        assert "stackbe" not in [key.name for key in settings.api_keys.self_issued()]
        # The app verifies only the keys the stack issues.
        assert "stackbe" not in settings.app.verified_keys(settings.api_keys)
        assert settings.secrets.operators == [
            f"arn:aws:iam::{account_of(stack)}:role/securestack-{stack}-secrets-operator"]


@pytest.mark.parametrize("stack", STACK_FILES)
def test_every_stack_file_parses_with_vendor_entries(stack):
    settings = build_settings(with_keys(stack, vendor_key(testUrl="https://api.barecommerce.test/v1/me")), stack)
    key = settings.api_keys.by_name("barecommerce")
    assert key.test_url == "https://api.barecommerce.test/v1/me"
    assert key.app_variable == "BARECOMMERCE_API_KEY"


def test_self_issued_is_the_default_and_carries_no_vendor_fields():
    settings = build_settings(shipped_config("dev"), "dev")
    checkout = settings.api_keys.by_name("checkout")
    assert (checkout.issuer, checkout.vendor, checkout.test_url, checkout.app_variable) == ("self", None, None, None)
    assert not checkout.is_vendor


def test_vendor_prefixes_follow_the_tier_for_vendors_that_use_them():
    assert vendor_key_prefix("barecommerce", Tier.PRODUCTION) == "sk_live_"
    assert vendor_key_prefix("stackbe", Tier.NON_PRODUCTION) == "sk_test_"
    assert vendor_key_prefix("acme-payments", Tier.PRODUCTION) is None
    assert default_app_variable("acme-payments") == "ACME_PAYMENTS_API_KEY"


def test_a_vendor_webhook_the_app_verifies():
    config = shipped_config("dev")
    hooks = [*section(config, HOOKS), {"name": "barecommerce-events", "issuer": "vendor", "vendor": "barecommerce",
                                       "consumers": ["app"], "previousGraceDays": 1}]
    config = replaced(replaced(config, HOOKS, hooks), APP,
                      {**section(config, APP), "webhooks": ["order-events", "barecommerce-events"]})
    settings = build_settings(config, "dev")
    hook = settings.webhooks.by_name("barecommerce-events")
    assert hook.is_vendor and hook.previous_grace_days == 1
    assert [h.name for h in settings.webhooks.self_issued()] == ["order-events"]


BAD_ENTRIES = [
    # (id, the extra key entry, the reported key's field, a fragment of the message)
    ("vendor-missing", vendor_key(vendor=None), "vendor", "required with issuer: vendor"),
    ("vendor-on-self", {"name": "extra", "scopes": ["orders:read"], "vendor": "barecommerce"}, "vendor",
     "only with issuer: vendor"),
    ("vendor-not-a-slug", vendor_key(vendor="Bare Commerce"), "vendor", "lowercase"),
    ("unknown-issuer", vendor_key(issuer="partner"), "issuer", "'self' or 'vendor'"),
    ("test-url-on-self", {"name": "extra", "scopes": ["orders:read"], "testUrl": "https://x.test/me"}, "testUrl",
     "only with issuer: vendor"),
    ("test-url-plain-http", vendor_key(testUrl="http://api.barecommerce.test/me"), "testUrl", "https://"),
    ("test-url-with-user", vendor_key(testUrl="https://me:pw@api.barecommerce.test/me"), "testUrl", "no user"),
    ("test-url-bad-port", vendor_key(testUrl="https://api.barecommerce.test:99999/me"), "testUrl", "https://"),
    ("app-variable-lowercase", vendor_key(appVariable="barecommerce_key"), "appVariable", "upper-case"),
    ("app-variable-without-app", vendor_key(consumers=[], appVariable="BARECOMMERCE_API_KEY"), "appVariable",
     "lists 'app'"),
    ("app-variable-is-the-database-login", vendor_key(appVariable="DB_PASSWORD"), "appVariable",
     "already one of the app's variables"),
    ("app-variable-twice", vendor_key(appVariable="STACKBE_API_KEY"), "appVariable", "also the variable of"),
    ("grace-on-a-vendor-key", vendor_key(previousGraceDays=3), "previousGraceDays", "no grace to set"),
    ("rotation-days-over-90", vendor_key(rotationDays=120), "rotationDays", "<= 90"),
    ("wildcard-vendor-key-in-the-app", vendor_key(scopes=["*"], internal=True), "consumers[0]", "internet-facing"),
    ("app-holds-a-self-issued-key", {"name": "extra", "scopes": ["orders:read"], "consumers": ["app"]},
     "consumers", "never holds a key value"),
]


@pytest.mark.parametrize("extra, field, says", [case[1:] for case in BAD_ENTRIES], ids=[c[0] for c in BAD_ENTRIES])
def test_a_bad_vendor_entry_names_its_key(extra, field, says):
    config = with_keys("dev", extra)
    index = len(section(config, KEYS)) - 1
    problems = problems_of(config)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{KEYS}[{index}].{field}: "), problems
    assert says in problems[0], problems


def test_vendor_entries_need_operators():
    config = shipped_config("dev")
    config = replaced(config, SECRETS, {k: v for k, v in section(config, SECRETS).items() if k != "operators"})
    problems = problems_of(config)
    index = [key["name"] for key in section(config, KEYS)].index("stackbe")
    assert problems == [f"{KEYS}[{index}].issuer: 'stackbe' is vendor-issued: declare the roles that stage its "
                        f"values under {SECRETS}.operators"]


@pytest.mark.parametrize("operator, says", [
    ("arn:aws:iam::111111111111:user/alice", "not an IAM role ARN"),
    ("arn:aws:iam::999999999999:role/operator", "outside aws:allowedAccountIds"),
])
def test_bad_operators_are_refused(operator, says):
    config = shipped_config("dev")
    config = replaced(config, SECRETS, {**section(config, SECRETS), "operators": [operator]})
    problems = problems_of(config)
    assert len(problems) == 1 and problems[0].startswith(f"{SECRETS}.operators") and says in problems[0], problems


def test_the_app_never_verifies_a_vendor_key():
    config = shipped_config("dev")
    config = replaced(config, APP, {**section(config, APP), "verifiesApiKeys": ["checkout", "stackbe"]})
    assert problems_of(config) == [f"{APP}.verifiesApiKeys[1]: 'stackbe' is vendor-issued: the vendor verifies its "
                                   "keys; the app verifies only the keys this stack issues"]


def test_every_problem_of_several_bad_vendor_entries_at_once():
    config = with_keys("dev", vendor_key(name="one", vendor=None), vendor_key(name="two", testUrl="ftp://x"))
    problems = problems_of(config)
    count = len(section(config, KEYS))
    assert [p.split(":")[1] for p in problems] == [f"apiKeys[{count - 2}].vendor", f"apiKeys[{count - 1}].testUrl"]
    assert json.dumps(problems)  # plain text lines


def test_a_bad_vendor_name_does_not_hide_another_entrys_missing_one():
    config = with_keys("dev", vendor_key(name="one", vendor="Not A Slug"), vendor_key(name="two", vendor=None))
    count = len(section(config, KEYS))
    assert [p.split(": ")[0] for p in problems_of(config)] == [f"{KEYS}[{count - 2}].vendor", f"{KEYS}[{count - 1}].vendor"]
