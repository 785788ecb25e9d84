"""The web layer without a pipeline: a WSGI app with a test gauge and stub pages, a staff password and its hash,
Basic-auth headers, and a throwaway TLS certificate for 127.0.0.1."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Gauge

from edgeanon.web.server import App, BasicAuth, hash_password

ITER = 100_000  # the config's minimum: keeps the tests fast
PASSWORD = "correct horse battery staple"
HASH = hash_password(PASSWORD, ITER)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def make_app(*, healthy: bool = True, ready: bool = True, auth: BasicAuth | None = None, **kw: Any) -> App:
    registry = CollectorRegistry()
    Gauge("edgeanon_test", "test gauge", registry=registry).set(3)
    app = App(
        registry, lambda: (healthy, {"x": 1}), lambda: (ready, {"stale": [] if ready else ["b"]}), auth=auth, **kw
    )
    app.routes["/"] = lambda environ: (200, "text/html; charset=utf-8", b"<p>status</p>")
    app.routes["/notice"] = lambda environ: (200, "text/html; charset=utf-8", b"<p>notice</p>")
    return app


def self_signed(tmp: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1: with ``cryptography`` if installed, else Debian's openssl CLI."""
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    try:
        import datetime as dt
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        if shutil.which("openssl") is None:
            if os.environ.get("CI"):
                raise
            pytest.skip("neither the cryptography package nor the openssl CLI is available to make a certificate")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True,
            capture_output=True,
        )  # fmt: skip
        return cert, key
    pk = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    crt = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(pk.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(pk, hashes.SHA256())
    )
    cert.write_bytes(crt.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        pk.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert, key
