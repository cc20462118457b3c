"""An HTTP proxy on 127.0.0.1 in front of a moto server that fails chosen AWS calls: the operator CLI's "a failure
between steps leaves the stages as they were", tested by failing each step in turn.

Requests are named as AWS names them: the `X-Amz-Target` header for JSON protocols (`secretsmanager.PutSecretValue`,
`AmazonEC2ContainerServiceV20141113.UpdateService`), else `<METHOD> <path>` (Lambda's REST API). A fault answers
the `nth` matching request (and the `times - 1` after it: botocore retries a 500 or a dropped connection, 3 attempts
in the CLI's config) with an error, or closes the connection without an answer; the request never reaches moto.
Bodies are neither logged nor kept (they hold the values).

A stale answer (`record`, then `Stale.replay`) is the eventual consistency of a read right after a change: the
answer moto gave a matching request before the change is given again to the next `times` matching requests, as an
AWS endpoint that has not caught up would. Only describe-style answers are recorded (never GetSecretValue's).
"""
from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, Optional
from urllib.parse import urlsplit

import pytest

RETRIED_ATTEMPTS = 3  # infra/secrets/common.py CLIENT_CONFIG: total_max_attempts


@dataclass
class Fault:
    target: str  # an exact request name (see the module docstring)
    nth: int = 1
    status: int = 400  # 400: a refusal botocore does not retry; 500: retried, so `times` should cover the retries
    code: str = "AccessDeniedException"
    drop: bool = False  # close the connection instead of answering
    times: int = 1
    seen: int = 0

    def hits(self) -> bool:
        self.seen += 1
        return self.nth <= self.seen < self.nth + self.times


@dataclass
class Stale:
    target: str  # a request name as for Fault; query-protocol calls (RDS, ELB) are all `POST /`: see `matching`
    matching: bytes = b""  # the request body must contain it, e.g. b"Action=DescribeDBInstances" or a secret's ARN
    answer: Optional[tuple[int, dict[str, str], bytes]] = None  # the first matching answer, once recorded
    left: int = 0  # stale answers still to give
    replayed: int = 0  # stale answers given
    forwarded: int = 0  # matching requests moto answered (the recording included)

    def matches(self, name: str, body: bytes) -> bool:
        return self.target == name and self.matching in body

    def replay(self, times: int) -> "Stale":
        assert self.answer is not None, f"no answer to {self.target} recorded yet"
        self.left = times
        return self


class FaultProxy:
    def __init__(self, upstream: str):
        self.upstream = urlsplit(upstream)
        self.faults: list[Fault] = []
        self.stale: list[Stale] = []
        self.requests: list[tuple[str, dict[str, str]]] = []  # (name, the headers tests look at)
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def fail(self, target: str, **fault: object) -> Fault:
        added = Fault(target, **fault)  # type: ignore[arg-type]
        self.faults.append(added)
        return added

    def record(self, target: str, matching: bytes = b"") -> Stale:
        """Keeps moto's answer to the next matching request; `replay` gives it again later."""
        added = Stale(target, matching)
        with self._lock:
            self.stale.append(added)
        return added

    def _stale_for(self, name: str, body: bytes) -> Optional[Stale]:
        with self._lock:
            for stale in self.stale:
                if stale.matches(name, body) and stale.left > 0:
                    stale.left -= 1
                    stale.replayed += 1
                    return stale
            return None

    def _seen(self, name: str, body: bytes, answer: tuple[int, dict[str, str], bytes]) -> None:
        with self._lock:
            for stale in self.stale:
                if stale.matches(name, body):
                    stale.forwarded += 1
                    stale.answer = stale.answer or answer

    def reset(self) -> None:
        with self._lock:
            self.faults.clear()
            self.stale.clear()
            self.requests.clear()

    def names(self) -> list[str]:
        return [name for name, _ in self.requests]

    def _fault_for(self, name: str) -> Optional[Fault]:
        with self._lock:
            # Every matching fault counts the request (each its own nth), the first that hits answers it.
            hits = [fault for fault in self.faults if fault.target == name and fault.hits()]
            return hits[0] if hits else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet: no request lines
                return

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                name = self.headers.get("X-Amz-Target") or f"{self.command} {self.path.split('?')[0]}"
                with proxy._lock:
                    proxy.requests.append((name, {"X-Amz-Invocation-Type":
                                                  self.headers.get("X-Amz-Invocation-Type", "")}))
                fault = proxy._fault_for(name)
                if fault is not None and fault.drop:
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault is not None:
                    payload = (f'{{"__type": "{fault.code}", "message": "injected by the test\'s fault proxy"}}'
                               ).encode()
                    self._answer(fault.status, {"Content-Type": "application/x-amz-json-1.1",
                                                "x-amzn-ErrorType": fault.code}, payload)
                    return
                stale = proxy._stale_for(name, body)
                if stale is not None and stale.answer is not None:
                    self._answer(*stale.answer)
                    return
                upstream = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    answer = (response.status, dict(response.getheaders()), response.read())
                    proxy._seen(name, body, answer)
                    self._answer(*answer)
                finally:
                    upstream.close()

            def _answer(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _any

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def fault_proxy(moto_url: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(moto_url)
    yield proxy
    proxy.close()
