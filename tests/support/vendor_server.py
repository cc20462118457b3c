"""A local HTTPS server playing an outside vendor (StackBE, BareCommerce) for `stage`'s testUrl check, on a CA the
test creates: the CLI must verify the certificate (ssl.create_default_context()), so the test trusts that CA
through SSL_CERT_FILE (OpenSSL's default verify paths honour it), as a machine trusts a public CA.

`/v1/whoami` answers 200 to `Authorization: Bearer <an issued key>` and 401 to anything else (the vendor's "who am
I"); `/redirect` answers 302 to it; `/broken` answers 500. `issue()` and `delete()` play the vendor's dashboard.
The server records how many requests came (a refused shape must never reach the vendor), never a header value.
"""
from __future__ import annotations

import datetime
import ipaddress
import secrets
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

# cryptography is a dependency of moto, which every test using this server needs anyway (so no openssl fallback).
x509 = pytest.importorskip("cryptography.x509", reason="cryptography is not installed")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

WHOAMI = "/v1/whoami"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate it signs for 127.0.0.1 and localhost: (ca.pem, server.pem, server-key.pem)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("securestack test vendor CA")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca_name)
              .public_key(server_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                          x509.DNSName("localhost")]), critical=False)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    paths = directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(_pem_key(server_key))
    return paths


class VendorServer:
    def __init__(self, directory: Path, prefix: str = "sk_test_"):
        self.ca_file, certificate, key = make_certificates(directory)
        self.prefix = prefix
        self.keys: set[str] = set()
        self.requests = 0
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(certificate, key)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.base_url = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str = WHOAMI) -> str:
        return self.base_url + path

    def issue(self) -> str:
        """A new key from the vendor's dashboard."""
        key = self.prefix + secrets.token_urlsafe(32)
        self.keys.add(key)
        return key

    def delete(self, key: str) -> None:
        self.keys.discard(key)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - no request lines on stderr
                return

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                vendor.requests += 1
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", vendor.url())
                elif self.path == "/broken":
                    self.send_response(500)
                else:
                    presented = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    self.send_response(200 if self.path == WHOAMI and presented in vendor.keys else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def vendor_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VendorServer]:
    server = VendorServer(tmp_path_factory.mktemp("vendor-ca"))
    yield server
    server.close()
