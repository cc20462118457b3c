"""securestack components: one ComponentResource per concern, one file each.

Every component, its Args and the option types its Args name are importable from here
(`from securestack.components import EncryptedPostgres, EncryptedPostgresArgs`); tests/test_library_exports.py
keeps the list complete.
"""
from .args import ArgsError
from .access_logs import AccessLogBucket, AccessLogBucketArgs
from .app import AppService, AppServiceArgs, RuntimeSecretAccess, SecretVariable
from .audit import AuditTrail, AuditTrailArgs
from .backup import DatabaseBackupPlan, DatabaseBackupPlanArgs
from .code_signing import RotatorCodeSigning, RotatorCodeSigningArgs
from .common import ServerAccessLogTarget
from .database import EncryptedPostgres, EncryptedPostgresArgs
from .keys import EnvironmentKeys, EnvironmentKeysArgs
from .load_balancer import TlsLoadBalancer, TlsLoadBalancerArgs
from .network import Network, NetworkArgs
from .rotation import RotationFunction, RotationFunctionArgs, RotatorDatabaseAccess
from .secrets import (DatabaseUserSecret, DatabaseUserSecretArgs, RotatedSecrets, ScopedApiKeys, ScopedApiKeysArgs,
                      SecretStoreArgs, WebhookSecrets, WebhookSecretsArgs)

__all__ = [
    "AccessLogBucket", "AccessLogBucketArgs", "AppService", "AppServiceArgs", "ArgsError", "AuditTrail",
    "AuditTrailArgs", "DatabaseBackupPlan", "DatabaseBackupPlanArgs", "DatabaseUserSecret",
    "DatabaseUserSecretArgs", "EncryptedPostgres", "EncryptedPostgresArgs", "EnvironmentKeys",
    "EnvironmentKeysArgs", "Network", "NetworkArgs", "RotatedSecrets", "RotationFunction", "RotationFunctionArgs",
    "RotatorCodeSigning", "RotatorCodeSigningArgs", "RotatorDatabaseAccess", "RuntimeSecretAccess", "ScopedApiKeys",
    "ScopedApiKeysArgs", "SecretStoreArgs", "SecretVariable", "ServerAccessLogTarget", "TlsLoadBalancer",
    "TlsLoadBalancerArgs", "WebhookSecrets", "WebhookSecretsArgs",
]
