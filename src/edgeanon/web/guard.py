"""Limits that keep the HTTP server answering before anyone has authenticated.

cheroot gives each connection to one of a few worker threads, and by default it does the TLS handshake in its
accept loop. So a handful of clients that send nothing, send header bytes slowly, send a huge header or never
finish a TLS handshake could hold every worker (or the accept loop itself), and every wrong password cost a
full PBKDF2 run. What this module adds, in front of the app:

- the accept loop only accepts: a new connection waits in cheroot's selector, costing no thread, until its
  first bytes arrive, and is closed if nothing comes within the idle timeout;
- a connection goes to a worker only once its request headers (or, on a TLS port, its whole ClientHello) are
  in the kernel's receive buffer, seen with ``MSG_PEEK`` from the selector thread; one that has not completed
  them within the header deadline of its first byte is closed there (slowloris never holds a worker);
- the TLS handshake runs in the worker thread, and the handshake plus the (encrypted) request must be done
  within the same deadline, enforced from the selector loop by shutting the socket down, so a client that
  trickles bytes cannot renew it;
- caps on open connections, in total and per client address (below the worker count);
- a cap on the header size (cheroot answers 413) and the body size;
- per client, after ``failures`` wrong logins within ``window_s``, 429 without running PBKDF2.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import ssl
import threading
import time
import weakref
from collections import OrderedDict, deque
from dataclasses import dataclass

from cheroot.connections import ConnectionManager
from cheroot.makefile import MakeFile
from cheroot.server import HTTPConnection, HTTPRequest

log = logging.getLogger("edgeanon.web")


@dataclass(frozen=True, slots=True)
class Limits:
    """The server's limits; the defaults are what ``edgeanon run`` uses (and what the README states)."""

    threads: int = 16
    header_timeout_s: float = 10.0  # request line + headers (TLS: ClientHello, then handshake + request)
    idle_timeout_s: float = 10.0  # a connection that sends nothing (new or kept alive) is closed after this
    max_header_bytes: int = 16 * 1024
    max_body_bytes: int = 64 * 1024  # no endpoint takes a body
    max_connections: int = 64
    max_connections_per_client: int = 8  # a browser opens up to 6 per host, plus a probe and a scraper


def client_key(addr: str) -> str:
    """Who a connection counts against: the IPv4 address, or the IPv6 /64 (one host usually holds a whole /64)."""
    try:
        ip = ipaddress.ip_address(addr.split("%", 1)[0])
    except ValueError:
        return addr
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class _Throttled:
    """Logs one line per key at most every ``every_s``: an attacker must not be able to flood the log."""

    def __init__(self, every_s: float = 60.0) -> None:
        self._every_s = every_s
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def warning(self, key: str, msg: str, *args: object) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -self._every_s) < self._every_s:
                return
            self._last[key] = now
            if len(self._last) > 1024:
                self._last.clear()
        log.warning(msg, *args)


_throttled = _Throttled()


# ---------------------------------------------------------------- failed logins


class LoginThrottled(Exception):
    """Too many failed logins from this client: answer 429 and do not run PBKDF2."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"retry after {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s


class LoginLimiter:
    """At most ``failures`` failed logins per client within ``window_s``; bounded state (``clients`` entries)."""

    def __init__(self, failures: int = 5, window_s: float = 60.0, clients: int = 4096) -> None:
        self.failures = failures
        self.window_s = window_s
        self._clients = clients
        self._fails: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str, now: float) -> float:
        """Seconds until ``client`` may try again; 0 when it may now."""
        with self._lock:
            fails = self._fails.get(client)
            if fails is None or len(fails) < self.failures:
                return 0.0
            return max(0.0, fails[0] + self.window_s - now)

    def failed(self, client: str, now: float) -> None:
        with self._lock:
            fails = self._fails.pop(client, None) or deque(maxlen=self.failures)
            fails.append(now)
            self._fails[client] = fails  # most recent last, so the oldest client is evicted first
            while len(self._fails) > self._clients:
                self._fails.popitem(last=False)
            reached = len(fails) == self.failures and fails[-1] - fails[0] <= self.window_s
        if reached:  # no user name and no password: a user may have typed one into the other's field
            _throttled.warning(
                f"login:{client}",
                "%d failed logins from %s within %.0f s: answering 429 without checking passwords",
                self.failures,
                client,
                self.window_s,
            )

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._fails.pop(client, None)


# ---------------------------------------------------------------- connections


class _Deadlines:
    """Connections reading a request, with the time by which their headers must be in."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._due: dict[_Connection, float] = {}

    def arm(self, conn: _Connection, timeout_s: float) -> None:
        with self.lock:
            self._due[conn] = time.monotonic() + timeout_s

    def disarm(self, conn: _Connection) -> None:
        with self.lock:
            self._due.pop(conn, None)

    def cut_overdue(self) -> None:
        """Shut overdue sockets down: the worker's blocked read returns at once and the connection closes."""
        now = time.monotonic()
        with self.lock:
            overdue = [c for c, t in self._due.items() if t <= now]
            for conn in overdue:
                del self._due[conn]
                with contextlib.suppress(OSError):  # the plain socket's shutdown, also for an SSLSocket: no I/O
                    socket.socket.shutdown(conn.socket, socket.SHUT_RDWR)
        for conn in overdue:
            _throttled.warning(
                f"slow:{conn.client}",
                "closed a connection from %s: no complete request within the deadline",
                conn.client,
            )


