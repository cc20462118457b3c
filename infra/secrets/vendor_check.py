"""The `testUrl` check of a staged vendor key: one GET with `Authorization: Bearer <key>` over verified TLS.

http.client rather than urllib: it never follows a redirect (a 3xx is an answer to report, and following one could
send the key to another host) and never goes through a proxy from the environment. The context is
ssl.create_default_context(): certificate and host name verified against the system's CAs (OpenSSL honours
SSL_CERT_FILE, which the tests use to trust their own CA).
"""
from __future__ import annotations

import http.client
import socket
import ssl
from urllib.parse import urlsplit

from securestack.components.cli import EXIT_FAILED
from securestack.infra.secrets.common import EXIT_UNUSABLE, Refused


TIMEOUT_SECONDS = 10  # connect and each read: an operator is waiting


def check_key(test_url: str, key: str, timeout: float = TIMEOUT_SECONDS) -> int:
    """The 2xx status the vendor answered with; Refused (exit 1) for any other answer, (exit 2) for no answer.
    Messages name the URL and the status, never the key."""
    parts = urlsplit(test_url)
    if parts.scheme != "https" or not parts.hostname:
        raise Refused(f"testUrl {test_url} is not an https:// URL")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=timeout,
                                             context=ssl.create_default_context())
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {key}", "Accept": "application/json",
                                                 "User-Agent": "securestack-secrets-stage"})
        status = connection.getresponse().status
    except ssl.SSLError as error:
        # Not the vendor, or not a certificate this machine trusts: the check failed (exit 1), the key unsent.
        raise Refused(f"testUrl {test_url}: TLS verification failed ({error.reason or error}): nothing staged",
                      EXIT_FAILED) from None
    except (OSError, http.client.HTTPException, socket.timeout) as error:
        raise Refused(f"testUrl {test_url} did not answer ({type(error).__name__}: {error}): nothing staged",
                      EXIT_UNUSABLE) from None
    finally:
        connection.close()
    if 200 <= status < 300:
        return status
    if status in (401, 403):
        raise Refused(f"the vendor refused the key: testUrl {test_url} answered {status}; nothing staged (is it the "
                      "key you just created, for this environment?)", EXIT_FAILED)
    if 300 <= status < 400:
        raise Refused(f"testUrl {test_url} answered {status}, a redirect, which is not followed (the key would go "
                      "to another URL): set testUrl to the final URL; nothing staged", EXIT_FAILED)
    raise Refused(f"testUrl {test_url} answered {status}, not 2xx: the key is not confirmed valid; nothing staged",
                  EXIT_FAILED)
