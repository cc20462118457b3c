"""The full securestack environment from the installed package, in a project of your own.

The program is securestack's stack program; your stack files configure it (every key under the `securestack:`
namespace, as in securestack's own Pulumi.dev.yaml and Pulumi.prod.yaml; README "Configuration"). Gate every
change with the same policy pack (README: "Use the components in your own program").
"""
from securestack.infra.program import build

build()
