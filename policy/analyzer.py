"""The analyzer the pack serves: pulumi_policy's own, converting each resource once instead of once per policy.

pulumi_policy 1.21's `_PolicyAnalyzerServicer` (sdk/python/lib/pulumi_policy/policy.py at v1.21.0, identical to
the installed file) converts the request again inside its loop over the policies: `Analyze` runs
`deserialize_properties(json_format.MessageToDict(...))`, `unknown_checking_proxy` and `_get_provider_resource`
for every resource policy, `AnalyzeStack` rebuilds every `PolicyResource` of the stack for every stack policy.
With this pack's 82 resource and 21 stack policies that conversion was ~90 % of the policy phase, growing with
the stack (issue 16). `SharedConversionAnalyzer` runs the same loops, levels, messages and error handling, but
converts a request once, on the first policy that needs it, and hands every policy the same objects.

Sharing is only safe if no policy can change what the next one reads, so what is shared is deeply read-only:
property proxies refuse item assignment and wrap lists and dicts that refuse every mutation, the resources,
options, timeouts and providers refuse attribute assignment, and the stack's resource list refuses changes. A
policy that tries raises `TypeError`, which stops the run naming it (the harness's `PolicyPackError`; the engine
fails the update on an analyzer error), never a changed verdict for another policy.

The methods replaced here, and those the copies rely on, are pinned by the digest of their source: if an
installed pulumi_policy differs from the one read, the analyzer refuses to start (`UpstreamChanged`) instead
of silently evaluating differently. pyproject.toml pins the same release range.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
from asyncio import Task, new_event_loop
from typing import Any, Coroutine, Iterable, Mapping, NoReturn, Optional, Self, cast

from google.protobuf import json_format
from pulumi.runtime import proto
from pulumi_policy import policy as upstream
from pulumi_policy import proxy as upstream_proxy
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import (EnforcementLevel, PolicyCustomTimeouts, PolicyProviderResource, PolicyResource,
                                  PolicyResourceOptions, ReportViolation, ResourceValidationArgs,
                                  ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy)

READ_ONLY = "policies share the resources they read (converted once per request): a policy may not change them"
PROVIDER_CACHE_SIZE = 64  # distinct provider configurations kept converted (a stack has a handful)

# sha256 of the source of what the overrides copy or rely on, as read in pulumi_policy 1.21.0
# (github.com/pulumi/pulumi-policy, tag v1.21.0, sdk/python/lib/pulumi_policy/{policy,proxy}.py).
UPSTREAM_DIGESTS = {
    "policy._PolicyAnalyzerServicer.Analyze": "75db9cf8fc9d158596909b9b3f77bf48815990a6f513f2bb35728a67e4d8a515",
    "policy._PolicyAnalyzerServicer.AnalyzeStack": "3917a008482c2387d7da37f65d889970933e8df8efc57270559e20b36be837bf",
    "policy._PolicyAnalyzerServicer._get_resource_options": "986051047b696f0fd99ed8890bc7e6445a171630e99ae53cfbd6066ab4b45288",
    "policy._PolicyAnalyzerServicer._get_provider_resource": "5db736069fc8d3d65e220ee75143faa1d2603982f5fcb3e96cbfc6d3e82ebdd7",
    "policy._PolicyAnalyzerServicer._create_report_violation": "0be23b1e3ebae61589040c8822e60491a5a14fad4d38bb5d381d2d9cbe2d8154",
    "policy.PolicyPack.__init__": "34256ae3a291d0b41e652ed37731e96c65e901e62bb1f710f43cfa0ccbe7d8fb",
    "policy.PolicyResource.__init__": "a9e3ac8b82dc7663563302d196d4b36bffb5af6b148c80eacd9b59f4d7bd2268",
    "policy.PolicyResourceOptions.__init__": "dce42cc099e3fa05a889b45f927137ed047f98bb33cd15837c8e6e61d2c1b4c8",
    "policy.PolicyProviderResource.__init__": "f8ea0316df53a03f47a1f17fa72f4f2d25b7154336170e3cde6c2a4a3d400497",
    "policy.PolicyCustomTimeouts.__init__": "6d543ddb18338a00deae91ebb8d45533aac5ef487262e97340e89531e78661d6",
    "proxy.unknown_checking_proxy": "760d27c0d09666ff364c53e298f1704d47a4dbf8ce16cdf7be375eb825930523",
    "proxy._proxy_helper": "c36dd3b6af1196cbab4c2be6408b333b0294c15c445efb4a3d7b0350e4088a0b",
    "proxy._DictProxy": "9c45424925aaa8d013af8965cc8b50fac37f8080a84c519fd1acf83c1478bb90",
    "proxy._ListProxy": "7d39cdb7a0a010d758f1fdf19b65c686996f9d114c8f2b8954327fd1a5824d50",
}


class UpstreamChanged(RuntimeError):
    """The installed pulumi_policy is not the one this analyzer was written against: it refuses to run."""


def upstream_object(dotted: str) -> Any:
    module, *path = dotted.split(".")
    found: Any = {"policy": upstream, "proxy": upstream_proxy}[module]
    for name in path:
        found = getattr(found, name)
    return found


def source_digest(dotted: str) -> str:
    return hashlib.sha256(inspect.getsource(upstream_object(dotted)).encode()).hexdigest()


@functools.lru_cache(maxsize=None)
def _verified(pinned: tuple[tuple[str, str], ...]) -> None:
    changed = [name for name, digest in pinned if source_digest(name) != digest]
    if changed:
        raise UpstreamChanged(f"pulumi_policy {getattr(upstream, 'VERSION', '?')}: {', '.join(changed)} differ from "
                              f"the 1.21.0 source the pack's analyzer copies, so the pack refuses to run (re-read "
                              f"upstream and update policy/analyzer.py)")


def verify_upstream() -> None:
    """Raise `UpstreamChanged` unless every pinned upstream source is the one read (checked once per process)."""
    _verified(tuple(sorted(UPSTREAM_DIGESTS.items())))


# -- deeply read-only values ----------------------------------------------------------------------------------

def _refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise TypeError(READ_ONLY)


class FrozenList(list):  # type: ignore[type-arg]
    """A list (equal to, and as unhashable as, the one upstream builds) that refuses every change."""

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse


class FrozenDict(dict):  # type: ignore[type-arg]
    """A dict that refuses every change."""

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse


class ReadOnlyDictProxy(upstream_proxy._DictProxy):
    """pulumi_policy's unknown-checking mapping proxy without its item assignment (which writes through)."""

    __setitem__ = _refuse


