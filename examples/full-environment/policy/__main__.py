"""`pulumi preview|up --policy-pack policy`: serves the securestack pack (PolicyPack blocks, serving gRPC).

The CLI runs this file by path from policy/; the policies come from the installed `securestack` distribution
(PulumiPolicy.yaml points at the project's .venv, where requirements.txt installs this checkout, editable).
"""
from pulumi_policy import EnforcementLevel, PolicyPack

from securestack.policy.policies import PACK_NAME, POLICIES

# PolicyPack's parameter is list[Policy]: lists are invariant, so mypy refuses our list of two Policy subclasses.
PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY)  # type: ignore[arg-type]
