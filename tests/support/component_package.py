"""The component package's Construct served in-process on the recording engine (no Pulumi CLI, no plugin process).

A `Construct` request is a protobuf ConstructRequest, answered by the SDK's gRPC servicer (pulumi/provider/server.py,
`ProviderServicer._construct`): it points the SDK at the engine's monitor, turns the request's inputs and options into
Python values, calls `provider.construct` and serializes the component's state into a ConstructResponse. Here the
monitor is the recording engine's (infra/recording.py, the SDK's mocks), and every other step is the servicer's own
code, so the component sees its inputs exactly as the engine's wire format gives them (numbers as floats, inputs with
dependencies as Outputs).
"""
import dataclasses
import functools
import json
from typing import Any, Mapping, Optional, Sequence

from google.protobuf import json_format, struct_pb2
from pulumi.provider.server import ProviderServicer
from pulumi.runtime import proto

from securestack.components.package import SecurestackProvider
from securestack.infra.recording import Recording, decode_wire, record

METASCHEMA_PATH = "tests/support/pulumi-package-metaschema.json"
# Vendored from pulumi/pulumi pkg/codegen/schema/pulumi.json, last changed in commit
# bd47908e0d1dc907596f419a001dcbd0f76a4425 (read at the snapshot 1b5949891b3cefcb9974752b24a5ecef0acc86c8).
METASCHEMA_SOURCE = "pulumi/pulumi@bd47908e0d1dc907596f419a001dcbd0f76a4425:pkg/codegen/schema/pulumi.json"


@dataclasses.dataclass
class Constructed:
    """What a Construct returned (its URN and state, decoded as the engine reads them) and what it registered."""

    urn: str
    state: dict[str, Any]
    state_dependencies: dict[str, list[str]]
    recording: Recording

    def children(self) -> list:
        """Every resource registered under the component (children, grandchildren...)."""
        below, frontier = [], {self.urn}
        while frontier:
            level = [r for r in self.recording.resources if r.parent in frontier]
            below += level
            frontier = {r.urn for r in level}
        return below


@functools.lru_cache(maxsize=None)
def provider_for(components: tuple) -> SecurestackProvider:
    return SecurestackProvider(components)


def construct_request(type_token: str, name: str, inputs: Mapping[str, Any],
                      dependencies: Optional[Mapping[str, Sequence[str]]] = None) -> Any:
    struct = struct_pb2.Struct()
    struct.update(dict(inputs))
    return proto.ConstructRequest(
        type=type_token, name=name, inputs=struct, project="securestack", stack="dev",
        inputDependencies={key: proto.ConstructRequest.PropertyDependencies(urns=list(urns))
                           for key, urns in (dependencies or {}).items()})


def construct(provider: SecurestackProvider, type_token: str, name: str, inputs: Mapping[str, Any], *,
              dependencies: Optional[Mapping[str, Sequence[str]]] = None,
              config: Optional[Mapping[str, str]] = None) -> Constructed:
    """Serve one Construct request for `type_token` with `inputs` (schema names, JSON values); `dependencies`
    maps an input to the URNs it came from (the engine's inputDependencies)."""
    request = construct_request(type_token, name, inputs, dependencies)
    servicer = ProviderServicer(provider, [], engine_address="")
    responses: list[Any] = []

    async def program() -> None:
        # ProviderServicer._construct after it has connected to the monitor (server.py).
        construct_inputs = await ProviderServicer._construct_inputs(request.inputs, request.inputDependencies)
        result = provider.construct(name=request.name, resource_type=request.type, inputs=construct_inputs,
                                    options=ProviderServicer._construct_options(request))
        responses.append(await servicer._construct_response(result))

    recording = record(program, stack="dev", config=dict(config or {"aws:region": "us-east-1"}))
    (response,) = responses
    return Constructed(
        urn=response.urn, state=decode_wire(json_format.MessageToDict(response.state)),
        state_dependencies={key: list(deps.urns) for key, deps in response.stateDependencies.items()},
        recording=recording)


def metaschema() -> dict[str, Any]:
    with open(METASCHEMA_PATH, encoding="utf-8") as file:
        return json.load(file)


def metaschema_errors(schema: Mapping[str, Any]) -> list[str]:
    """Where `schema` breaks Pulumi's package metaschema. Its patterns are ECMAScript regexes (e.g. `(?<major>`,
    which Python's `re` rejects), matched here with regress as check-jsonschema does by default
    (check_jsonschema/regex_variants.py)."""
    import jsonschema
    from check_jsonschema.regex_variants import RegexImplementation, RegexVariantName

    regex = RegexImplementation(RegexVariantName.default)
    validator_class = jsonschema.validators.extend(jsonschema.Draft202012Validator, {
        "pattern": regex.pattern_keyword, "patternProperties": regex.patternProperties_keyword})
    validator = validator_class(metaschema(), format_checker=validator_class.FORMAT_CHECKER)
    return [f"{'/'.join(str(part) for part in error.absolute_path)}: {error.message}"
            for error in validator.iter_errors(dict(schema))]
