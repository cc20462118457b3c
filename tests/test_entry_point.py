"""`pulumi up` runs infra/__main__.py by path (Pulumi.yaml `main: infra/`): it must build the same stack."""
import runpy
from pathlib import Path

import yaml

from securestack.infra.recording import record
from securestack.infra.stack_config import read_stack_config
from tests.support.stacks import shipped_recording

ROOT = Path(__file__).resolve().parents[1]


def test_pulumi_yaml_points_at_the_program_with_a_pip_venv():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "securestack"
    assert project["main"].rstrip("/") == "infra"
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}
    assert (ROOT / project["main"] / "__main__.py").is_file()


def test_main_file_run_by_path_registers_the_same_resources_as_the_preview():
    stack_config = read_stack_config("dev")
    by_path = record(lambda: runpy.run_path(str(ROOT / "infra" / "__main__.py"), run_name="__main__"),
                     stack="dev", config=stack_config.config, project=stack_config.project)
    via_preview = shipped_recording("dev")  # run_stack(read_stack_config("dev")), recorded once per session
    assert sorted(r.urn for r in by_path.resources) == sorted(r.urn for r in via_preview.resources)
    assert len(by_path.resources) > 100