def read_only_proxy(value: Any, path: list[str]) -> Any:
    """`pulumi_policy.proxy._proxy_helper` (what `unknown_checking_proxy` runs) building read-only containers."""
    if isinstance(value, list):
        return upstream_proxy._ListProxy(FrozenList(read_only_proxy(item, upstream_proxy._append_prop(path, index))
                                                    for index, item in enumerate(value)), path)
    if isinstance(value, dict):
        return ReadOnlyDictProxy(FrozenDict({key: read_only_proxy(value[key], upstream_proxy._append_prop(path, key))
                                             for key in value}), path)
    return value


def read_only_properties(properties: Any) -> Any:
    """What upstream hands a policy as `props`, read-only: `unknown_checking_proxy(deserialize_properties(
    json_format.MessageToDict(properties)))`."""
    return read_only_proxy(deserialize_properties(json_format.MessageToDict(properties)), [])


class _Sealed:
    """Attribute assignment refused once `seal()`ed."""

    _sealed = False

    def seal(self) -> Self:
        object.__setattr__(self, "_sealed", True)
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        if self._sealed:
            _refuse()
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        _refuse()


class SharedResource(_Sealed, PolicyResource):
    pass


class SharedOptions(_Sealed, PolicyResourceOptions):
    pass


class SharedTimeouts(_Sealed, PolicyCustomTimeouts):
    pass


class SharedProvider(_Sealed, PolicyProviderResource):
    pass


def sealed_options(options: PolicyResourceOptions) -> SharedOptions:
    """Upstream's options (from its own `_get_resource_options`), with read-only lists, sealed."""
    timeouts = options.custom_timeouts
    return SharedOptions(options.protect, FrozenList(options.ignore_changes), options.delete_before_replace,
                         FrozenList(options.aliases),
                         SharedTimeouts(timeouts.create_seconds, timeouts.update_seconds,
                                        timeouts.delete_seconds).seal(),
                         FrozenList(options.additional_secret_outputs), options.parent).seal()


# -- the analyzer ---------------------------------------------------------------------------------------------

