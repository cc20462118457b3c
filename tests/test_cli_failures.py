"""Every CLI, fed every failure class it can meet, answers with one `error: ...` line on stderr and the contract's
exit code (README "Exit codes": 1 the thing checked is wrong, 2 the command cannot run as asked, 130 interrupted),
never a traceback.

Each case runs in a throwaway copy of the project holding the bad inputs. A case that depends on being a process runs
the command as README writes it (`python -m ...`) in a subprocess whose `securestack` packages are the copy's own
folders (tests/support/project_copy.importable_copy): one Ctrl-C case per CLI that waits on input (a real SIGINT while
it blocks reading a FIFO in its directory, so also the stack file found from the current directory), the `__main__`
modules that refuse unless the Pulumi CLI or engine started the process, a stale CONTROLS.md (found next to the code,
so the copy's), so every CLI at least once. The rest run the module's entry point in-process
(tests/support/operator_cli.run_entry_point: `cli.run(main)` with environment, directory, argv and streams swapped;
the other Ctrl-C cases with a real SIGINT to this process), since a fresh interpreter spends about 3 s importing
settings, components and pulumi_aws: the same line and exit code, checked the same way.
"""
from __future__ import annotations

import errno
import importlib
import json
import os
import runpy
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pulumi
import pytest

from securestack.infra.recording import record
from securestack.infra.stack_config import read_stack_config
from tests.support.operator_cli import run_entry_point
from tests.support.project_copy import REPO, clean_environment, copy_project, importable_copy

TIMEOUT_SECONDS = 120
ABSENT_STACK = f"no-such-stack-{secrets.token_hex(4)}"
NOT_UTF8 = b"config:\n  aws:region: us-east-1\xff\n"
NOT_YAML = "config: [\n"
# Pulumi.waits-<command>.yaml is a FIFO: the command blocks reading it until interrupted (one FIFO per case, so the
# Ctrl-C cases run concurrently).
FIFO_STACK = "waits"
UNREACHABLE_ENDPOINT = "http://127.0.0.1:9"  # discard port: nothing answers (never reached: these fail first)
# Outputs of the dev stack as `pulumi stack output --json` prints them (enough for every check before AWS).
DEV_OUTPUTS = {"environment": "dev", "region": "us-east-1",
               "keys": {"dataKeyArn": "arn:aws:kms:us-east-1:111111111111:key/k"},
               "database": {"identifier": "securestack-dev-postgres"}}
OUTPUTS_FILES = {
    "identifier-not-text.json": {**DEV_OUTPUTS, "database": {"identifier": 7}},
    "rotation-days-not-a-number.json": {**DEV_OUTPUTS, "secrets": {"checkout": {"arn": "arn:x", "rotationDays": "ninety"}}},
    "load-balancer-not-an-object.json": {**DEV_OUTPUTS, "loadBalancer": "arn:aws:elasticloadbalancing:x"},
    "function-entry-a-list.json": {**DEV_OUTPUTS, "rotationFunctions": {"api-key": ["arn:x"]}},
    "other-region.json": {**DEV_OUTPUTS, "region": "eu-west-1"},
    "dev.json": DEV_OUTPUTS,
}
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@dataclass(frozen=True)
class Case:
    cli: str  # the module `python -m` runs
    failure: str
    args: tuple[str, ...]
    code: int
    fragment: str
    env: dict[str, str] = field(default_factory=dict)
    fifo: Optional[str] = None  # interrupted (Ctrl-C) while it reads this FIFO, relative to the project copy
    process: bool = False  # run as a real `python -m` subprocess (else the entry point in-process)

    @property
    def id(self) -> str:
        return f"{self.cli}: {self.failure}"