class _Request(HTTPRequest):
    def parse_request(self) -> None:
        try:
            super().parse_request()
        finally:
            self.conn.deadlines.disarm(self.conn)  # the headers are in (or the request failed): no more deadline


class _Connection(HTTPConnection):
    """A connection whose handshake (if TLS) and headers are read under a deadline, in the worker thread."""

    RequestHandlerClass = _Request

    def __init__(
        self, server, sock: socket.socket, *, client: str, limits: Limits, deadlines: _Deadlines, tls: bool
    ) -> None:
        super().__init__(server, sock, MakeFile)
        self.client = client
        self.limits = limits
        self.deadlines = deadlines
        self.tls_pending = tls
        self.ssl_env: dict = {}

    def communicate(self) -> bool:
        self.deadlines.arm(self, self.limits.header_timeout_s)
        try:
            if self.tls_pending and not self._handshake():
                return False
            return super().communicate()
        finally:
            self.deadlines.disarm(self)

    def _handshake(self) -> bool:
        adapter = self.server.ssl_adapter
        with self.deadlines.lock:  # no I/O here; the deadline checker must see the socket that owns the fd
            tls_sock = adapter.context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
            self.socket = tls_sock
        try:
            tls_sock.do_handshake()
        except ssl.SSLError as exc:
            if "http request" in str(exc).lower():  # plain HTTP on the TLS port: say so, in plain text
                msg = b"The client sent a plain HTTP request, but this server only speaks HTTPS on this port.\n"
                head = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                with contextlib.suppress(OSError):
                    socket.socket.sendall(tls_sock, head + b"Content-Length: %d\r\n\r\n" % len(msg) + msg)
            log.debug("TLS handshake with %s failed: %s", self.client, exc)
            return False
        except OSError as exc:  # reset, timeout, or shut down by the deadline
            log.debug("TLS handshake with %s failed: %s", self.client, exc)
            return False
        self.tls_pending = False
        self.rfile = adapter.makefile(tls_sock, "rb", self.rbufsize)
        self.wfile = adapter.makefile(tls_sock, "wb", self.wbufsize)
        self.ssl_env = adapter.get_environ(tls_sock)
        return True


