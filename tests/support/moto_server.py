"""A moto server on 127.0.0.1 for tests that run the CLIs as subprocesses (they reach AWS over HTTP, as on AWS)."""
from __future__ import annotations

from typing import Iterator

import pytest
import requests

moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed")


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """One server per test module, on a free loopback port."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def reset_account(moto_url: str) -> None:
    """A fresh moto account; no Docker here, so moto's simple Lambda backend accepts functions without running code."""
    requests.post(f"{moto_url}/moto-api/reset", timeout=10).raise_for_status()
    requests.post(f"{moto_url}/moto-api/config", json={"lambda": {"use_docker": False}}, timeout=10).raise_for_status()