def stack_file_cases(cli: str, command: tuple[str, ...], tail: tuple[str, ...] = (),
                     interrupt_process: bool = True) -> list[Case]:
    """The stack-file failure classes, for a CLI that reads `Pulumi.<stack>.yaml` as `command <stack> tail`; its
    Ctrl-C case is a real process unless another command of the same CLI already is (`interrupt_process`)."""
    fifo_stack = "-".join((FIFO_STACK, cli.rsplit(".", 1)[-1], *command))
    def case(failure: str, stack: str, fragment: str, code: int = 2) -> Case:
        return Case(cli, failure, (*command, stack, *tail), code, fragment)
    return [
        case("stack file is a directory", "folder", "Pulumi.folder.yaml is a directory"),
        case("stack file unreadable (read fails: EIO)", "broken", "Pulumi.broken.yaml cannot be read: Input/output error"),
        case("stack file not UTF-8", "latin1", "Pulumi.latin1.yaml is not UTF-8 text"),
        case("stack file not YAML", "notyaml", "Pulumi.notyaml.yaml is not valid YAML at line 2"),
        case("stack absent", ABSENT_STACK, f"unknown stack '{ABSENT_STACK}'"),
        Case(cli, "interrupted (Ctrl-C)", (*command, fifo_stack, *tail), 130, "interrupted",
             fifo=f"Pulumi.{fifo_stack}.yaml", process=interrupt_process),
    ]


