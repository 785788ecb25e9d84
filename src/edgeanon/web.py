"""HTTP endpoints on one port, served by cheroot (a small, maintained, threaded WSGI server)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger("edgeanon.web")

Handler = Callable[[dict[str, Any]], tuple[int, str, bytes]]  # environ -> (status, content type, body)

_REASONS = {200: "OK", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


def json_response(status: int, payload: object) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(payload, sort_keys=True).encode()


class App:
    """A tiny router: a dict of exact paths. Pages are added by later layers (status, notice, setup)."""

    def __init__(self, registry: CollectorRegistry, health: Callable[[], tuple[bool, dict]]) -> None:
        self.routes: dict[str, Handler] = {}
        self._registry = registry
        self._health = health
        self.routes["/metrics"] = self._metrics
        self.routes["/healthz"] = self._healthz

    def _metrics(self, environ: dict[str, Any]) -> tuple[int, str, bytes]:
        return 200, CONTENT_TYPE_LATEST, generate_latest(self._registry)

    def _healthz(self, environ: dict[str, Any]) -> tuple[int, str, bytes]:
        ok, detail = self._health()
        return json_response(200 if ok else 503, {"ok": ok, **detail})

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in {"GET", "HEAD"}:
            status, ctype, body = 405, "text/plain; charset=utf-8", b"method not allowed\n"
        else:
            handler = self.routes.get(environ.get("PATH_INFO", "/"))
            if handler is None:
                status, ctype, body = 404, "text/plain; charset=utf-8", b"not found\n"
            else:
                status, ctype, body = handler(environ)
        start_response(
            f"{status} {_REASONS.get(status, 'Error')}",
            [("Content-Type", ctype), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")],
        )
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else body]


class WebServer:
    """Runs the WSGI app in a background thread; ``port`` is the bound port (useful with port 0)."""

    def __init__(self, app: App, host: str, port: int) -> None:
        from cheroot import wsgi

        self._server = wsgi.Server((host, port), app, numthreads=4, server_name="edgeanon")
        self._server.prepare()  # binds now, so a busy port fails at start-up with a clear error
        self.host = host
        self.port = self._server.bind_addr[1]
        self._thread = threading.Thread(target=self._server.serve, name="http", daemon=True)

    def start(self) -> None:
        self._thread.start()
        log.info("serving /metrics on http://%s:%d", self.host, self.port)

    def stop(self) -> None:
        self._server.stop()
        self._thread.join(5)