class SharedConversionAnalyzer(upstream._PolicyAnalyzerServicer):
    """`_PolicyAnalyzerServicer` whose Analyze and AnalyzeStack convert a request once for all policies."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        verify_upstream()
        super().__init__(*args, **kwargs)
        self._providers: dict[bytes, SharedProvider] = {}

    # Upstream keeps these private (name-mangled); the pinned digests vouch for their names and meaning.
    @property
    def _policies(self) -> list[Any]:
        return self._PolicyAnalyzerServicer__policies  # type: ignore[attr-defined,no-any-return]

    @property
    def _stack_tags(self) -> Mapping[str, str]:
        return self._PolicyAnalyzerServicer__stack_tags  # type: ignore[attr-defined,no-any-return]

    def _shared_provider(self, request: Any) -> Optional[SharedProvider]:
        """Upstream's `_get_provider_resource`, read-only and converted once per distinct provider message."""
        if not request.HasField("provider"):
            return None
        provider = request.provider
        key = provider.SerializeToString(deterministic=True)  # equal bytes: an equal message, the same result
        # PolicyPack's gRPC server runs calls on 4 threads: read the cache once, never after another thread's clear.
        shared = self._providers.get(key)
        if shared is None:
            shared = SharedProvider(provider.type, read_only_properties(provider.properties), provider.urn,
                                    provider.name).seal()
            if len(self._providers) >= PROVIDER_CACHE_SIZE:
                self._providers.clear()
            self._providers[key] = shared
        return shared

    def _level(self, policy: Any, kind: type) -> Optional[EnforcementLevel]:
        """The level a policy of `kind` runs at (remediate reported as mandatory, as upstream); None: skip it."""
        level = self._get_enforcement_level(policy)
        if level == EnforcementLevel.DISABLED or not isinstance(policy, kind):
            return None
        return EnforcementLevel.MANDATORY if level == EnforcementLevel.REMEDIATE else level

    def _report(self, response: Any, policy: Any, level: EnforcementLevel) -> ReportViolation:
        return self._create_report_violation(response, policy.name, policy.description, level, policy.severity)

    def _validate(self, policy: Any, args: Any, report_violation: ReportViolation, response: Any) -> None:
        """Upstream's try block around `policy.validate`, unchanged."""
        try:
            result = policy.validate(args, report_violation)
            if inspect.isawaitable(result):
                loop = new_event_loop()
                task: Task[Any] = Task(cast(Coroutine[Any, Any, Any], result), loop=loop)
                loop.run_until_complete(task)
                loop.close()
        except upstream_proxy.UnknownValueError as e:
            name, version = self._PolicyAnalyzerServicer__policy_pack_name, self._PolicyAnalyzerServicer__policy_pack_version  # type: ignore[attr-defined]
            response.diagnostics.append(proto.AnalyzeDiagnostic(
                policyName=policy.name, policyPackName=name, policyPackVersion=version,
                message=(f"can't run policy '{policy.name}' from policy pack '{name}@v{version}' during preview: "
                         f"{e.message}"),
                urn="", description=policy.description,
                enforcementLevel=self._map_enforcement_level(EnforcementLevel.ADVISORY)))
        except upstream._NotApplicableError as e:
            response.not_applicable.append(proto.PolicyNotApplicable(policy_name=policy.name, reason=e.reason or ""))

    def Analyze(self, request: Any, _context: Any) -> Any:
        self._configure_runtime_settings()  # type: ignore[no-untyped-call]
        response = proto.AnalyzeResponse()
        converted: Optional[tuple[Any, SharedOptions, Optional[SharedProvider]]] = None
        for policy in self._policies:
            level = self._level(policy, ResourceValidationPolicy)
            if level is None:
                continue
            if not policy.has_validation():
                response.not_applicable.append(proto.PolicyNotApplicable(
                    policy_name=policy.name, reason="Policy does not implement validate"))
                continue
            report_violation = self._report(response, policy, level)
            if converted is None:  # once, where upstream converts for the first policy (and again for each next)
                converted = (read_only_properties(request.properties),
                             sealed_options(self._get_resource_options(request)), self._shared_provider(request))
            props, opts, provider = converted
            args = ResourceValidationArgs(request.type, props, request.urn, request.name, opts, provider,
                                          self._get_policy_config(policy.name), self._stack_tags)
            self._validate(policy, args, report_violation, response)
        return response

    def AnalyzeStack(self, request: Any, _context: Any) -> Any:
        self._configure_runtime_settings()  # type: ignore[no-untyped-call]
        response = proto.AnalyzeResponse()
        resources: Optional[FrozenList] = None
        for policy in self._policies:
            level = self._level(policy, StackValidationPolicy)
            if level is None:
                continue
            report_violation = self._report(response, policy, level)
            if resources is None:
                resources = self._stack_resources(request.resources)
            args = StackValidationArgs(resources, self._get_policy_config(policy.name), self._stack_tags)
            self._validate(policy, args, report_violation, response)
        return response

    def _stack_resources(self, messages: Iterable[Any]) -> FrozenList:
        """Upstream AnalyzeStack's resources (parent, dependencies and property dependencies as the objects they
        name, when they are in the stack; a repeated URN names its last resource), built once and sealed."""
        built = []
        for message in messages:
            resource = SharedResource(message.type, read_only_properties(message.properties), message.urn,
                                      message.name, sealed_options(self._get_resource_options(message)),
                                      self._shared_provider(message), None, [], {})
            built.append((resource, message))
        by_urn = {resource.urn: resource for resource, _ in built}
        for resource, message in built:
            resource.parent = by_urn.get(message.parent)
            resource.dependencies = FrozenList(by_urn[urn] for urn in message.dependencies if urn in by_urn)
            resource.property_dependencies = FrozenDict(
                (key, FrozenList(by_urn[urn] for urn in value.urns if urn in by_urn))
                for key, value in message.propertyDependencies.items())
            resource.seal()
        return FrozenList(resource for resource, _ in built)


class PolicyPack(upstream.PolicyPack):
    """pulumi_policy's PolicyPack (same checks, same gRPC server), serving `SharedConversionAnalyzer`.

    Upstream's `__init__` builds its servicer from the module-level name `_PolicyAnalyzerServicer` (pinned above),
    then serves until interrupted; the name points at the subclass for that call only."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        verify_upstream()
        original = upstream._PolicyAnalyzerServicer
        upstream._PolicyAnalyzerServicer = SharedConversionAnalyzer  # type: ignore[misc]
        try:
            super().__init__(*args, **kwargs)
        finally:
            upstream._PolicyAnalyzerServicer = original  # type: ignore[misc]
