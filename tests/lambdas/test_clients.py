"""Issue 11 item 3: the rotation functions' AWS clients fail fast, with a log line naming the endpoint.

In the private subnets an API without a VPC endpoint is unreachable; with botocore's defaults (60 s connect and
read timeouts, retried) one such call outlasts the function's own 60 s timeout.
"""

import ast
import socket
import time

import boto3
import pytest

import api_key_rotation.handler as api_key_handler
import postgres_user_rotation.handler as postgres_handler
from rotation_common import clients, protocol
from tests.lambdas.conftest import LAMBDAS_DIR
from tests.lambdas.harness import FINISHED, REGION, postgres_secret_ready_to_finish
from tests.lambdas.test_standalone_rotation import API_KEY

# What a missing endpoint costs at most per call: every attempt waits for connect + read, plus the standard
# retry mode's backoff (at most 2**attempt seconds before attempt+1); well below the 60 s Lambda timeout.
WORST_CASE_SECONDS = clients.TOTAL_MAX_ATTEMPTS * (clients.CONNECT_TIMEOUT_SECONDS + clients.READ_TIMEOUT_SECONDS) \
    + sum(2 ** attempt for attempt in range(clients.TOTAL_MAX_ATTEMPTS - 1))


def assert_fails_fast(config):
    assert config.connect_timeout == clients.CONNECT_TIMEOUT_SECONDS <= 5
    assert config.read_timeout == clients.READ_TIMEOUT_SECONDS <= 10
    assert config.retries == {"total_max_attempts": clients.TOTAL_MAX_ATTEMPTS, "mode": "standard"}
    assert WORST_CASE_SECONDS < 60 / 2  # a step makes more than one call; each still fails well in time


def test_secrets_manager_client_has_short_timeouts_and_bounded_retries(rotation, monkeypatch):
    monkeypatch.setenv("SECRETS_MANAGER_ENDPOINT", f"https://secretsmanager.{REGION}.amazonaws.com")
    client = protocol.secretsmanager_client()
    assert client.meta.endpoint_url == f"https://secretsmanager.{REGION}.amazonaws.com"
    assert_fails_fast(client.meta.config)


def test_every_client_a_rotation_with_an_ecs_redeploy_builds_fails_fast(rotation, ecs_service):
    clients._cached.clear()
    arn, token = postgres_secret_ready_to_finish(rotation, {"securestack:ecs-service": "app/api"})
    rotation.step(postgres_handler, arn, token, "finishSecret")
    built = {service: client for (service, _), (_, client) in clients._cached.items()}
    assert set(built) == {"secretsmanager", "ecs"}
    for client in built.values():
        assert_fails_fast(client.meta.config)


def client_calls(path):
    """(line, call text) of every `<something>.client(...)` in a module."""
    tree = ast.parse(path.read_text())
    return [(node.lineno, ast.unparse(node.func)) for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "client"]


def test_no_function_builds_a_client_without_the_fail_fast_config():
    """Every AWS client of every kind comes from rotation_common.clients (a bare boto3.client would hang)."""
    found = [f"{path.relative_to(LAMBDAS_DIR)}:{line}: {text}" for path in sorted(LAMBDAS_DIR.rglob("*.py"))
             if path.name != "clients.py" for line, text in client_calls(path)]
    assert found == []


def closed_port_url():
    """A local URL nothing listens on: connecting is refused at once, as an unanswered endpoint times out."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_unreachable_secrets_manager_fails_the_step_fast_with_a_line_naming_it(rotation, monkeypatch,
                                                                                 rotation_log_lines):
    arn = API_KEY.create(rotation)
    token = rotation.start(arn)
    url = closed_port_url()
    monkeypatch.setenv("SECRETS_MANAGER_ENDPOINT", url)
    started = time.monotonic()
    with pytest.raises(Exception) as raised:
        rotation.step(api_key_handler, arn, token, "createSecret")
    assert time.monotonic() - started < WORST_CASE_SECONDS
    assert clients.unreachable_endpoint(raised.value) is not None
    (line,) = [line for line in rotation_log_lines() if line["level"] == "ERROR"]
    assert line["message"] == clients.UNREACHABLE_MESSAGE and "VPC interface endpoint" in line["message"]
    assert line["aws_endpoint"].startswith(url) and line["error_type"] == "EndpointConnectionError"


def test_unreachable_ecs_is_logged_with_its_endpoint_and_the_rotation_stands(rotation, monkeypatch,
                                                                             rotation_log_lines):
    url = closed_port_url()
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", url)  # botocore's per-service endpoint: ECS alone is unreachable
    clients._cached.clear()
    arn, token = postgres_secret_ready_to_finish(rotation, {"securestack:ecs-service": "app/api"})
    started = time.monotonic()
    rotation.step(postgres_handler, arn, token, "finishSecret")
    assert time.monotonic() - started < WORST_CASE_SECONDS
    assert rotation.stages(arn)[token] == FINISHED
    failures = [line for line in rotation_log_lines() if line["level"] == "ERROR"]
    assert [(f["ecs_service"], f["error_type"]) for f in failures] == [("api", "EndpointConnectionError")]
    assert failures[0]["aws_endpoint"].startswith(url)


@pytest.fixture
def ecs_service(rotation):
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="app")
    ecs.register_task_definition(family="api", containerDefinitions=[{"name": "api", "image": "api:1", "memory": 256}])
    ecs.create_service(cluster="app", serviceName="api", taskDefinition="api", desiredCount=1)