def region(name: str) -> dict[str, str]:
    return {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": name}


VERIFY_DEV = ("dev", "--endpoint-url", UNREACHABLE_ENDPOINT, "--outputs")
CASES = [
    *stack_file_cases("infra.preview", ()),
    Case("infra.preview", "policy config a directory", ("pcfolder",), 2,
         "stack 'pcfolder': policy-config.pcfolder.json cannot be read: Is a directory"),
    Case("infra.preview", "policy config not UTF-8", ("pclatin1",), 2,
         "stack 'pclatin1': policy-config.pclatin1.json is not UTF-8 text"),
    Case("infra.preview", "unknown argument", ("dev", "--bogus"), 2, "unrecognized arguments: --bogus"),
    Case("infra.preview", "bad argument value", ("dev", "--mode", "deploy"), 2, "argument --mode: invalid choice"),

    *stack_file_cases("infra.verify", (), ("--outputs", "outputs/dev.json")),
    Case("infra.verify", "endpoint not a URL", ("dev", "--endpoint-url", "not-a-url"), 2,
         "argument --endpoint-url: 'not-a-url' is not an http:// or https:// URL"),
    Case("infra.verify", "malformed outputs: a string export is a number", (*VERIFY_DEV, "outputs/identifier-not-text.json"),
         2, "malformed stack outputs: database.identifier must be a string, got 7", FAKE_CREDENTIALS),
    Case("infra.verify", "malformed outputs: rotation days not a number",
         (*VERIFY_DEV, "outputs/rotation-days-not-a-number.json"), 2,
         'malformed stack outputs: secrets.checkout.rotationDays must be a whole number of days >= 1, got "ninety"',
         FAKE_CREDENTIALS),
    Case("infra.verify", "malformed outputs: an object export is a string",
         (*VERIFY_DEV, "outputs/load-balancer-not-an-object.json"), 2,
         "malformed stack outputs: loadBalancer must be an object", FAKE_CREDENTIALS),
    Case("infra.verify", "malformed outputs: a function entry is a list", (*VERIFY_DEV, "outputs/function-entry-a-list.json"),
         2, "malformed stack outputs: rotationFunctions.api-key must be an ARN or an object, got list",
         FAKE_CREDENTIALS),
    Case("infra.verify", "outputs of another region", (*VERIFY_DEV, "outputs/other-region.json"), 2,
         "the outputs are of a deployment in eu-west-1 but Pulumi.dev.yaml deploys to us-east-1", FAKE_CREDENTIALS),
    Case("infra.verify", "AWS_DEFAULT_REGION another region", (*VERIFY_DEV, "outputs/dev.json"), 2,
         "the AWS region in the environment is eu-west-1 but the stack deploys to us-east-1", region("eu-west-1")),
    Case("infra.verify", "AWS_REGION another region", (*VERIFY_DEV, "outputs/dev.json"), 2,
         "AWS_REGION is eu-west-2 but the stack deploys to us-east-1", {**FAKE_CREDENTIALS, "AWS_REGION": "eu-west-2"}),
    Case("infra.verify", "missing credentials", (*VERIFY_DEV, "outputs/dev.json"), 2, "no AWS credentials found"),
    Case("infra.verify", "outputs file a directory", ("dev", "--outputs", "outputs"), 2,
         "cannot read outputs file outputs: Is a directory"),
    Case("infra.verify", "outputs file not UTF-8", ("dev", "--outputs", "outputs/latin1.json"), 2,
         "outputs in outputs/latin1.json are not UTF-8 text"),
    Case("infra.verify", "outputs file not JSON", ("dev", "--outputs", "outputs/notjson.json"), 2,
         "outputs in outputs/notjson.json are not valid JSON (line 1, column 2)"),
    Case("infra.verify", "unknown argument", ("dev", "--bogus"), 2, "unrecognized arguments: --bogus"),
    Case("infra.verify", "interrupted reading the outputs", ("dev", "--outputs", "outputs/waits.json"), 130,
         "interrupted", fifo="outputs/waits.json"),

    *stack_file_cases("infra.secrets", ("rotate",), ("checkout",)),
    # The vendor commands read the stack file the same way (common.load_settings): one command with a name, and
    # status without one.
    *stack_file_cases("infra.secrets", ("stage",), ("stackbe",), interrupt_process=False),
    *stack_file_cases("infra.secrets", ("status",), interrupt_process=False),
    Case("infra.secrets", "missing credentials (promote)",
         ("promote", "dev", "stackbe", "--endpoint-url", UNREACHABLE_ENDPOINT), 2, "no AWS credentials found"),
    Case("infra.secrets", "wait not a number", ("promote", "dev", "stackbe", "--wait-seconds", "soon"), 2,
         "argument --wait-seconds: 'soon' is not a number of seconds from 1 to 3600"),
    Case("infra.secrets", "endpoint not a URL", ("rotate", "dev", "checkout", "--endpoint-url", "not-a-url"), 2,
         "argument --endpoint-url: 'not-a-url' is not an http:// or https:// URL"),
    Case("infra.secrets", "missing credentials", ("rotate", "dev", "checkout", "--endpoint-url", UNREACHABLE_ENDPOINT),
         2, "no AWS credentials found"),
    Case("infra.secrets", "no command", (), 2, "the following arguments are required: <command>"),
    Case("infra.secrets", "unknown command", ("rotat", "dev", "checkout"), 2, "argument <command>: invalid choice"),
    Case("infra.secrets", "unknown argument", ("rotate", "dev", "checkout", "--bogus"), 2,
         "unrecognized arguments: --bogus"),

    # infra.stacks reads every stack file of the project: the first it cannot read stops the matrix.
    Case("infra.stacks", "a stack file unreadable (read fails: EIO)", (), 2,
         "Pulumi.broken.yaml cannot be read: Input/output error", process=True),
    Case("infra.stacks", "root not a Pulumi project", ("--root", "outputs"), 2, "Pulumi.yaml not found in"),
    Case("infra.stacks", "bad argument value", ("--tier", "staging"), 2, "argument --tier: invalid choice"),
    Case("infra.stacks", "unknown argument", ("--bogus",), 2, "unrecognized arguments: --bogus"),
    Case("infra.stacks", "interrupted (Ctrl-C)", ("--root", "stacks-waits"), 130, "interrupted",
         fifo="stacks-waits/Pulumi.waits.yaml"),

    # Each refuses unless the Pulumi CLI or engine started the process: only a process shows that.
    *(Case(cli, "not started by the Pulumi CLI", (), 2, "the policy pack is served to the Pulumi CLI", process=True)
      for cli in ("policy", "securestack.policy")),
    *(Case(cli, "not run by the Pulumi engine", (), 2, "the stack program runs under the Pulumi engine", process=True)
      for cli in ("infra", "securestack.infra")),

    Case("securestack.components.package", "no command", (), 2, "no command given: usage: python -m "
         "securestack.components.package schema", process=True),
    Case("securestack.components.package", "unknown command", ("schemas",), 2, "got 'schemas': usage:"),

    Case("policy.controls", "CONTROLS.md stale", ("--check",), 1, "CONTROLS.md is stale", process=True),
    Case("policy.controls", "unknown argument", ("--bogus",), 2, "unrecognized arguments: --bogus"),

    Case("policy.scanner_findings", "report missing", ("reports/absent.checkov.json",), 2,
         "reports/absent.checkov.json: cannot be read: No such file or directory"),
    Case("policy.scanner_findings", "report a directory", ("reports",), 2, "reports: cannot be read: Is a directory"),
    Case("policy.scanner_findings", "report not UTF-8", ("reports/latin1.checkov.json",), 2, "not UTF-8 text"),
    Case("policy.scanner_findings", "report not JSON", ("reports/notjson.checkov.json",), 2, "not JSON (line 1"),
    Case("policy.scanner_findings", "report not Checkov's", ("reports/list.checkov.json",), 2,
         "not a Checkov JSON report"),
    Case("policy.scanner_findings", "no report", (), 2, "the following arguments are required: reports"),
    Case("policy.scanner_findings", "interrupted reading a report", ("reports/waits.checkov.json",), 130,
         "interrupted", fifo="reports/waits.checkov.json", process=True),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project copy holding every bad input the cases name."""
    root = copy_project(tmp_path_factory.mktemp("cli-failures") / "securestack")
    dev = (root / "Pulumi.dev.yaml").read_text()
    (root / "Pulumi.folder.yaml").mkdir()
    # A read that fails even for root (chmod 000 does not stop root): /proc/self/mem at offset 0 is unmapped.
    (root / "Pulumi.broken.yaml").symlink_to("/proc/self/mem")
    (root / "Pulumi.latin1.yaml").write_bytes(NOT_UTF8)
    (root / "Pulumi.notyaml.yaml").write_text(NOT_YAML)
    for stack in ("pcfolder", "pclatin1"):
        (root / f"Pulumi.{stack}.yaml").write_text(dev)
    (root / "policy" / "policy-config.pcfolder.json").mkdir()
    (root / "policy" / "policy-config.pclatin1.json").write_bytes(b'{"\xff": "advisory"}')
    (root / "policy" / "CONTROLS.md").write_text("# stale\n")
    outputs = root / "outputs"
    outputs.mkdir()
    for name, document in OUTPUTS_FILES.items():
        (outputs / name).write_text(json.dumps(document))
    (outputs / "latin1.json").write_bytes(b'{"environment": "d\xffv"}')
    (outputs / "notjson.json").write_text("{not json")
    reports = root / "reports"
    reports.mkdir()
    (reports / "latin1.checkov.json").write_bytes(b'{"results": "\xff"}')
    (reports / "notjson.checkov.json").write_text("{not json")
    (reports / "list.checkov.json").write_text("[1, 2]")
    (root / "stacks-waits").mkdir()  # a project whose only stack file is a FIFO (infra.stacks' Ctrl-C case)
    shutil.copy(root / "Pulumi.yaml", root / "stacks-waits")
    for case in CASES:
        if case.fifo and not (root / case.fifo).exists():
            os.mkfifo(root / case.fifo)
    importable_copy(root)
    return root


def environment(root: Path, extra: dict[str, str]) -> dict[str, str]:
    """The copy's own code first on the path; no AWS settings from the machine running the tests."""
    base = {k: v for k, v in clean_environment(str(root / ".import")).items() if not k.startswith("AWS_")}
    return {**base, "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true", **extra}


def run(case: Case, root: Path) -> subprocess.CompletedProcess[str]:
    """The case as a subprocess if it needs one, else its module's entry point in-process (see the docstring)."""
    if not case.process:
        return run_in_process(case, root)
    command = [sys.executable, "-m", case.cli, *case.args]
    process = subprocess.Popen(command, cwd=root, env=environment(root, case.env), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=as_a_shell_starts_it if case.fifo else None)
    if case.fifo:
        interrupt_while_reading(process, root / case.fifo)
    stdout, stderr = process.communicate(timeout=TIMEOUT_SECONDS)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


# The module holding `main` where `python -m <cli>` runs a package's __main__.py.
ENTRY_POINTS = {"infra.secrets": "securestack.infra.secrets.cli"}


def run_in_process(case: Case, root: Path) -> subprocess.CompletedProcess[str]:
    module = ENTRY_POINTS.get(case.cli, case.cli if case.cli.startswith("securestack.") else f"securestack.{case.cli}")
    main = importlib.import_module(module).main
    if not case.fifo:
        return run_entry_point(main, case.cli, case.args, root, environment(root, case.env))
    # Ctrl-C in-process: a real SIGINT to this process once the command (on the main thread, where Python delivers
    # signals) has the FIFO open; Python's default handler raises KeyboardInterrupt there, inside `main`.
    # As a shell gives a command SIGINT at its default (Python's raises KeyboardInterrupt): in full-suite runs this
    # pytest-xdist worker had it ignored (SIG_IGN) by the time this module ran; restored after the call.
    saved = signal.signal(signal.SIGINT, signal.default_int_handler)
    finished = threading.Event()
    interrupter = threading.Thread(target=interrupt_self_while_reading, args=(root / case.fifo, finished))
    interrupter.start()
    try:
        return run_entry_point(main, case.cli, case.args, root, environment(root, case.env))
    finally:
        finished.set()
        interrupter.join(TIMEOUT_SECONDS)
        signal.signal(signal.SIGINT, saved)


def interrupt_self_while_reading(fifo: Path, finished: threading.Event) -> None:
    try:
        writer = wait_for_reader(lambda: not finished.is_set(), fifo)
    except AssertionError:
        return  # the command ended without reading the FIFO: its result shows what it did instead
    try:
        wait_until_blocked_reading(Path(f"/proc/self/task/{threading.main_thread().native_id}/wchan"),
                                   lambda: not finished.is_set())
        os.kill(os.getpid(), signal.SIGINT)
        finished.wait(TIMEOUT_SECONDS)
    finally:
        os.close(writer)  # kept open until then: closing it would end the read with EOF instead


def interrupt_while_reading(process: subprocess.Popen[str], fifo: Path) -> None:
    """Ctrl-C (SIGINT) once the command has opened the FIFO: it then waits in read(), inside its main."""
    writer = wait_for_reader(lambda: process.poll() is None, fifo)
    try:
        wait_until_blocked_reading(Path(f"/proc/{process.pid}/wchan"), lambda: process.poll() is None)
        interrupt_until_it_exits(process)
    finally:
        os.close(writer)  # kept open until then: closing it would end the read with EOF instead


# Where Linux shows a thread asleep in read() on a pipe or FIFO (/proc/<tid>/wchan: `pipe_read`, `anon_pipe_read`).
BLOCKED_READING = "pipe_read"
BLOCKED_READING_WAIT_SECONDS = 10


def wait_until_blocked_reading(wchan: Path, running) -> None:
    """Until the reading thread sleeps in read(): a SIGINT that lands after open() returns but before the read()
    syscall starts sets Python's flag where no bytecode checks it, and read() then blocks for good (seen on a loaded
    machine: the case timed out). Once asleep in read(), the signal ends it with EINTR and Python raises
    KeyboardInterrupt. Where wchan cannot be read (not Linux) it sends after a short wait, as before."""
    deadline = time.monotonic() + BLOCKED_READING_WAIT_SECONDS
    while time.monotonic() < deadline and running():
        try:
            if BLOCKED_READING in wchan.read_text():
                return
        except OSError:
            time.sleep(0.2)
            return
        time.sleep(0.01)


def as_a_shell_starts_it() -> None:
    """In the child before exec: SIGINT unblocked and at its default, as an interactive shell starts a command. A
    child inherits its parent thread's signal mask and ignored signals across exec (signal(7)); in full-suite runs
    the pytest-xdist worker's preview Ctrl-C case never exited however many SIGINTs it got, as if something earlier
    in that worker had blocked or ignored SIGINT, so the case no longer depends on the worker's state."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# A command that took the SIGINT exits in milliseconds; one still running this long after never saw it.
SIGINT_RESEND_SECONDS = 15


def interrupt_until_it_exits(process: subprocess.Popen[str]) -> None:
    """SIGINT, and again (as an operator presses Ctrl-C again) while the command has not exited: in full-suite
    runs on a loaded machine the preview's Ctrl-C case twice waited the whole timeout after one SIGINT, though it
    passes alone. The exit code and the one `interrupted` line are checked as before; a resend is reported as a
    warning so the lost signal stays visible."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    sent = 0
    while True:
        process.send_signal(signal.SIGINT)
        sent += 1
        try:
            process.wait(timeout=min(SIGINT_RESEND_SECONDS, max(0.0, deadline - time.monotonic())))
            break
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                raise
    if sent > 1:
        warnings.warn(f"{' '.join(process.args[2:])}: exited only after {sent} SIGINTs", stacklevel=2)


def wait_for_reader(running, fifo: Path) -> int:
    """The FIFO's write end, opened once the command (while `running()`) has opened it for reading."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline and running():
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # succeeds once a reader has it open
        except OSError as error:
            if error.errno != errno.ENXIO:
                raise
            time.sleep(0.05)
    raise AssertionError(f"{fifo.name} was never opened for reading (the command ended first)")


@pytest.fixture(scope="module")
def outcomes(project: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every case's run: the subprocesses concurrently (each spends seconds importing Pulumi; every Ctrl-C case has
    its own FIFO), then the in-process ones one at a time (they swap the process's environment, directory and
    streams)."""
    processes = [case for case in CASES if case.process]
    with ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 2)) as pool:
        results = dict(zip((case.id for case in processes), pool.map(lambda case: run(case, project), processes)))
    results.update((case.id, run(case, project)) for case in CASES if not case.process)
    return results


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_each_failure_is_one_error_line_and_its_exit_code(case: Case, outcomes):
    result = outcomes[case.id]
    lines = result.stderr.splitlines()
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert case.fragment in lines[0]
    assert result.returncode == case.code, result.stderr


