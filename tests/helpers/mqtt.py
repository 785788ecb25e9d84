"""A real Debian mosquitto on a free loopback port, a recording subscriber, and a wire tap that sees every PUBLISH
packet edgeanon sends (with its DUP flag), so the tests can tell a QoS 1 redelivery from a second publish."""

from __future__ import annotations

import getpass
import os
import select
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from tests.helpers.net import free_port

MOSQUITTO = shutil.which("mosquitto") or next(
    (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None
)
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd")
OPENSSL = shutil.which("openssl")
USER, PASSWORD = "edge", "s3cret-Pa55word-for-tests"


def need(tool: str | None, name: str) -> str:
    if tool is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed, but CI must run this test (.ci/run installs mosquitto)")
        pytest.skip(f"{name} not found (apt-get install mosquitto)")
    return tool


def make_ca(d: Path, san: str = "DNS:localhost,IP:127.0.0.1") -> Path:
    """A throwaway CA and a server certificate for localhost / 127.0.0.1 signed by it; returns the CA file."""
    openssl = need(OPENSSL, "openssl")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=d, check=True, capture_output=True)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=test CA",
    )
    (d / "ext.cnf").write_text(f"subjectAltName={san}\n")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    run(
        *("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"),
        *("-out", "server.crt", "-days", "2", "-extfile", "ext.cnf"),
    )
    return d / "ca.crt"


@dataclass
class Broker:
    """mosquitto with a password file (user ``USER``), on a plain port and, with ``tls``, a TLS port."""

    dir: Path
    tls: bool = False
    persistence: bool = False
    san: str = "DNS:localhost,IP:127.0.0.1"  # the names the server certificate is valid for
    port: int = field(default_factory=free_port)
    tls_port: int = field(default_factory=free_port)
    ca_file: Path | None = None
    proc: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        need(MOSQUITTO, "mosquitto")
        self.dir.mkdir(parents=True, exist_ok=True)
        passwd = self.dir / "passwd"
        passwd_tool = need(MOSQUITTO_PASSWD, "mosquitto_passwd")
        subprocess.run([passwd_tool, "-b", "-c", str(passwd), USER, PASSWORD], check=True)
        lines = [
            f"user {getpass.getuser()}",  # as root, mosquitto would switch to the user mosquitto
            "per_listener_settings false",
            "allow_anonymous false",
            f"password_file {passwd}",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.dir}/",
            f"log_dest file {self.dir / 'mosquitto.log'}",
            "log_type all",
            f"listener {self.port} 127.0.0.1",
        ]
        if self.tls:
            self.ca_file = make_ca(self.dir, self.san)
            lines += [
                f"listener {self.tls_port} 127.0.0.1",
                f"cafile {self.ca_file}",
                f"certfile {self.dir / 'server.crt'}",
                f"keyfile {self.dir / 'server.key'}",
            ]
        (self.dir / "mosquitto.conf").write_text("\n".join(lines) + "\n")
        self.start()

    def start(self) -> None:
        assert MOSQUITTO is not None
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.dir / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=(self.dir / "stderr.log").open("a"),
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                assert self.proc.poll() is None, self.log()
                time.sleep(0.05)
        raise AssertionError(f"mosquitto did not start listening: {self.log()}")

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, nothing saved, every connection cut."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def log(self) -> str:
        return "\n".join(p.read_text() for p in (self.dir / "stderr.log", self.dir / "mosquitto.log") if p.exists())


@dataclass
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool
    t: float


class Subscriber:
    """Subscribes to ``topic`` (QoS 1) and records every message as it arrives, DUP and retain flags included.

    With a ``client_id`` the session is persistent (clean_session false), and paho reconnects by itself."""

    def __init__(self, port: int, topic: str = "#", client_id: str = "", **tls: object) -> None:
        self.messages: list[Received] = []
        self.subscribed = threading.Event()
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=not client_id, protocol=mqtt.MQTTv311
        )
        self.client.username_pw_set(USER, PASSWORD)
        if tls:
            self.client.tls_set(**tls)
        self.client.reconnect_delay_set(1, 1)
        self.topic = topic

        def on_connect(client, userdata, flags, reason_code, properties):
            if not reason_code.is_failure:
                client.subscribe(self.topic, qos=1)

        def on_subscribe(client, userdata, mid, reason_codes, properties):
            self.subscribed.set()

        def on_message(client, userdata, msg):
            with self._lock:
                self.messages.append(
                    Received(msg.topic, msg.payload, msg.qos, bool(msg.retain), bool(msg.dup), time.monotonic())
                )

        def on_disconnect(client, userdata, flags, reason_code, properties):
            self.subscribed.clear()

        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_message
        self.client.on_disconnect = on_disconnect
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        assert self.subscribed.wait(20), "the test subscriber could not subscribe"

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.messages)

    def wait_for(self, pred, timeout: float) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msgs = self.snapshot()
            if pred(msgs):
                return msgs
            time.sleep(0.1)
        return self.snapshot()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class WirePublish:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool
    packet_id: int | None


class WireTap:
    """A TCP relay between edgeanon and the broker that parses the client's MQTT stream and records every PUBLISH
    packet exactly as sent. While ``gate`` is clear it refuses to relay (the connection is closed at once)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.publishes: list[WirePublish] = []
        self.connections = 0
        self.gate = threading.Event()
        self.gate.set()
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self._server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                down, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self.gate.is_set():
                down.close()
                continue
            try:
                up = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=2)
            except OSError:
                down.close()
                continue
            self.connections += 1
            threading.Thread(target=self._relay, args=(down, up), daemon=True).start()

    def _relay(self, down: socket.socket, up: socket.socket) -> None:
        buf = b""
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([down, up], [], [], 0.2)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    if s is down:
                        buf = self._parse(buf + data)
                        up.sendall(data)
                    else:
                        down.sendall(data)
        except OSError:
            return
        finally:
            down.close()
            up.close()

    def _parse(self, buf: bytes) -> bytes:
        while len(buf) >= 2:
            length, mult, i = 0, 1, 1
            while True:
                if i >= len(buf):
                    return buf
                b = buf[i]
                length += (b & 0x7F) * mult
                mult *= 128
                i += 1
                if not b & 0x80:
                    break
            if len(buf) < i + length:
                return buf
            head, body, buf = buf[0], buf[i : i + length], buf[i + length :]
            if head >> 4 == 3:  # PUBLISH
                qos = (head >> 1) & 3
                n = int.from_bytes(body[:2], "big")
                topic = body[2 : 2 + n].decode()
                pos = 2 + n
                pid = None
                if qos:
                    pid = int.from_bytes(body[pos : pos + 2], "big")
                    pos += 2
                with self._lock:
                    self.publishes.append(WirePublish(topic, body[pos:], qos, bool(head & 1), bool(head & 8), pid))
        return buf

    def snapshot(self) -> list[WirePublish]:
        with self._lock:
            return list(self.publishes)

    def close(self) -> None:
        self._stop.set()
        self._server.close()
