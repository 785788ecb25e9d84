"""The HTTP server under hostile clients, over real sockets on loopback: slow, silent, oversized, TLS-stalling
and password-guessing clients must not stop a well-behaved client from being answered.

Attackers and the well-behaved client use different loopback source addresses (127.0.0.0/8 is all loopback on
Linux), because the per-client connection cap is meant to spare other clients, not the attacker itself.
Bounds are generous: the point is "answered within seconds" against "stalled until the attackers give up".
"""

from __future__ import annotations

import base64
import http.client
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest

from edgeanon.web.guard import Limits, LoginLimiter, client_key
from edgeanon.web.server import BasicAuth, WebServer
from tests.helpers.web import HASH, PASSWORD, basic, make_app, self_signed

GOOD = "127.0.0.2"  # the well-behaved client's source address
ANSWER_S = 5.0  # a well-behaved request must be answered within this, while the attack goes on


@contextmanager
def serving(*, tls: tuple[str, str] | None = None, auth: BasicAuth | None = None, **limits) -> Iterator[WebServer]:
    server = WebServer(make_app(auth=auth), "127.0.0.1", 0, tls=tls, limits=Limits(**limits))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def connect(server: WebServer, source: str, timeout: float = 30.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout, source_address=(source, 0))


def get(
    server: WebServer,
    path: str = "/healthz",
    *,
    source: str = GOOD,
    context: ssl.SSLContext | None = None,
    auth: str | None = None,
    timeout: float = ANSWER_S,
) -> tuple[int, dict[str, str], float]:
    """(status, headers, seconds) of one request from ``source``; raises on a timeout."""
    kw = {"timeout": timeout, "source_address": (source, 0)}
    conn = (
        http.client.HTTPSConnection("127.0.0.1", server.port, context=context, **kw)
        if context is not None
        else http.client.HTTPConnection("127.0.0.1", server.port, **kw)
    )
    t0 = time.monotonic()
    try:
        conn.request("GET", path, headers={} if auth is None else {"Authorization": auth})
        resp = conn.getresponse()
        resp.read()
        return resp.status, dict(resp.getheaders()), time.monotonic() - t0
    finally:
        conn.close()


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed ``sock`` (EOF or reset); False if it is still open after the timeout."""
    try:
        while sock.recv(4096):
            pass
        return True
    except ConnectionError:
        return True
    except TimeoutError:
        return False


class Trickler(threading.Thread):
    """Slowloris: sends a request line, then one header byte every ``every_s``, never finishing the headers."""

    def __init__(self, socks: list[socket.socket], every_s: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.socks: list[socket.socket] = []
        self.every_s = every_s
        self.stop = threading.Event()
        self.add(socks)

    def add(self, socks: list[socket.socket]) -> None:
        for s in socks:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: edge\r\nX-Slow: ")
        self.socks = [*self.socks, *socks]  # a new list: the running thread iterates the old one safely

    def run(self) -> None:
        while not self.stop.wait(self.every_s):
            for s in self.socks:
                with suppress(OSError):
                    s.send(b"a")


def test_client_key_groups_ipv6_by_64():
    assert client_key("192.0.2.7") == "192.0.2.7"
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")


def test_slowloris_holds_no_worker_and_is_cut_at_the_deadline():
    """Slow clients trickle header bytes and never finish. Before the limits, 4 of them held all 4 workers for
    as long as they kept sending.

    - A connection over the per-address cap (8) is refused at once.
    - 40 slow connections from 5 addresses, more than the 16 workers, hold none of them: their incomplete
      requests wait in the selector, so /healthz from another address is answered within seconds.
    - Every slow connection gets 408 and is closed soon after the header deadline, although it keeps sending.
    """
    limits = Limits()
    cap = limits.max_connections_per_client
    with serving() as server:
        slow = [connect(server, f"127.0.0.{a}") for a in (10, 11) for _ in range(cap)]
        trickler = Trickler(slow)
        trickler.start()
        try:
            time.sleep(1.0)
            extra = connect(server, "127.0.0.10", timeout=ANSWER_S)
            assert closed_by_server(extra), "a connection over the per-address cap must be refused"
            extra.close()
            more = [connect(server, f"127.0.0.{a}") for a in (12, 13, 14) for _ in range(cap)]
            trickler.add(more)
            slow += more
            assert len(slow) > limits.threads
            time.sleep(1.0)
            for _ in range(3):
                status, _, took = get(server)
                assert status == 200, took
            t0 = time.monotonic()
            first = b""
            for s in slow:
                s.settimeout(max(0.1, limits.header_timeout_s + 10.0 - (time.monotonic() - t0)))
                if not first:
                    with suppress(OSError):
                        first = s.recv(4096)
                assert closed_by_server(s), "a slow client must be cut off at the header deadline"
            assert first.startswith(b"HTTP/1.1 408 "), first[:40]
            assert get(server)[0] == 200
        finally:
            trickler.stop.set()
            trickler.join()
            for s in slow:
                s.close()


def test_a_request_split_over_several_packets_is_served():
    """Headers that arrive in pieces (each short of the blank line) are served once complete."""
    with serving() as server:
        s = connect(server, GOOD, timeout=ANSWER_S)
        for part in (b"GET /healthz HTTP/1.1\r\n", b"Host: edge\r\n", b"Connection: close\r\n", b"\r\n"):
            s.sendall(part)
            time.sleep(0.3)
        reply = b""
        while data := s.recv(4096):
            reply += data
        s.close()
        assert reply.startswith(b"HTTP/1.1 200 "), reply[:40]


def test_silent_connections_hold_no_worker_and_expire():
    """24 connections that send nothing (more than the 16 workers) wait in the selector, not in a worker."""
    limits = Limits()
    with serving() as server:
        silent = [
            connect(server, f"127.0.0.{a}") for a in range(20, 24) for _ in range(limits.max_connections_per_client)
        ]
        try:
            time.sleep(1.0)
            assert get(server)[0] == 200
            t0 = time.monotonic()
            for s in silent:
                s.settimeout(max(0.1, limits.idle_timeout_s + 10.0 - (time.monotonic() - t0)))
                assert closed_by_server(s), "an idle connection must be closed after the idle timeout"
        finally:
            for s in silent:
                s.close()


@pytest.mark.parametrize("size", [64 * 1024, 16 * 1024 * 1024])
def test_oversized_header_is_refused_and_the_server_stays_up(size):
    """A header over 16 KiB gets 413 (cheroot's answer) or a reset, never an answer from the app."""
    with serving() as server:
        s = connect(server, "127.0.0.30", timeout=20.0)
        head = b"GET /healthz HTTP/1.1\r\nHost: edge\r\nX-Big: "
        reply = b""
        try:
            s.sendall(head)
            chunk = b"a" * 65536
            for _ in range(size // len(chunk)):
                s.sendall(chunk)
            s.sendall(b"\r\n\r\n")
            while data := s.recv(4096):
                reply += data
        except ConnectionError:
            with suppress(OSError):
                reply += s.recv(4096)
        finally:
            s.close()
        assert not reply.startswith(b"HTTP/1.1 200"), reply[:80]
        if size == 64 * 1024:  # small enough to be sent whole: the status must be there
            assert reply.split(b"\r\n", 1)[0].split()[1] in {b"400", b"413", b"431"}, reply[:80]
        assert get(server)[0] == 200


def test_tls_clients_that_stall_the_handshake_do_not_stall_others(tmp_path):
    """Silent TLS clients, and clients that send half a ClientHello and stop, cannot delay a healthy TLS client.

    Before, cheroot did the handshake in its accept loop: one silent client stalled every new client for the
    whole socket timeout (about 10 s). Now neither kind holds a worker (a ClientHello goes to a worker only
    once it is whole): 20 half-sent ones, more than the 16 workers, and 4 silent ones delay nobody, and the
    half-sent ones are cut off at the header deadline.
    """
    cert, key = self_signed(tmp_path)
    limits = Limits()
    context = ssl.create_default_context(cafile=str(cert))
    with serving(tls=(str(cert), str(key))) as server:
        silent = [connect(server, "127.0.0.40") for _ in range(4)]
        half = [connect(server, f"127.0.0.{a}") for a in range(41, 45) for _ in range(5)]
        try:
            for s in half:  # a TLS record header announcing 512 bytes of handshake, then nothing
                s.sendall(b"\x16\x03\x01\x02\x00\x01")
            time.sleep(0.5)
            for _ in range(3):
                status, _, took = get(server, context=context)
                assert status == 200, took
            t0 = time.monotonic()
            for s in half:
                s.settimeout(max(0.1, limits.header_timeout_s + 10.0 - (time.monotonic() - t0)))
                assert closed_by_server(s), "a stalled handshake must be cut off at the deadline"
        finally:
            for s in silent + half:
                s.close()


def test_a_slow_request_inside_tls_is_cut_at_the_deadline(tmp_path):
    """After a completed handshake the request is encrypted, so it is read by a worker: one that trickles it
    holds that worker only until the header deadline, then its connection is shut down."""
    cert, key = self_signed(tmp_path)
    limits = Limits()
    context = ssl.create_default_context(cafile=str(cert))
    with serving(tls=(str(cert), str(key))) as server:
        raw = connect(server, "127.0.0.46")
        s = context.wrap_socket(raw, server_hostname="127.0.0.1")
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: edge\r\nX-Slow: ")
            t0 = time.monotonic()
            cut = False
            while time.monotonic() - t0 < limits.header_timeout_s + 10.0:
                try:
                    s.send(b"a")
                except OSError:
                    cut = True
                    break
                s.settimeout(1.0)
                try:
                    if s.recv(4096) == b"":
                        cut = True
                        break
                except TimeoutError:
                    pass
                except OSError:
                    cut = True
                    break
            assert cut, "a slow encrypted request must be cut off at the header deadline"
            assert get(server, context=context)[0] == 200
        finally:
            s.close()


def test_failed_logins_are_limited_per_client(caplog):
    """After 5 wrong passwords, the same client gets 429 even for the right one: it is not checked at all.

    Another client still logs in, and the log names the client but neither user nor password.
    """
    wrong = "hunter2-wrong"
    auth = BasicAuth({"staff": HASH})
    caplog.set_level(logging.WARNING, logger="edgeanon.web")
    with serving(auth=auth) as server:
        for _ in range(auth.limiter.failures):
            assert get(server, "/metrics", source="127.0.0.50", auth=basic("staff", wrong), timeout=30)[0] == 401
        status, headers, _ = get(server, "/metrics", source="127.0.0.50", auth=basic("staff", PASSWORD), timeout=30)
        assert status == 429
        assert 1 <= int(headers["Retry-After"]) <= auth.limiter.window_s
        assert get(server, "/metrics", auth=basic("staff", PASSWORD), timeout=30)[0] == 200  # another client
        assert get(server, "/healthz", source="127.0.0.50")[0] == 200  # open paths stay open
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "failed logins from 127.0.0.50" in logged
    assert wrong not in logged and PASSWORD not in logged and "staff" not in logged
    encoded = base64.b64encode(f"staff:{wrong}".encode()).decode()
    assert encoded not in logged


def test_login_limiter_window():
    limiter = LoginLimiter(failures=3, window_s=60.0)
    for t in (0.0, 10.0, 20.0):
        assert limiter.retry_after("a", t) == 0.0
        limiter.failed("a", t)
    assert limiter.retry_after("a", 30.0) == pytest.approx(30.0)  # until the oldest failure leaves the window
    assert limiter.retry_after("b", 30.0) == 0.0
    assert limiter.retry_after("a", 60.0) == 0.0
    limiter.failed("a", 61.0)  # 10, 20, 61: three within 60 s again
    assert limiter.retry_after("a", 62.0) == pytest.approx(8.0)
    limiter.succeeded("a")
    assert limiter.retry_after("a", 62.0) == 0.0
