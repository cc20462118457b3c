"""The edge, audit, secrets and app components used as a library: each built from its own Args alone (no stack
settings) on the mock engine, with secure defaults, one-line ArgsErrors naming `<Args>.<field>`, and the same
resources from a plain dict (as the component provider hands the inputs) as from the dataclass."""
import json
from typing import Any, Callable

import pytest

from securestack.components.app import AppService, AppServiceArgs, SecretVariable
from securestack.components.args import ArgsError
from securestack.components.audit import AlarmSubscription, AuditTrail, AuditTrailArgs, TrailBucketLifecycle
from securestack.components.load_balancer import (ELB17_TLS_POLICIES, TlsLoadBalancer, TlsLoadBalancerArgs,
                                                  TlsLoadBalancerCertificate)
from securestack.components.secrets import (ApiKey, ScopedApiKeys, ScopedApiKeysArgs, SecretStoreArgs, Webhook,
                                            WebhookSecrets, WebhookSecretsArgs)
from securestack.infra.recording import Recording, record

ACCOUNT = "111111111111"
CERTIFICATE = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
ROTATOR = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:securestack-lib-api-key-rotation"
ROTATOR_ROLE = f"arn:aws:iam::{ACCOUNT}:role/securestack-lib-api-key-rotation-role"
CALLER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/storefront"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
IMAGE = "111111111111.dkr.ecr.us-east-1.amazonaws.com/app@sha256:" + "a" * 64

ALB, LISTENER = "aws:lb/loadBalancer:LoadBalancer", "aws:lb/listener:Listener"
SECRET, ROTATION = "aws:secretsmanager/secret:Secret", "aws:secretsmanager/secretRotation:SecretRotation"


def recorded(build: Callable[[], Any]) -> Recording:
    return record(build, stack="lib", config={"aws:region": "us-east-1"})


def comparable(recording: Recording) -> list[dict[str, Any]]:
    """Every resource as the engine saw it, in a stable order (property dependencies arrive as sets)."""
    return sorted(({"urn": r.urn, "type": r.type, "parent": r.parent, "inputs": json.dumps(r.inputs, sort_keys=True,
                                                                                           default=str),
                    "options": r.options, "dependencies": r.dependencies,
                    "propertyDependencies": {k: sorted(v) for k, v in r.property_dependencies.items()}}
                   for r in recording.resources), key=lambda r: r["urn"])


# --- each component from its own Args (dataclass and dict forms) -------------------------------------------------

LOAD_BALANCER = {"environment": "lib", "vpc_id": "vpc-0123456789abcdef0", "public_subnet_ids": SUBNETS,
                 "logs_key_arn": KEY, "certificate": {"certificate_arn": CERTIFICATE}}
AUDIT = {"environment": "lib", "logs_key_arn": KEY,
         "subscriptions": [{"protocol": "email", "endpoint": "security@example.com"}],
         "bucket_lifecycle": {"transition_to_glacier_days": 30, "expiration_days": 400}}
STORE = {"environment": "lib", "secrets_key_arn": KEY, "rotator_arn": ROTATOR, "rotator_role_arn": ROTATOR_ROLE,
         "consumer_role_arns": {"storefront": CALLER_ROLE}}
API_KEYS = {"store": STORE, "keys": [{"name": "storefront-read", "scopes": ["products:read"],
                                      "consumers": ["storefront"]}]}
WEBHOOKS = {"store": STORE, "webhooks": [{"name": "order-events", "consumers": ["storefront"]}]}
APP = {"environment": "lib", "image": IMAGE, "vpc_id": "vpc-0123456789abcdef0", "vpc_cidr": "10.0.0.0/16",
       "private_subnet_ids": SUBNETS, "target_group_arn": f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:"
                                                           "targetgroup/app/0123456789abcdef",
       "load_balancer_security_group_id": "sg-0aaaaaaaaaaaaaaaa", "secrets_key_arn": KEY, "logs_key_arn": KEY,
       "secret_variables": [{"name": "DB_PASSWORD", "secret_arn": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:"
                                                                 "secret:db-AbCdEf", "json_key": "password"}]}


def typed_load_balancer() -> TlsLoadBalancerArgs:
    return TlsLoadBalancerArgs(environment="lib", vpc_id="vpc-0123456789abcdef0", public_subnet_ids=SUBNETS,
                               logs_key_arn=KEY, certificate=TlsLoadBalancerCertificate(certificate_arn=CERTIFICATE))


def typed_audit() -> AuditTrailArgs:
    return AuditTrailArgs(environment="lib", logs_key_arn=KEY,
                          subscriptions=[AlarmSubscription(protocol="email", endpoint="security@example.com")],
                          bucket_lifecycle=TrailBucketLifecycle(transition_to_glacier_days=30, expiration_days=400))


