"""`from securestack.components import EncryptedPostgres, EncryptedPostgresArgs, ...` (issue 13 item 1): the
package exports every component, its Args and every option type (dataclass or enum) its Args name, so a program
never imports a component's module to build its inputs."""
import ast
import dataclasses
import enum
import importlib
import inspect
import pkgutil
import subprocess
import sys
import typing
from pathlib import Path

import pulumi

import securestack.components as components

# Modules of securestack.components that hold helpers, not components.
HELPER_MODULES = {"args", "common", "package"}


def component_modules():
    return [importlib.import_module(f"{components.__name__}.{module.name}")
            for module in pkgutil.iter_modules(components.__path__) if module.name not in HELPER_MODULES]


def option_types(args_class: type) -> set[type]:
    """The dataclasses and enums of securestack.components an Args class names, transitively."""
    found: set[type] = set()
    pending = [args_class]
    while pending:
        # pulumi.Input names 'Output' as a forward reference, resolved in the SDK's namespace (components/args.py).
        hints = typing.get_type_hints(pending.pop(), localns=vars(pulumi.output))
        stack = list(hints.values())
        while stack:
            hint = stack.pop()
            stack.extend(typing.get_args(hint))
            if isinstance(hint, type) and hint.__module__.startswith(f"{components.__name__}.") and \
                    hint not in found and (dataclasses.is_dataclass(hint) or issubclass(hint, enum.Enum)):
                found.add(hint)
                if dataclasses.is_dataclass(hint):
                    pending.append(hint)
    return found


def public_api() -> set[type]:
    expected: set[type] = set()
    for module in component_modules():
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not issubclass(cls, pulumi.ComponentResource):
                continue
            expected.add(cls)
            args_class = getattr(module, f"{cls.__name__}Args", None)
            if args_class is not None:
                expected |= {args_class, *option_types(args_class)}
    return expected


def test_every_component_its_args_and_their_option_types_are_exported():
    expected = public_api()
    assert {"EncryptedPostgres", "EncryptedPostgresArgs", "TlsLoadBalancer", "TlsLoadBalancerArgs"} <= \
        {cls.__name__ for cls in expected}
    exported = {name: getattr(components, name) for name in components.__all__}
    missing = sorted(cls.__name__ for cls in expected if exported.get(cls.__name__) is not cls)
    assert not missing, f"not exported from securestack.components: {missing}"


def test_the_exports_are_the_public_api_and_args_error():
    names = set(components.__all__)
    assert names == {cls.__name__ for cls in public_api()} | {"ArgsError"}
    assert len(components.__all__) == len(names)


def test_type_checkers_see_the_same_exports_as_the_runtime():
    """The TYPE_CHECKING imports (what mypy reads) name exactly the lazily exported names, from the same modules."""
    tree = ast.parse(Path(components.__file__).read_text(encoding="utf-8"))
    [guard] = [node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"]
    imported = {alias.name: node.module for node in guard.body if isinstance(node, ast.ImportFrom)
                for alias in node.names}
    assert imported == components._EXPORTS


def test_importing_one_module_imports_no_component():
    """The stack settings import securestack.components.args; that must not pull every component in."""
    probe = ("import sys, securestack.components.args, securestack.components as c; "
             "print(sorted(m for m in sys.modules if m.startswith('securestack.components.')))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "['securestack.components.args']"
