"""systemd's sd_notify protocol in a few lines, so `Type=notify` and `WatchdogSec=` work without a dependency.

systemd passes ``$NOTIFY_SOCKET`` (a filesystem path, or an abstract socket written with a leading ``@``) and, when
the unit sets ``WatchdogSec=``, ``$WATCHDOG_USEC`` and ``$WATCHDOG_PID``. Outside systemd every call is a cheap
no-op that returns False, so the service can call them unconditionally.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

log = logging.getLogger("edgeanon.sdnotify")


def _address(env: Mapping[str, str]) -> str | None:
    path = env.get("NOTIFY_SOCKET", "")
    if not path or not (path.startswith(("/", "@"))):
        return None  # unset, or a vsock/other address this client does not speak
    return "\0" + path[1:] if path.startswith("@") else path


def notify(message: str, env: Mapping[str, str] | None = None) -> bool:
    """Send one datagram of ``KEY=value`` lines; True when it was delivered to systemd's socket."""
    address = _address(os.environ if env is None else env)
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(message.encode(), address)
    except OSError as exc:  # systemd gone or the socket not ours: never let this stop counting
        log.debug("sd_notify %r failed: %s", message, exc)
        return False
    return True


def ready(status: str | None = None) -> bool:
    """Tell systemd start-up is done (the detector is warm, /metrics is listening)."""
    return notify("READY=1" + (f"\nSTATUS={_one_line(status)}" if status else ""))


def watchdog() -> bool:
    """One keep-alive; systemd restarts the unit when none arrives within ``WatchdogSec``."""
    return notify("WATCHDOG=1")


def stopping(status: str | None = None) -> bool:
    """Tell systemd the stop is deliberate and in progress (flushing the bucket)."""
    return notify("STOPPING=1" + (f"\nSTATUS={_one_line(status)}" if status else ""))


def status(text: str) -> bool:
    """Free-form status line that `systemctl status` shows."""
    return notify(f"STATUS={_one_line(text)}")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def watchdog_interval(env: Mapping[str, str] | None = None) -> float | None:
    """Seconds systemd waits for a keep-alive, or None when the watchdog is off or meant for another process."""
    env = os.environ if env is None else env
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid:
        try:
            if int(pid) != os.getpid():
                return None  # the variables were inherited by a child: only the main process may ping
        except ValueError:
            return None
    return usec / 1e6


class Notifier:
    """The service's handle: ``ready`` once, ``tick`` on every supervisor turn, ``stopping`` at the end.

    ``tick`` pings at half the watchdog interval (as sd_watchdog_enabled(3) recommends), so the watchdog sees
    exactly the liveness that /healthz reports: the supervisor loop turning.
    """

    def __init__(self, env: Mapping[str, str] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._env = dict(os.environ if env is None else env)
        self._clock = clock
        interval = watchdog_interval(self._env)
        self.ping_every: float | None = None if interval is None else interval / 2
        self.enabled = _address(self._env) is not None
        self._last_ping = float("-inf")

    def _send(self, message: str) -> bool:
        return self.enabled and notify(message, self._env)

    def ready(self, status: str | None = None) -> bool:
        sent = self._send("READY=1" + (f"\nSTATUS={_one_line(status)}" if status else ""))
        if sent:
            self._last_ping = self._clock()  # systemd starts the watchdog timer at READY=1
        return sent

    def tick(self) -> bool:
        """Send WATCHDOG=1 if half the interval has passed since the last one; True when one was sent."""
        if self.ping_every is None or not self.enabled:
            return False
        now = self._clock()
        if now - self._last_ping < self.ping_every:
            return False
        self._last_ping = now
        return self._send("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self._send(f"STATUS={_one_line(text)}")

    def stopping(self, status: str | None = None) -> bool:
        return self._send("STOPPING=1" + (f"\nSTATUS={_one_line(status)}" if status else ""))
