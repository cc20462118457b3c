"""`pulumi preview|up --policy-pack policy`: serves the securestack pack (PolicyPack blocks, serving gRPC)."""
import sys
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack

# The CLI runs this file from policy/; the policies are imported as the `policy` package of the project.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policy.policies import PACK_NAME, POLICIES  # noqa: E402

PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY)
