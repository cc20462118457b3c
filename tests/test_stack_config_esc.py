"""Issue 17 item 4: a stack file that imports Pulumi ESC environments (`environment:`) is refused by every offline
tool, never read without them.

Pulumi reads a stack file's `environment:` as a list of environment names or as an inline environment definition
(`imports:` entries that are names or `{name: {merge: false}}`, and `values:`): pulumi/pulumi
sdk/go/common/workspace/project.go (`Environment.UnmarshalYAML`, `Definition`, `Imports`); Pulumi's docs: "Stack
settings file reference" (`environment`) and ESC's "imports" top-level key (import options)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from securestack.infra.stack_config import StackConfigError, read_stack_config
from tests.support.operator_cli import credentials_env, no_aws_config, run_entry_point
from tests.support.stacks import PROJECT_ROOT

REFUSAL = ("Pulumi.{stack}.yaml: environment: imports Pulumi ESC environment(s) {names}, which the offline tools "
           "cannot resolve (no Pulumi Cloud here); run pulumi preview, or inline the values into the stack file")

# (what follows the stack file's config, the names the refusal lists)
ESC_FORMS = [
    pytest.param("environment:\n  - my-project/common\n  - my-project/dev\n", "my-project/common, my-project/dev",
                 id="list of names"),
    pytest.param("environment: [aws-dev]\n", "aws-dev", id="single name in a flow list"),
    pytest.param("environment: aws-dev\n", "aws-dev", id="bare name (not a list: Pulumi reads it as a definition)"),
    pytest.param("environment:\n  imports:\n    - aws/dev\n    - auth-core: { merge: false }\n",
                 "aws/dev, auth-core", id="inline definition with imports and import options"),
    pytest.param("environment:\n  values:\n    pulumiConfig:\n      securestack:tier: production\n",
                 "(an inline definition)", id="inline definition with values only"),
    pytest.param("environment:\n  imports: [aws/dev]\n  values:\n    region: us-east-1\n",
                 "aws/dev, (an inline definition)", id="inline definition with imports and values"),
]


def project_with(root: Path, stack: str, environment: str) -> Path:
    """The project's Pulumi.yaml and dev's stack file as `Pulumi.<stack>.yaml`, with `environment` appended."""
    shutil.copy(PROJECT_ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    text = (PROJECT_ROOT / "Pulumi.dev.yaml").read_text(encoding="utf-8")
    (root / f"Pulumi.{stack}.yaml").write_text(text.rstrip("\n") + "\n" + environment, encoding="utf-8")
    return root


@pytest.mark.parametrize("environment, names", ESC_FORMS)
def test_read_stack_config_refuses_esc_imports_naming_them(tmp_path, environment, names):
    root = project_with(tmp_path, "esc", environment)
    with pytest.raises(StackConfigError) as refused:
        read_stack_config("esc", root=root)
    assert str(refused.value) == REFUSAL.format(stack="esc", names=names)


@pytest.mark.parametrize("environment", ["environment: []\n", "environment:\n", "environment: {}\n"])
def test_an_empty_environment_imports_nothing_and_is_read(tmp_path, environment):
    """Pulumi treats an empty `environment:` as none (Definition() is nil): nothing to resolve, so nothing refused."""
    root = project_with(tmp_path, "esc", environment)
    assert read_stack_config("esc", root=root).config == read_stack_config("dev", root=PROJECT_ROOT).config


def test_a_config_file_given_by_path_is_refused_too(tmp_path):
    root = project_with(tmp_path, "esc", "environment:\n  - aws-dev\n")
    with pytest.raises(StackConfigError, match=r"^Pulumi\.esc\.yaml: environment: imports .* aws-dev, "):
        read_stack_config("other", root=PROJECT_ROOT, config_file=root / "Pulumi.esc.yaml")


def test_a_multi_line_name_stays_one_line(tmp_path):
    root = project_with(tmp_path, "esc", 'environment:\n  - "aws\\ndev"\n')
    with pytest.raises(StackConfigError) as refused:
        read_stack_config("esc", root=root)
    assert "\n" not in str(refused.value) and "aws dev" in str(refused.value)


# Each offline tool that reads a stack file, through its entry point as `python -m <module>` runs it.
def preview_main():
    from securestack.infra.preview import main
    return main


def verify_main():
    from securestack.infra.verify import main
    return main


def secrets_main():
    from securestack.infra.secrets.cli import main
    return main


@pytest.mark.parametrize("module, entry_point, options", [
    ("infra.preview", preview_main, ["esc"]),
    ("infra.verify", verify_main, ["esc", "--outputs", "-"]),
    ("infra.secrets", secrets_main, ["status", "esc", "--endpoint-url", "http://127.0.0.1:9"]),
])
def test_every_offline_tool_refuses_the_stack_with_exit_2_and_one_line(tmp_path, module, entry_point, options):
    root = project_with(tmp_path, "esc", "environment:\n  - my-project/dev\n")
    done = run_entry_point(entry_point(), module, options, root, {**no_aws_config(), **credentials_env()},
                           stdin="{}")
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == ["error: " + REFUSAL.format(stack="esc", names="my-project/dev")]
    assert "Traceback" not in done.stderr and done.stdout == ""
