"""The sd_notify client against sockets the test owns: a filesystem one and an abstract-namespace one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from edgeanon import sdnotify


def _recv_all(sock: socket.socket) -> list[str]:
    out = []
    sock.settimeout(0.2)
    while True:
        try:
            out.append(sock.recv(4096).decode())
        except TimeoutError:
            return out


@pytest.fixture(params=["path", "abstract"])
def notify_socket(request, tmp_path, monkeypatch) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        address = str(tmp_path / "notify.sock")
        sock.bind(address)
        env_value = address
    else:
        name = f"edgeanon-test-{uuid.uuid4().hex}"
        sock.bind("\0" + name)
        env_value = "@" + name
    monkeypatch.setenv("NOTIFY_SOCKET", env_value)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    yield sock
    sock.close()


def test_ready_watchdog_stopping_arrive(notify_socket):
    assert sdnotify.ready("warm, serving :9108")
    assert sdnotify.watchdog()
    assert sdnotify.status("2 cameras up\nno newline injection")
    assert sdnotify.stopping()
    assert _recv_all(notify_socket) == [
        "READY=1\nSTATUS=warm, serving :9108",
        "WATCHDOG=1",
        "STATUS=2 cameras up no newline injection",
        "STOPPING=1",
    ]


def test_notifier_pings_at_half_the_interval(notify_socket, monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    now = [100.0]
    n = sdnotify.Notifier(clock=lambda: now[0])
    assert n.ping_every == 15.0
    assert n.ready()
    sent = []
    for _ in range(160):  # 40 s of supervisor turns every 0.25 s
        now[0] += 0.25
        sent.append(n.tick())
    assert sum(sent) == 2  # at 15 s and 30 s after READY
    assert n.stopping("flushing")
    assert _recv_all(notify_socket) == ["READY=1", "WATCHDOG=1", "WATCHDOG=1", "STOPPING=1\nSTATUS=flushing"]


def test_a_real_child_process_notifies_the_test_socket(notify_socket):
    """The module as the service would use it: another process, the env inherited, nothing else shared."""
    code = "from edgeanon import sdnotify as s; import sys; sys.exit(0 if s.ready() and s.watchdog() else 1)"
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ), timeout=60)
    assert _recv_all(notify_socket) == ["READY=1", "WATCHDOG=1"]


def test_no_socket_means_quiet_no_ops(monkeypatch, tmp_path):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not sdnotify.ready()
    assert not sdnotify.Notifier().tick()
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens.sock"))
    assert not sdnotify.watchdog()  # an error is swallowed: it must never stop the pipeline
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")  # not a unix socket: ignored
    assert not sdnotify.notify("READY=1")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "30000000"}, 30.0),
        ({"WATCHDOG_USEC": "500000", "WATCHDOG_PID": "{me}"}, 0.5),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),  # inherited by a child: not ours to ping
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "thirty"}, None),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "x"}, None),
    ],
)
def test_watchdog_interval(env, expected):
    env = {k: v.format(me=os.getpid()) for k, v in env.items()}
    assert sdnotify.watchdog_interval(env) == expected


def test_watchdog_pid_of_the_parent_disables_a_child(notify_socket, monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    code = "from edgeanon import sdnotify as s; print(s.watchdog_interval(), s.Notifier().tick())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    assert out.split() == ["None", "False"]
    assert sdnotify.watchdog_interval() == 1.0
