"""A throwaway PostgreSQL server for tests: TLS with a fresh CA, scram-sha-256 only.

Tests run as root, while PostgreSQL refuses to run as root: every server command runs as the
`postgres` OS user when we are root. The server listens on 127.0.0.1 only, on a free port, with
its socket and data in a temporary directory removed at stop.
"""

from __future__ import annotations

import contextlib
import datetime
import glob
import ipaddress
import os
import pwd
import secrets
import shlex
import shutil
import socket
import ssl
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

SERVER_OS_USER = "postgres"
START_TIMEOUT_SECONDS = 30


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are not installed on this machine."""


@dataclass
class PostgresServer:
    host: str
    port: int
    superuser: str
    superuser_password: str = field(repr=False)
    dbname: str
    ca_file: str | None  # None: the server speaks plaintext only (for refusal tests)

    @property
    def tls(self) -> bool:
        return self.ca_file is not None

    def ssl_context(self) -> ssl.SSLContext:
        """A context that verifies the server against the test CA, as the rotator does."""
        if self.ca_file is None:
            raise ValueError("this server was started without TLS")
        context = ssl.create_default_context(cafile=self.ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def connect(self, user: str, password: str, database: str | None = None):
        """A pg8000 native connection over verified TLS (plaintext only on a non-TLS server)."""
        import pg8000.native

        return pg8000.native.Connection(
            user=user,
            password=password,
            host=self.host,
            port=self.port,
            database=database or self.dbname,
            ssl_context=self.ssl_context() if self.tls else False,
            timeout=10,
        )

    def connect_superuser(self, database: str | None = None):
        return self.connect(self.superuser, self.superuser_password, database)


def find_bindir() -> Path:
    """The directory of initdb/pg_ctl: `pg_config --bindir`, else the newest Debian layout."""
    candidates = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run([pg_config, "--bindir"], check=True, capture_output=True, text=True)
            candidates.append(Path(out.stdout.strip()))
    debian_dirs = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted((Path(d) for d in debian_dirs), key=lambda p: _major(p), reverse=True)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found via pg_config --bindir "
        "or /usr/lib/postgresql/*/bin; install the postgresql package"
    )


def _major(bindir: Path) -> int:
    version = bindir.parent.name
    return int(version) if version.isdigit() else 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_test_pki(directory: Path, owner_uid: int, owner_gid: int) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    validity = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=2))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "securestack test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    ca_file = directory / "ca.pem"
    cert_file = directory / "server.crt"
    key_file = directory / "server.key"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    # PostgreSQL refuses a key readable by others; it must belong to the server's user.
    key_file.chmod(0o600)
    for path in (ca_file, cert_file, key_file):
        os.chown(path, owner_uid, owner_gid)
    ca_file.chmod(0o644)
    return ca_file, cert_file, key_file


class _ServerProcess:
    """Owns the temp dir and the running postmaster; knows how to run commands as its user."""

    def __init__(self, bindir: Path, tls: bool):
        self.bindir = bindir
        self.tls = tls
        self.as_root = os.geteuid() == 0
        account = pwd.getpwnam(SERVER_OS_USER) if self.as_root else pwd.getpwuid(os.geteuid())
        self.uid, self.gid = account.pw_uid, account.pw_gid
        self.root = Path(tempfile.mkdtemp(prefix="securestack-pg-"))
        os.chown(self.root, self.uid, self.gid)
        self.datadir = self.root / "data"
        self.port = free_port()
        self.superuser = "securestack_admin"
        self.superuser_password = secrets.token_urlsafe(24)
        self.ca_file: Path | None = None

    def run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", SERVER_OS_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.root)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr[-2000:]}")

    def initdb(self) -> None:
        password_file = self.root / "superuser.pw"
        password_file.write_text(self.superuser_password + "\n")
        os.chown(password_file, self.uid, self.gid)
        password_file.chmod(0o600)
        try:
            self.run(
                "initdb",
                "-D", str(self.datadir),
                "-U", self.superuser,
                "--pwfile", str(password_file),
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            )
        finally:
            password_file.unlink()

    def configure(self) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "password_encryption": "'scram-sha-256'",
            "fsync": "off",  # throwaway data: durability only costs time here
            "max_connections": "50",
        }
        if self.tls:
            self.ca_file, cert_file, key_file = write_test_pki(self.root, self.uid, self.gid)
            settings |= {
                "ssl": "on",
                "ssl_cert_file": f"'{cert_file}'",
                "ssl_key_file": f"'{key_file}'",
                "ssl_min_protocol_version": "'TLSv1.2'",
            }
        else:
            settings["ssl"] = "off"
        with open(self.datadir / "postgresql.conf", "a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
        # Only TCP from loopback, only scram; TLS servers accept nothing but hostssl.
        connection_type = "hostssl" if self.tls else "host"
        (self.datadir / "pg_hba.conf").write_text(
            f"{connection_type} all all 127.0.0.1/32 scram-sha-256\n"
        )

    def start(self) -> None:
        log_file = self.root / "server.log"
        self.run(
            "pg_ctl", "-D", str(self.datadir), "-l", str(log_file),
            "-w", "-t", str(START_TIMEOUT_SECONDS), "start",
        )
        self.watchdog = self._start_watchdog()

    def _start_watchdog(self) -> subprocess.Popen:
        """Stops the server and wipes it if this process dies without cleaning up (killed by a
        timeout, say), so no stray server outlives the test run."""
        stop = [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"]
        if self.as_root:
            stop = ["runuser", "-u", SERVER_OS_USER, "--", *stop]
        script = (
            f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 2; done; "
            f"{shlex.join(stop)} >/dev/null 2>&1; rm -rf {shlex.quote(str(self.root))}"
        )
        return subprocess.Popen(["sh", "-c", script], start_new_session=True, stdin=subprocess.DEVNULL)

    def stop(self) -> None:
        watchdog = getattr(self, "watchdog", None)
        if watchdog is not None:
            watchdog.terminate()
            watchdog.wait()
        with contextlib.suppress(RuntimeError):
            self.run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def server(self) -> PostgresServer:
        return PostgresServer(
            host="127.0.0.1",
            port=self.port,
            superuser=self.superuser,
            superuser_password=self.superuser_password,
            dbname="postgres",
            ca_file=str(self.ca_file) if self.ca_file else None,
        )


@contextlib.contextmanager
def running_postgres(tls: bool = True) -> Iterator[PostgresServer]:
    """Start a throwaway server (raises PostgresUnavailable without binaries); stop and wipe it after."""
    process = _ServerProcess(find_bindir(), tls=tls)
    try:
        process.initdb()
        process.configure()
        process.start()
        yield process.server()
    finally:
        process.stop()
