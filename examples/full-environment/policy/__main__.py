"""`pulumi preview|up --policy-pack policy`: serves the securestack pack (PolicyPack blocks, serving gRPC).

The CLI runs this file by path from policy/; the policies come from the installed `securestack` distribution
(PulumiPolicy.yaml points at the project's .venv, where requirements.txt installs this checkout, editable).

The Pulumi CLI starts a Python pack as `python -u -m pulumi.policy <engine address> <pack directory>`
(pulumi/pulumi sdk/python/cmd/pulumi-language-python/main.go, RunPlugin for an analyzer; the older
`pulumi-analyzer-policy-python` shim ran the same module), and pulumi.policy runs this file with runpy. Run any
other way (`python -m policy`, `python -m securestack.policy`) no engine would ever connect, and PolicyPack would
wait forever: it says so in one line and exits 2 instead.
"""
import sys

from securestack.components import cli

# pulumi.policy's arguments end with the pack directory (after the engine address and any --logtostderr, -v=N,
# --tracing flags: pulumi/pulumi sdk/go/common/resource/plugin/plugin.go buildPluginArguments), and it runs the
# pack with runpy.run_path(directory), which sets sys.argv[0] to that same directory.
STARTED_BY_PULUMI = len(sys.argv) >= 3 and sys.argv[-1] == sys.argv[0]

if not STARTED_BY_PULUMI:
    cli.print_error("the policy pack is served to the Pulumi CLI, which starts it: run `pulumi preview --policy-pack "
                    "policy` (or offline: `.venv/bin/python -m infra.preview <stack>`)")
    sys.exit(cli.EXIT_UNUSABLE)

from pulumi_policy import EnforcementLevel  # noqa: E402 - only once an engine will connect

# pulumi_policy's PolicyPack serving its analyzer subclass that converts each request once for all policies.
from securestack.policy.analyzer import PolicyPack, UpstreamChanged  # noqa: E402
from securestack.policy.policies import PACK_NAME, POLICIES  # noqa: E402

try:
    PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY)
except UpstreamChanged as error:  # an installed pulumi_policy the analyzer was not written against: no verdict
    cli.print_error(str(error))
    sys.exit(cli.EXIT_UNUSABLE)