def typed_store() -> SecretStoreArgs:
    return SecretStoreArgs(environment="lib", secrets_key_arn=KEY, rotator_arn=ROTATOR, rotator_role_arn=ROTATOR_ROLE,
                           consumer_role_arns={"storefront": CALLER_ROLE})


def typed_api_keys() -> ScopedApiKeysArgs:
    return ScopedApiKeysArgs(store=typed_store(), keys=[ApiKey(name="storefront-read", scopes=["products:read"],
                                                               consumers=["storefront"])])


def typed_webhooks() -> WebhookSecretsArgs:
    return WebhookSecretsArgs(store=typed_store(), webhooks=[Webhook(name="order-events", consumers=["storefront"])])


def typed_app() -> AppServiceArgs:
    variable = APP["secret_variables"][0]
    return AppServiceArgs(**{**APP, "secret_variables": [SecretVariable(**variable)]})


COMPONENTS = {
    "TlsLoadBalancer": (TlsLoadBalancer, typed_load_balancer, LOAD_BALANCER),
    "AuditTrail": (AuditTrail, typed_audit, AUDIT),
    "ScopedApiKeys": (ScopedApiKeys, typed_api_keys, API_KEYS),
    "WebhookSecrets": (WebhookSecrets, typed_webhooks, WEBHOOKS),
    "AppService": (AppService, typed_app, APP),
}


@pytest.fixture(scope="module")
def from_dataclass() -> dict[str, Recording]:
    return {name: recorded(lambda: component("lib", typed())) for name, (component, typed, _) in COMPONENTS.items()}


@pytest.mark.parametrize("name", COMPONENTS)
def test_a_provider_dict_gives_the_same_resources_as_the_dataclass(name, from_dataclass):
    component, _, as_dict = COMPONENTS[name]
    from_dict = recorded(lambda: component("lib", json.loads(json.dumps(as_dict))))
    assert comparable(from_dict) == comparable(from_dataclass[name])
    assert from_dict.one(f"securestack:index:{name}").name == "lib"
    assert len(from_dict.resources) > 1


