"""HTTP endpoints on one port, served by cheroot (a small, maintained, threaded WSGI server).

Security lives here: optional HTTP basic auth against PBKDF2-SHA256 hashes from the config, optional TLS,
and headers that keep the pages self-contained (a CSP that forbids every external asset). Health logic is
pure functions of the supervisor heartbeat and camera statuses, so it can be tested without a pipeline.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import secrets
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from edgeanon.config.names import PBKDF2_MIN_ITERATIONS
from edgeanon.errors import EdgeanonError
from edgeanon.outputs.live import CameraStatus
from edgeanon.web.guard import Limits, LoginLimiter, LoginThrottled, client_key, install

log = logging.getLogger("edgeanon.web")

Handler = Callable[[dict[str, Any]], tuple[int, str, bytes]]  # environ -> (status, content type, body)

_REASONS = {
    200: "OK",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
REALM = "edgeanon"
PBKDF2_ITERATIONS = 600_000  # OWASP's 2023 figure for PBKDF2-HMAC-SHA256
USER_KEY = "edgeanon.user"  # environ key: the authenticated user name, or None
# Pages are self-contained: no external script, style, font or image can load, and no image at all.
DEFAULT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


def json_response(status: int, payload: object) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(payload, sort_keys=True).encode()


# ---------------------------------------------------------------- passwords


def hash_password(password: str, iterations: int = PBKDF2_ITERATIONS, salt: bytes | None = None) -> str:
    """``pbkdf2_sha256$<iterations>$<salt b64>$<hash b64>``: what ``http.auth.users[].password_hash`` holds."""
    if iterations < PBKDF2_MIN_ITERATIONS:
        raise ValueError(f"use at least {PBKDF2_MIN_ITERATIONS} iterations")
    if not password:
        raise ValueError("the password is empty")
    salt = os.urandom(16) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


@dataclass(frozen=True, slots=True)
class _Hash:
    iterations: int
    salt: bytes
    digest: bytes

    @classmethod
    def parse(cls, encoded: str) -> _Hash:
        try:
            algo, iterations, salt, digest = encoded.split("$")
            if algo != "pbkdf2_sha256":
                raise ValueError
            return cls(int(iterations), base64.b64decode(salt, validate=True), base64.b64decode(digest, validate=True))
        except (ValueError, binascii.Error):
            raise ValueError("not a pbkdf2_sha256$<iterations>$<salt>$<hash> string") from None

    def matches(self, password: bytes) -> bool:
        candidate = hashlib.pbkdf2_hmac("sha256", password, self.salt, self.iterations)
        return hmac.compare_digest(candidate, self.digest)


def verify_password(password: str, encoded: str) -> bool:
    return _Hash.parse(encoded).matches(password.encode())


class BasicAuth:
    """Checks ``Authorization: Basic`` headers against PBKDF2 hashes.

    PBKDF2 is slow on purpose (about half a second at 600k iterations on a small CPU), and a browser sends
    the header with every request, so a verified header is remembered for ``cache_s``, keyed by an HMAC
    under a random per-process key: neither the password nor the header is kept in memory. Failures are
    never cached, and an unknown user costs the same work as a wrong password, so timing names no user.
    A client with too many recent failures gets ``LoginThrottled`` before any PBKDF2 work (``limiter``).
    """

    def __init__(
        self,
        users: Mapping[str, str],
        cache_s: float = 300.0,
        cache_size: int = 64,
        limiter: LoginLimiter | None = None,
    ) -> None:
        if not users:
            raise ValueError("basic auth needs at least one user")
        self._users = {name: _Hash.parse(h) for name, h in users.items()}
        first = next(iter(self._users.values()))
        self._dummy = _Hash(first.iterations, os.urandom(16), os.urandom(32))
        self._key = secrets.token_bytes(32)
        self._cache: OrderedDict[bytes, tuple[str, float]] = OrderedDict()
        self._cache_s = cache_s
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self.limiter = LoginLimiter() if limiter is None else limiter

    def check(self, header: str | None, client: str = "") -> str | None:
        """The user name if ``header`` carries valid credentials, else None.

        Raises ``LoginThrottled`` when ``client`` (see ``guard.client_key``) failed too often lately and the
        header is not one already verified.
        """
        if not header or header[:6].lower() != "basic ":
            return None
        tag = hmac.new(self._key, header.encode("latin-1", "replace"), hashlib.sha256).digest()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(tag)
            if hit is not None and hit[1] > now:
                self._cache.move_to_end(tag)
                return hit[0]
        wait = self.limiter.retry_after(client, now)
        if wait > 0:
            raise LoginThrottled(wait)
        user = self._verify(header)
        if user is None:
            self.limiter.failed(client, now)
            return None
        self.limiter.succeeded(client)
        with self._lock:
            self._cache[tag] = (user, now + self._cache_s)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return user

    def _verify(self, header: str) -> str | None:
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        if not sep:
            return None
        expected = self._users.get(user)
        ok = (expected or self._dummy).matches(password.encode()) and expected is not None
        return user if ok else None


# ---------------------------------------------------------------- health


def liveness(heartbeat: float, statuses: Iterable[CameraStatus], limit_s: float, now: float) -> tuple[bool, dict]:
    """Alive while the supervisor loop turns. Cameras are reported but never decide it: one unplugged camera
    must not make Docker or systemd restart the whole service (that is /readyz's job to show)."""
    age = now - heartbeat
    cams = {s.camera: {"up": s.up, "closed": s.closed, "finished": s.finished} for s in statuses}
    return age < limit_s, {"supervisor_age_s": round(age, 3), "cameras": cams}


def camera_state(s: CameraStatus, stale_s: float, now: float) -> str:
    """``closed`` (outside opening hours) and ``finished`` (a file ended) are expected to deliver nothing."""
    if s.finished:
        return "finished"
    if s.closed:
        return "closed"
    if s.last_frame is None or now - s.last_frame > stale_s:
        return "stale"
    return "fresh"


def readiness(statuses: Iterable[CameraStatus], stale_s: float, now: float) -> tuple[bool, dict]:
    """Ready when every camera that should be running delivered a frame within ``stale_s`` (monotonic), and
    no camera's zones or lines miss its frame (``geometry_errors``: it would count nothing, for ever). Only
    the number of geometry problems is shown here (this endpoint may be open); the log and /setup name them."""
    cams: dict[str, dict] = {}
    for s in statuses:
        age = None if s.last_frame is None else round(now - s.last_frame, 3)
        cams[s.camera] = {
            "state": camera_state(s, stale_s, now),
            "last_frame_age_s": age,
            "up": s.up,
            "geometry_problems": len(s.geometry_errors),
        }
    stale = sorted(c for c, v in cams.items() if v["state"] == "stale")
    misplaced = sorted(c for c, v in cams.items() if v["geometry_problems"])
    return not stale and not misplaced, {
        "stale": stale,
        "misplaced": misplaced,
        "stale_after_s": stale_s,
        "cameras": cams,
    }


# ---------------------------------------------------------------- the WSGI app


class App:
    """A tiny router: a dict of exact paths, with basic auth in front of every path not in ``open_paths``."""

    def __init__(
        self,
        registry: CollectorRegistry,
        health: Callable[[], tuple[bool, dict]],
        ready: Callable[[], tuple[bool, dict]] | None = None,
        *,
        auth: BasicAuth | None = None,
        open_paths: Iterable[str] = ("/healthz", "/readyz", "/notice"),
    ) -> None:
        self.routes: dict[str, Handler] = {}
        self.csp: dict[str, str] = {}  # path -> Content-Security-Policy for pages that need more than the default
        self.auth = auth
        self.open_paths = frozenset(open_paths)
        self._registry = registry
        self._health = health
        self._ready = ready
        self.routes["/metrics"] = self._metrics
        self.routes["/healthz"] = self._healthz
        if ready is not None:
            self.routes["/readyz"] = self._readyz

    def _metrics(self, environ: dict[str, Any]) -> tuple[int, str, bytes]:
        return 200, CONTENT_TYPE_LATEST, generate_latest(self._registry)

    def _healthz(self, environ: dict[str, Any]) -> tuple[int, str, bytes]:
        ok, detail = self._health()
        return json_response(200 if ok else 503, {"ok": ok, **detail})

    def _readyz(self, environ: dict[str, Any]) -> tuple[int, str, bytes]:
        assert self._ready is not None
        ok, detail = self._ready()
        return json_response(200 if ok else 503, {"ready": ok, **detail})

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        path = environ.get("PATH_INFO") or "/"
        headers: list[tuple[str, str]] = []
        environ[USER_KEY] = None
        if self.auth is not None and path not in self.open_paths:
            try:
                environ[USER_KEY] = self.auth.check(
                    environ.get("HTTP_AUTHORIZATION"), client_key(environ.get("REMOTE_ADDR") or "")
                )
            except LoginThrottled as exc:
                headers.append(("Retry-After", str(max(1, round(exc.retry_after_s)))))
                body = b"too many failed logins; try again later\n"
                return self._respond(start_response, method, 429, "text/plain; charset=utf-8", body, headers)
            if environ[USER_KEY] is None:
                status, ctype, body = 401, "text/plain; charset=utf-8", b"authentication required\n"
                headers.append(("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"'))
                return self._respond(start_response, method, status, ctype, body, headers)
        handler = self.routes.get(path)
        if handler is None:
            status, ctype, body = 404, "text/plain; charset=utf-8", b"not found\n"
        elif method not in {"GET", "HEAD"}:
            status, ctype, body = 405, "text/plain; charset=utf-8", b"method not allowed\n"
            headers.append(("Allow", "GET, HEAD"))
        else:
            try:
                status, ctype, body = handler(environ)
            except Exception:  # a broken page must not take the server down; the traceback has no request data
                log.exception("handler for %s failed", path)
                status, ctype, body = 500, "text/plain; charset=utf-8", b"internal error\n"
        if ctype.startswith("text/html"):
            headers.append(("Content-Security-Policy", self.csp.get(path, DEFAULT_CSP)))
        return self._respond(start_response, method, status, ctype, body, headers)

    @staticmethod
    def _respond(
        start_response: Callable, method: str | None, status: int, ctype: str, body: bytes, extra: list
    ) -> list[bytes]:
        start_response(
            f"{status} {_REASONS.get(status, 'Error')}",
            [
                ("Content-Type", ctype),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),  # live counts and boxes must not sit in a browser or proxy cache
                ("X-Content-Type-Options", "nosniff"),
                ("Referrer-Policy", "no-referrer"),
                ("X-Frame-Options", "DENY"),
                *extra,
            ],
        )
        return [b"" if method == "HEAD" else body]


# ---------------------------------------------------------------- the server


def tls_adapter(cert: str | Path, key: str | Path):
    """cheroot's builtin (stdlib ``ssl``) adapter, TLS 1.2+; a missing or mismatched file is a start-up error."""
    from cheroot.ssl.builtin import BuiltinSSLAdapter

    for what, p in (("certificate", cert), ("key", key)):
        path = Path(p).expanduser()
        if not path.is_file():
            raise EdgeanonError(f"http.tls.{'cert' if what == 'certificate' else 'key'}: {path}: no such {what} file")
        if not os.access(path, os.R_OK):
            raise EdgeanonError(f"http.tls: {path}: the {what} file is not readable by this user")
    try:
        adapter = BuiltinSSLAdapter(str(Path(cert).expanduser()), str(Path(key).expanduser()))
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise EdgeanonError(f"http.tls: cannot load the certificate and key: {exc}") from None
    adapter.context.minimum_version = ssl.TLSVersion.TLSv1_2
    return adapter


def _cheroot_log(msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
    """cheroot reports client trouble (a TLS handshake a client gave up, plain HTTP on a TLS port) at INFO."""
    log.log(level if level > logging.INFO else logging.DEBUG, "%s", msg, exc_info=traceback)


class WebServer:
    """Runs the WSGI app in a background thread; ``port`` is the bound port (useful with port 0).

    ``limits`` (``guard``) keep it answering under slow, silent, oversized or password-guessing clients.
    """

    def __init__(
        self, app: App, host: str, port: int, tls: tuple[str, str] | None = None, limits: Limits | None = None
    ) -> None:
        from cheroot import wsgi

        limits = Limits() if limits is None else limits
        adapter = tls_adapter(*tls) if tls is not None else None  # before binding: a bad file fails first
        self._server = wsgi.Server(
            (host, port), app, numthreads=limits.threads, server_name="edgeanon", timeout=limits.idle_timeout_s
        )
        self._server.error_log = _cheroot_log  # into logging (formatted, redacted), not straight to stderr
        if adapter is not None:
            self._server.ssl_adapter = adapter
        self._server.prepare()  # binds now, so a busy port fails at start-up with a clear error
        install(self._server, limits)
        self.host = host
        self.port = self._server.bind_addr[1]
        self.scheme = "https" if adapter is not None else "http"
        self._thread = threading.Thread(target=self._server.serve, name="http", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def start(self) -> None:
        self._thread.start()
        log.info("serving /metrics and the pages on %s", self.url)

    def stop(self) -> None:
        self._server.stop()
        self._thread.join(5)
