"""securestack's CrossGuard policies: `POLICIES` is what `policy/__main__.py` serves and the offline harness runs.

Every policy is mandatory unless a stack's policy config (`policy/policy-config.<stack>.json`) lowers it to
advisory. Names are stable: they are how a stack's config, CONTROLS.md and the tests refer to a policy.
"""
from __future__ import annotations

from . import (audit, boundaries, containers, functions, iam, keys, load_balancers, network, rds, secret_age, secrets,
               storage)
from .support import SecurestackPolicy

PACK_NAME = "securestack"

POLICIES: list[SecurestackPolicy] = [
    *rds.POLICIES,
    *load_balancers.POLICIES,
    *secrets.POLICIES,
    *secret_age.POLICIES,
    *keys.POLICIES,
    *functions.POLICIES,
    *storage.POLICIES,
    *audit.POLICIES,
    *containers.POLICIES,
    *network.POLICIES,
    *iam.POLICIES,
    *boundaries.POLICIES,
]