def test_a_stack_file_without_read_permission_is_one_error_line(project: Path):
    locked = project / "Pulumi.locked.yaml"
    locked.write_text((project / "Pulumi.dev.yaml").read_text())
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as root: chmod 000 does not stop root reading (the EIO case above covers a read "
                        "that fails)")
        for cli in ("infra.preview", "infra.verify", "infra.secrets"):
            args = {"infra.preview": ("locked",), "infra.verify": ("locked", "--outputs", "outputs/dev.json"),
                    "infra.secrets": ("rotate", "locked", "checkout")}[cli]
            result = run(Case(cli, "stack file unreadable", args, 2, ""), project)
            assert result.returncode == 2 and result.stderr.splitlines() == [
                "error: Pulumi.locked.yaml cannot be read: Permission denied"], result.stderr
    finally:
        locked.chmod(0o644)


def test_the_policy_pack_serves_when_the_pulumi_cli_starts_it(project: Path):
    """The refusal above is only for a pack nobody will connect to: started as the CLI starts it (`python -u -m
    pulumi.policy <engine address> <pack dir>`), it serves and prints its port."""
    process = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", "policy"], cwd=project,
                               env=environment(project, {}), text=True, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        port = process.stdout.readline().strip() if process.stdout else ""
        assert port.isdigit(), process.stderr.read() if process.stderr else ""
    finally:
        process.kill()
        process.communicate(timeout=TIMEOUT_SECONDS)


def test_every_cli_readme_documents_has_a_failure_case():
    clis = {case.cli for case in CASES}
    assert {case.cli for case in CASES if case.process} == clis  # each CLI proven as a real process at least once
    assert clis >= {"infra.preview", "infra.verify", "infra.secrets", "infra.stacks", "policy", "securestack.policy",
                    "infra", "securestack.infra", "securestack.components.package", "policy.controls",
                    "policy.scanner_findings"}
    assert sum(1 for case in CASES if case.code == 130) >= 4  # interrupted: every CLI that waits on input



def test_the_stack_program_ends_on_settings_problems_with_a_run_error_not_a_traceback():
    """Under the engine a `pulumi.RunError` is logged as its message alone (pulumi-language-python-exec)."""
    stack_config = read_stack_config("dev")
    config = {k: v for k, v in stack_config.config.items() if k != "securestack:tier"}
    with pytest.raises(pulumi.RunError, match=r"(?s)^stack 'dev': .*securestack:tier: required"):
        record(lambda: runpy.run_path(str(REPO / "infra" / "__main__.py"), run_name="__main__"), stack="dev",
               config=config, project=stack_config.project)