def test_a_default_load_balancer_is_tls_only_redirects_http_and_is_protected(from_dataclass):
    recording = from_dataclass["TlsLoadBalancer"]
    listeners = {r.inputs["port"]: r.inputs for r in recording.of_type(LISTENER)}
    assert set(listeners) == {443, 80}
    https, http = listeners[443], listeners[80]
    assert https["protocol"] == "HTTPS" and https["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"
    assert https["sslPolicy"] in ELB17_TLS_POLICIES and https["certificateArn"] == CERTIFICATE
    assert https["routingHttpResponseStrictTransportSecurityHeaderValue"].startswith("max-age=31536000")
    assert [a["type"] for a in http["defaultActions"]] == ["redirect"]
    assert http["defaultActions"][0]["redirect"] == {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}
    alb = recording.one(ALB).inputs
    assert alb["enableDeletionProtection"] is True and alb["dropInvalidHeaderFields"] is True
    assert alb["desyncMitigationMode"] == "strictest" and alb["enableWafFailOpen"] is False
    # production by default: the access-log bucket is protected and never force-destroyed
    bucket = recording.one("aws:s3/bucket:Bucket")
    assert bucket.options["protect"] is True and bucket.inputs["forceDestroy"] is False
    assert recording.of_type("aws:wafv2/webAclAssociation:WebAclAssociation")


def test_a_default_audit_trail_is_multi_region_validated_and_protected(from_dataclass):
    recording = from_dataclass["AuditTrail"]
    trail = recording.one("aws:cloudtrail/trail:Trail")
    assert trail.inputs["isMultiRegionTrail"] is True and trail.inputs["enableLogFileValidation"] is True
    assert trail.inputs["kmsKeyId"] == KEY and trail.options["protect"] is True
    (lifecycle,) = recording.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert lifecycle.inputs["rules"][0]["expiration"]["days"] == 400
    (subscription,) = recording.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert subscription.inputs["endpoint"] == "security@example.com"


def test_secrets_from_their_own_args_are_protected_rotated_and_name_their_rotator(from_dataclass):
    for name, path in (("ScopedApiKeys", "api-keys/storefront-read"), ("WebhookSecrets", "webhooks/order-events")):
        recording = from_dataclass[name]
        secret = next(r for r in recording.of_type(SECRET) if r.inputs["name"] == f"securestack/lib/{path}")
        assert secret.inputs["kmsKeyId"] == KEY and secret.inputs["recoveryWindowInDays"] == 30
        assert secret.options["protect"] is True
        (rotation,) = recording.of_type(ROTATION)
        assert rotation.inputs["rotationLambdaArn"] == ROTATOR
        assert rotation.inputs["rotationRules"]["automaticallyAfterDays"] == 90
    key = next(r for r in from_dataclass["ScopedApiKeys"].of_type(SECRET) if "api-keys/" in r.inputs["name"])
    assert key.inputs["tags"]["securestack:key-prefix"] == "sk_live_"


def test_an_app_service_from_its_own_args_runs_non_root_read_only_and_private(from_dataclass):
    recording = from_dataclass["AppService"]
    task = recording.one("aws:ecs/taskDefinition:TaskDefinition").inputs
    (container,) = json.loads(task["containerDefinitions"])
    assert container["user"] == "10001:10001" and container["readonlyRootFilesystem"] is True
    assert container["linuxParameters"]["capabilities"]["drop"] == ["ALL"]
    assert container["secrets"][0]["valueFrom"].endswith(":password::")
    service = recording.one("aws:ecs/service:Service").inputs
    assert service["networkConfiguration"]["assignPublicIp"] is False and service["desiredCount"] == 2


def test_the_rotations_wait_for_what_rotator_ready_carries():
    """SecretStoreArgs.rotator_ready is an Output: the rotation depends on the resources behind it."""
    def build() -> None:
        gate = TlsLoadBalancer("gate", typed_load_balancer())  # any resource stands for "the rotator is ready"
        store = SecretStoreArgs(environment="lib", secrets_key_arn=KEY, rotator_arn=ROTATOR,
                                rotator_role_arn=ROTATOR_ROLE, rotator_ready=gate.https_listener_arn)
        WebhookSecrets("hooks", WebhookSecretsArgs(store=store, webhooks=[Webhook(name="order-events")]))
    recording = recorded(build)
    https = next(r for r in recording.of_type(LISTENER) if r.inputs["port"] == 443)
    (rotation,) = recording.of_type(ROTATION)
    assert https.urn in rotation.options["dependsOn"]


# --- invalid fields: one line naming the field ---------------------------------------------------------------------

@pytest.mark.parametrize("build, field", [
    (lambda: TlsLoadBalancerArgs(**{**LOAD_BALANCER, "certificate": TlsLoadBalancerCertificate(CERTIFICATE),
                                    "tls_policy": "ELBSecurityPolicy-2016-08"}), "TlsLoadBalancerArgs.tls_policy"),
    (lambda: TlsLoadBalancerArgs(**{**LOAD_BALANCER, "certificate": TlsLoadBalancerCertificate(CERTIFICATE),
                                    "rate_limit": 5}), "TlsLoadBalancerArgs.rate_limit"),
    (lambda: TlsLoadBalancerCertificate(domain_name="api.example.com"), "TlsLoadBalancerCertificate.hosted_zone_id"),
    (lambda: AuditTrailArgs(environment="lib", logs_key_arn=KEY, log_retention_days=42),
     "AuditTrailArgs.log_retention_days"),
    (lambda: AlarmSubscription(protocol="http", endpoint="http://example.com"), "AlarmSubscription.protocol"),
    (lambda: TrailBucketLifecycle(transition_to_glacier_days=90, expiration_days=60),
     "TrailBucketLifecycle.expiration_days"),
    (lambda: ApiKey(name="Bad Name", scopes=["products:read"]), "ApiKey.name"),
    (lambda: ApiKey(name="admin", scopes=["*"]), "ApiKey.scopes"),
    (lambda: ApiKey(name="partner", scopes=["products:read"], rotation_days=365), "ApiKey.rotation_days"),
    (lambda: Webhook(name="orders", previous_grace_days=31), "Webhook.previous_grace_days"),
    (lambda: SecretStoreArgs(**{**STORE, "recovery_window_days": 3}), "SecretStoreArgs.recovery_window_days"),
    (lambda: ScopedApiKeysArgs(store=typed_store(), keys=[], key_prefix="SK-"), "ScopedApiKeysArgs.key_prefix"),
    (lambda: AppServiceArgs(**{**APP, "secret_variables": [], "user": "0"}), "AppServiceArgs.user"),
    (lambda: AppServiceArgs(**{**APP, "secret_variables": [], "memory": 300}), "AppServiceArgs.memory"),
])
def test_an_invalid_field_is_one_args_error_line_naming_it(build, field):
    with pytest.raises(ArgsError) as raised:
        build()
    message = str(raised.value)
    assert message.startswith(f"{field}: ") and "\n" not in message


def test_an_invalid_field_in_a_provider_dict_is_one_line_too():
    with pytest.raises(ArgsError, match=r"^TlsLoadBalancerArgs\.target_protocol: "):
        recorded(lambda: TlsLoadBalancer("lib", {**LOAD_BALANCER, "target_protocol": "TCP"}))
