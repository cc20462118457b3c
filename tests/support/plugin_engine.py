"""The component package as the Pulumi engine drives it: the plugin process started the way the Python language host
starts it (`python <repo> <engine address>`, pulumi-language-python RunPlugin), and an engine on 127.0.0.1 it talks
back to over gRPC: the ResourceMonitor its Construct registers children with, answered by the recording engine
(infra/recording.py), and the Engine service it logs to.

This is what `pulumi up` does for a `securestack:index:*` resource, minus the CLI: the engine sends `Construct` to the
plugin with its monitor's address; the plugin's SDK registers the component and its children with that monitor,
then answers with the component's URN and outputs.
"""
import contextlib
import os
import subprocess
import sys
import threading
from concurrent import futures
from pathlib import Path
from typing import Iterator

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc, provider_pb2_grpc, resource_pb2, resource_pb2_grpc

from securestack.infra.recording import MockEnvironment, RecordingMocks, RecordingMonitor

ROOT = Path(__file__).resolve().parent.parent.parent


class WireMonitor(RecordingMonitor):
    """The recording engine's monitor behind a gRPC server: URNs from the deployment's project and stack (the
    server's threads have no Pulumi settings to take them from, MockMonitor.make_urn reads those)."""

    def __init__(self, project: str, stack: str, region: str = "us-east-1"):
        super().__init__(RecordingMocks(MockEnvironment(account_id="111111111111", region=region)))
        self.project, self.stack = project, stack
        self.lock = threading.Lock()

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        if parent:
            type_ = parent.split("::")[2].split("$")[-1] + "$" + type_
        return "urn:pulumi:" + "::".join([self.stack, self.project, type_, name])

    def root_urn(self) -> str:
        return self.make_urn("", "pulumi:pulumi:Stack", f"{self.project}-{self.stack}")


class _Monitor(resource_pb2_grpc.ResourceMonitorServicer):
    def __init__(self, monitor: WireMonitor):
        self.monitor = monitor

    def _serve(self, method: str, request):
        with self.monitor.lock:  # MockMonitor keeps plain dicts and lists
            return getattr(self.monitor, method)(request)

    def SupportsFeature(self, request, context):
        return resource_pb2.SupportsFeatureResponse(hasSupport=self._serve("SupportsFeature", request).hasSupport)

    def GetDeploymentInfo(self, request, context):
        return self._serve("GetDeploymentInfo", request)

    def RegisterResource(self, request, context):
        return self._serve("RegisterResource", request)

    def RegisterResourceOutputs(self, request, context):
        return self._serve("RegisterResourceOutputs", request)

    def Invoke(self, request, context):
        return self._serve("Invoke", request)

    def ReadResource(self, request, context):
        return self._serve("ReadResource", request)

    def RegisterPackage(self, request, context):
        return self._serve("RegisterPackage", request)

    def SignalAndWaitForShutdown(self, request, context):
        return empty_pb2.Empty()


class _Engine(engine_pb2_grpc.EngineServicer):
    def __init__(self):
        self.messages: list[str] = []

    def Log(self, request, context):
        self.messages.append(request.message)
        return empty_pb2.Empty()

    def GetRootResource(self, request, context):
        return engine_pb2.GetRootResourceResponse()

    def SetRootResource(self, request, context):
        return engine_pb2.SetRootResourceResponse()


@contextlib.contextmanager
def engine(project: str = "securestack", stack: str = "dev") -> Iterator[tuple[str, WireMonitor, _Engine]]:
    """(address, monitor, engine log) of an engine serving the ResourceMonitor and Engine services."""
    monitor, log = WireMonitor(project, stack), _Engine()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    resource_pb2_grpc.add_ResourceMonitorServicer_to_server(_Monitor(monitor), server)
    engine_pb2_grpc.add_EngineServicer_to_server(log, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", monitor, log
    finally:
        server.stop(grace=None)


@contextlib.contextmanager
def plugin(engine_address: str) -> Iterator[provider_pb2_grpc.ResourceProviderStub]:
    """The package's plugin process, as the language host runs it; a client of its ResourceProvider service."""
    process = subprocess.Popen([sys.executable, str(ROOT), engine_address], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": ""})
    try:
        line = process.stdout.readline().decode().strip()
        if not line.isdigit():
            process.kill()
            raise AssertionError(f"the plugin printed no port: {line!r} {process.stderr.read().decode()}")
        with grpc.insecure_channel(f"127.0.0.1:{line}") as channel:
            yield provider_pb2_grpc.ResourceProviderStub(channel)
    finally:
        process.terminate()
        process.wait(timeout=30)