class _Connections(ConnectionManager):
    """cheroot's selector loop, with an accept that only accepts (caps, then wait in the selector for data) and
    a gate in front of the workers (``process``) that lets a connection through only with a whole request."""

    def __init__(self, server, limits: Limits) -> None:
        super().__init__(server)
        self.limits = limits
        self.deadlines = _Deadlines()
        self._open: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._parked: dict[_Connection, float] = {}  # incomplete requests -> when they must be complete
        self._parked_lock = threading.Lock()
        self._to_worker = server.process_conn  # cheroot's own: queue the connection for a worker

    def _complete(self, conn: _Connection) -> bool:
        """Whether ``conn`` may go to a worker: a whole request (or ClientHello) is buffered, or it is in error.

        Only peeks (``MSG_PEEK``, non-blocking), so the worker later reads the same bytes. Once a TLS session is
        up the request is encrypted and cannot be peeked at: it goes to the worker, under the deadline there.
        """
        if not isinstance(conn, _Connection) or conn.rfile.has_data() or isinstance(conn.socket, ssl.SSLSocket):
            return True
        sock = conn.socket
        timeout = sock.gettimeout()
        try:
            sock.settimeout(0.0)
            data = sock.recv(self.limits.max_header_bytes + 1, socket.MSG_PEEK)
        except BlockingIOError:
            return False
        except OSError:
            return True  # reset: the worker sees it and closes
        finally:
            with contextlib.suppress(OSError):
                sock.settimeout(timeout)
        if not data or len(data) > self.limits.max_header_bytes:
            return True  # closed by the client, or too big: the worker closes it or answers 413
        if conn.tls_pending:  # a TLS record: type 22 (handshake), version, 2-byte length
            return len(data) >= 5 and (data[0] != 0x16 or len(data) >= 5 + int.from_bytes(data[3:5], "big"))
        return b"\r\n\r\n" in data

    def process(self, conn) -> None:
        """cheroot calls this for a connection with data to read: a worker now, or park it until it is whole."""
        if self._complete(conn):
            self._to_worker(conn)
            return
        with self._parked_lock:
            self._parked.setdefault(conn, time.monotonic() + self.limits.header_timeout_s)

    def _check_parked(self) -> None:
        now = time.monotonic()
        with self._parked_lock:
            parked = list(self._parked.items())
        for conn, due in parked:
            if self._complete(conn):
                with self._parked_lock:
                    self._parked.pop(conn, None)
                self._to_worker(conn)
            elif due <= now:
                with self._parked_lock:
                    self._parked.pop(conn, None)
                if not conn.tls_pending:
                    with contextlib.suppress(OSError):
                        conn.socket.send(_REQUEST_TIMEOUT, socket.MSG_DONTWAIT)
                conn.close()
                _throttled.warning(
                    f"slow:{conn.client}",
                    "closed a connection from %s: no complete request within the deadline",
                    conn.client,
                )

    def close(self) -> None:
        with self._parked_lock:
            parked, self._parked = list(self._parked), {}
        for conn in parked:
            conn.close()
        super().close()

    def _counts(self, client: str) -> tuple[int, int]:
        live = [c for c in self._open if c.socket.fileno() != -1]
        return len(live), sum(1 for c in live if c.client == client)

    def _from_server_socket(self, server_socket: socket.socket) -> None:
        try:
            sock, addr = server_socket.accept()
        except OSError:  # a timeout, EINTR, EAGAIN, or the listening socket closed by stop()
            return None
        client = client_key(addr[0]) if isinstance(addr, tuple) else "local"
        total, mine = self._counts(client)
        if total >= self.limits.max_connections or mine >= self.limits.max_connections_per_client:
            sock.close()
            _throttled.warning(
                f"cap:{client}",
                "refused a connection from %s: %d open from it, %d in total (caps %d and %d)",
                client,
                mine,
                total,
                self.limits.max_connections_per_client,
                self.limits.max_connections,
            )
            return None
        sock.settimeout(self.server.timeout)
        conn = _Connection(
            self.server,
            sock,
            client=client,
            limits=self.limits,
            deadlines=self.deadlines,
            tls=self.server.ssl_adapter is not None,
        )
        if isinstance(addr, tuple):
            conn.remote_addr, conn.remote_port = addr[0], addr[1]
        self._open.add(conn)
        self.put(conn)  # to a worker only once it has sent something; idle ones expire after the idle timeout
        return None

    def _expire(self, threshold: float) -> None:
        super()._expire(threshold)
        self._check_parked()
        self.deadlines.cut_overdue()


_REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
CHECK_INTERVAL_S = 0.1  # how often parked requests are looked at again: the most a split request waits extra


def install(server, limits: Limits) -> None:
    """Apply ``limits`` to a prepared (bound, not yet serving) cheroot server."""
    server.max_request_header_size = limits.max_header_bytes
    server.max_request_body_size = limits.max_body_bytes
    server.keep_alive_conn_limit = limits.max_connections
    server.expiration_interval = CHECK_INTERVAL_S
    old = server._connections
    server._connections = manager = _Connections(server, limits)
    server.process_conn = manager.process
    old._selector.close()
