"""securestack components: one ComponentResource per concern, one file each.

Every component, its Args and the option types its Args name are importable from here
(`from securestack.components import EncryptedPostgres, EncryptedPostgresArgs`); tests/test_library_exports.py
keeps the list complete. Each is imported from its module when first asked for (PEP 562 module __getattr__),
so importing one module of the package (e.g. `securestack.components.args` from the stack settings) does not
import every component; type checkers read the imports below.
"""
import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .access_logs import AccessLogBucket, AccessLogBucketArgs
    from .app import AppService, AppServiceArgs, RuntimeSecretAccess, SecretVariable
    from .args import ArgsError
    from .audit import AlarmSubscription, AuditTrail, AuditTrailArgs, TrailBucketLifecycle
    from .backup import DatabaseBackupPlan, DatabaseBackupPlanArgs
    from .code_signing import CodeSigningTarget, RotatorCodeSigning, RotatorCodeSigningArgs
    from .common import ServerAccessLogTarget
    from .database import EncryptedPostgres, EncryptedPostgresArgs, LogStatement, PointInTimeRestore
    from .keys import EnvironmentKeys, EnvironmentKeysArgs, KeyPolicyStatements
    from .load_balancer import TlsLoadBalancer, TlsLoadBalancerArgs, TlsLoadBalancerCertificate
    from .network import ExistingVpc, Network, NetworkArgs
    from .rotation import RedeployedService, RotationFunction, RotationFunctionArgs, RotatorDatabaseAccess
    from .secret_age_alarms import SecretAgeAlarms, SecretAgeAlarmsArgs
    from .secrets import (ApiKey, DatabaseUserSecret, DatabaseUserSecretArgs, RotatedSecrets, ScopedApiKeys,
                          ScopedApiKeysArgs, SecretStoreArgs, Webhook, WebhookSecrets, WebhookSecretsArgs)
    from .vendor_secrets import VendorApiKey, VendorSecrets, VendorSecretsArgs, VendorWebhook

# Exported name -> the module of this package that defines it.
_EXPORTS = {
    "AccessLogBucket": "access_logs", "AccessLogBucketArgs": "access_logs",
    "AppService": "app", "AppServiceArgs": "app", "RuntimeSecretAccess": "app", "SecretVariable": "app",
    "ArgsError": "args",
    "AlarmSubscription": "audit", "AuditTrail": "audit", "AuditTrailArgs": "audit", "TrailBucketLifecycle": "audit",
    "DatabaseBackupPlan": "backup", "DatabaseBackupPlanArgs": "backup",
    "CodeSigningTarget": "code_signing", "RotatorCodeSigning": "code_signing",
    "RotatorCodeSigningArgs": "code_signing",
    "ServerAccessLogTarget": "common",
    "EncryptedPostgres": "database", "EncryptedPostgresArgs": "database", "LogStatement": "database",
    "PointInTimeRestore": "database",
    "EnvironmentKeys": "keys", "EnvironmentKeysArgs": "keys", "KeyPolicyStatements": "keys",
    "TlsLoadBalancer": "load_balancer", "TlsLoadBalancerArgs": "load_balancer",
    "TlsLoadBalancerCertificate": "load_balancer",
    "ExistingVpc": "network", "Network": "network", "NetworkArgs": "network",
    "RedeployedService": "rotation", "RotationFunction": "rotation", "RotationFunctionArgs": "rotation",
    "RotatorDatabaseAccess": "rotation",
    "SecretAgeAlarms": "secret_age_alarms", "SecretAgeAlarmsArgs": "secret_age_alarms",
    "ApiKey": "secrets", "DatabaseUserSecret": "secrets", "DatabaseUserSecretArgs": "secrets",
    "RotatedSecrets": "secrets", "ScopedApiKeys": "secrets", "ScopedApiKeysArgs": "secrets",
    "SecretStoreArgs": "secrets", "Webhook": "secrets", "WebhookSecrets": "secrets", "WebhookSecretsArgs": "secrets",
    "VendorApiKey": "vendor_secrets", "VendorSecrets": "vendor_secrets", "VendorSecretsArgs": "vendor_secrets",
    "VendorWebhook": "vendor_secrets",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # asked once: later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
