"""Entry point of the securestack component package (PulumiPlugin.yaml): serves every component to the engine.

The Python language host runs a plugin directory holding a `__main__.py` as `python <plugin dir> <engine address>
[flags]` (pulumi/pulumi sdk/python/cmd/pulumi-language-python/main.go, RunPlugin), in the venv PulumiPlugin.yaml
names, where it installed this project (requirements.txt: `-e .`). The stack program is infra/ (Pulumi.yaml `main`),
so this file is only the plugin's.
"""
import sys

from securestack.components.package import serve

if __name__ == "__main__":
    serve(sys.argv[1:])
