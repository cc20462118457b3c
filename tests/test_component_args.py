"""components/args.py: a component's Args from a Python caller or from the component provider's dict."""
import enum
from dataclasses import dataclass, field
from typing import Optional

import pulumi
import pytest

from securestack.components.args import ArgsError, as_args


class Tier(enum.Enum):
    PRODUCTION = "production"
    NON_PRODUCTION = "non-production"


@dataclass
class Inner:
    name: str
    tier: Tier = Tier.PRODUCTION


@dataclass
class Outer:
    environment: str
    inner: Optional[Inner] = None
    items: list[Inner] = field(default_factory=list)
    by_name: dict[str, Inner] = field(default_factory=dict)
    vpc_id: Optional[pulumi.Input[str]] = None
    retention_days: int = 30


def test_a_dataclass_is_returned_as_is():
    given = Outer(environment="dev")
    assert as_args(Outer, given) is given


def test_a_provider_dict_becomes_the_dataclass_with_nested_types_and_defaults():
    built = as_args(Outer, {"environment": "dev", "inner": {"name": "a", "tier": "non-production"},
                            "items": [{"name": "b"}], "by_name": {"c": {"name": "c"}}, "vpc_id": "vpc-1"})
    assert built == Outer(environment="dev", inner=Inner("a", Tier.NON_PRODUCTION), items=[Inner("b")],
                          by_name={"c": Inner("c")}, vpc_id="vpc-1")
    assert built.retention_days == 30


def test_outputs_pass_through_untouched():
    output = pulumi.Output.from_input("vpc-1")
    assert as_args(Outer, {"environment": "dev", "vpc_id": output}).vpc_id is output


@pytest.mark.parametrize("value, message", [
    ({"environment": "dev", "colour": "red"}, "Outer: unknown field(s) colour"),
    ({"environment": "dev", "inner": {"name": "a", "tier": "gold"}}, "Outer.inner.tier: 'gold' is not one of"),
    ({"environment": "dev", "items": [{"name": "a", "size": 1}]}, "Outer.items[0]: unknown field(s) size"),
    (["dev"], "Outer: expected Outer or a mapping of its fields, got list"),
])
def test_bad_input_is_one_line_naming_the_field(value, message):
    with pytest.raises(ArgsError) as raised:
        as_args(Outer, value)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
