"""Publish aggregates to an MQTT broker: closed buckets, live counts, availability and Home Assistant discovery.

Only aggregates leave: every topic level and JSON key below comes from the config (site, camera, zone and line
names) or from a fixed list in the code, and every value is a count or statistic (README: "MQTT topics").

Threads. ``on_frame`` and ``on_bucket`` run on the analytics thread and only update memory under a lock, so
counting never waits for the broker. A publisher thread of this sink hands messages to paho, whose own network
thread connects, reconnects with back-off (1 s doubling to ``reconnect_max_s``) and resends QoS 1 messages that
were in flight when a connection dropped (with the DUP flag).

Buckets. Each closed bucket becomes one retained QoS 1 message per camera plus one for the site, each keyed by
(site, camera, bucket_start) so a consumer can drop QoS 1 redeliveries. Buckets wait in a bounded backlog of
this sink's own (the same kind and bound as the store's: ``store.MAX_BACKLOG``, oldest dropped and counted
when full). One bucket is in flight at a time, and it is handed to paho exactly once: only when the broker has
acknowledged all of its messages does the next one go, so buckets arrive in order and no bucket is published
twice except as paho's QoS 1 redelivery. What each message holds (topics, payloads, discovery) is ``mqtt_messages``.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import paho.mqtt.client as mqtt

from edgeanon.counting.results import Bucket, LiveCounts
from edgeanon.outputs.live import CameraStatus
from edgeanon.outputs.mqtt_messages import AVAILABLE, UNAVAILABLE, Layout, Topics, bucket_messages, discovery_messages
from edgeanon.outputs.store import MAX_BACKLOG

log = logging.getLogger("edgeanon.mqtt")

LIVE_MIN_INTERVAL_S = 1.0  # at most one live message per topic per second
_TICK_S = 0.1  # publisher thread wake-up when idle


@dataclass(frozen=True)
class MqttSettings:
    """What the sink needs from ``config.MqttConfig``, with the password already read (see ``service``)."""

    host: str
    site: str
    port: int = 1883
    prefix: str = ""  # empty: edgeanon/<site>
    client_id: str = ""  # empty: edgeanon-<site>
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    live: bool = True
    discovery: bool = False
    discovery_prefix: str = "homeassistant"
    keepalive_s: int = 30
    reconnect_max_s: int = 30
    close_timeout_s: float = 5.0

    @property
    def topic_prefix(self) -> str:
        return self.prefix or f"edgeanon/{self.site}"

    @property
    def client(self) -> str:
        return self.client_id or f"edgeanon-{self.site}"


class MqttSink:
    """The sink. ``start`` connects in the background; ``close`` delivers what it can within ``close_timeout_s``.

    ``backlog_len``, ``dropped_buckets``, ``published_buckets``, ``connect_failures``, ``connected`` and
    ``last_error`` are there for metrics and the logs; ``last_error`` never holds the password.
    """

    name = "mqtt"

    def __init__(
        self,
        settings: MqttSettings,
        layout: Layout,
        statuses: Callable[[], Iterable[CameraStatus]] = list,
        *,
        zones: bool = True,
        lines: bool = True,
        max_backlog: int = MAX_BACKLOG,
    ) -> None:
        if max_backlog < 1:
            raise ValueError(f"max_backlog must be at least 1, got {max_backlog}")
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        self.layout = {cam: (tuple(z), tuple(ln)) for cam, (z, ln) in layout.items()}
        self.max_backlog = max_backlog
        self._statuses = statuses
        self._discovery: list[tuple[str, bytes]] = []
        if settings.discovery:
            prefix = settings.discovery_prefix
            self._discovery = discovery_messages(settings.site, prefix, self.layout, self.topics, zones, lines)
        self.dropped_buckets = 0
        self.published_buckets = 0
        self.connect_failures = 0
        self.last_error = ""
        self._lock = threading.Lock()  # backlog and live values: analytics thread vs publisher thread
        self._backlog: deque[Bucket] = deque()
        self._inflight: Bucket | None = None
        self._inflight_mids: set[int] = set()
        self._ack_lock = threading.Lock()  # never held while calling paho (its callbacks run under paho's locks)
        self._acked: set[int] = set()
        self._live: dict[str, int] = {}
        self._line_totals: dict[tuple[str, str], list[int]] = {}
        self._sent: dict[str, tuple[int, float]] = {}  # topic -> (value, monotonic time) last published
        self._connected = threading.Event()
        self._generation = 0  # connections so far; birth and discovery go out once per connection
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mqtt", daemon=True)
        self._zone_topics = {(c, z): self.topics.zone(c, z) for c, (zs, _) in self.layout.items() for z in zs}
        self._cam_topics = {c: self.topics.camera(c, "occupancy") for c in self.layout}

        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=settings.client,
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        if settings.username is not None:
            client.username_pw_set(settings.username, settings.password)
        if settings.ca_file is not None:
            client.tls_set(ca_certs=settings.ca_file, cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        client.will_set(self.topics.status, UNAVAILABLE, qos=1, retain=True)
        client.reconnect_delay_set(1, settings.reconnect_max_s)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_publish = self._on_publish
        self._client = client
        self._where = f"{settings.host}:{settings.port}"

    # ------------------------------------------------------------ state for metrics

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def backlog_len(self) -> int:
        with self._lock:
            return len(self._backlog) + (self._inflight is not None)

    # ------------------------------------------------------------ paho callbacks (paho's network thread)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            error = f"the broker at {self._where} refused the connection: {reason_code}"
            if "password" in str(reason_code).lower() or "authori" in str(reason_code).lower():
                error += " (check mqtt.username and the password)"
            self._connect_failed(error, logging.ERROR)
            return
        if self.last_error:
            log.info("mqtt: connected to %s again", self._where)
        else:
            log.info("mqtt: connected to %s", self._where)
        self.last_error = ""
        self._generation += 1
        self._connected.set()
        self._wake.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        if not was and not self._stop.is_set() and not self.last_error.startswith("the broker"):
            self._on_connect_fail(client, userdata)  # closed before CONNACK (e.g. a proxy with nothing behind it)
        if was and not self._stop.is_set():
            self.last_error = f"lost the connection to {self._where}: {reason_code}"
            log.warning("mqtt: %s; reconnecting, back-off up to %d s", self.last_error, self.settings.reconnect_max_s)

    def _on_connect_fail(self, client, userdata) -> None:
        self._connect_failed(f"cannot connect to the broker at {self._where}", logging.WARNING)

    def _connect_failed(self, error: str, level: int) -> None:
        """Count a failed attempt; log it once per distinct reason (paho retries it with back-off)."""
        self.connect_failures += 1
        if error != self.last_error:
            log.log(level, "mqtt: %s; retrying with back-off up to %d s", error, self.settings.reconnect_max_s)
        self.last_error = error

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._ack_lock:
            self._acked.add(mid)

    # ------------------------------------------------------------ sink protocol (analytics thread)

    def on_frame(self, live: LiveCounts) -> None:
        if not self.settings.live:
            return
        cam = live.camera
        with self._lock:
            values = self._live
            if live.occupancy is not None and cam in self._cam_topics:
                values[self._cam_topics[cam]] = int(live.occupancy)
            for zone, n in live.zone_occupancy.items():
                topic = self._zone_topics.get((cam, zone))
                if topic is not None:
                    values[topic] = int(n)
            values[self.topics.site_occupancy] = int(live.site_occupancy)

    def on_bucket(self, bucket: Bucket) -> None:
        with self._lock:
            # the live in/out totals move by closed buckets, like /metrics: never a crossing timed to its frame
            for cam, cb in bucket.cameras.items():
                for line, lb in cb.lines.items():
                    totals = self._line_totals.setdefault((cam, line), [0, 0])
                    totals[0] += int(lb.in_)
                    totals[1] += int(lb.out)
            self._backlog.append(bucket)
            while len(self._backlog) + (self._inflight is not None) > self.max_backlog:
                self._backlog.popleft()
                self.dropped_buckets += 1
                log.error("mqtt: backlog full (%d buckets): the oldest waiting bucket is dropped", self.max_backlog)
        self._wake.set()

    # ------------------------------------------------------------ publisher thread

    def start(self) -> None:
        """Connect in the background (paho's thread) and start publishing; never blocks on the broker."""
        self._client.connect_async(self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s)
        self._client.loop_start()
        self._thread.start()
        log.info("mqtt: publishing to %s under %s/", self._where, self.topics.prefix)

    def _run(self) -> None:
        seen_generation = 0
        deadline: float | None = None
        while True:
            if self._stop.is_set() and deadline is None:
                deadline = time.monotonic() + self.settings.close_timeout_s
            if self._connected.is_set():
                if self._generation != seen_generation:
                    seen_generation = self._generation
                    self._announce()
                if self.settings.live:
                    self._publish_live()
                self._publish_backlog()
            if deadline is not None and (
                self.backlog_len == 0 or time.monotonic() >= deadline or not self._connected.is_set()
            ):  # a broker that is away at shutdown must not hold the stop up
                return
            self._wake.wait(_TICK_S)
            self._wake.clear()

    def _announce(self) -> None:
        """Birth, discovery and every live value again: a restarted broker may have lost its retained state."""
        self._retain(self.topics.status, AVAILABLE)
        for topic, payload in self._discovery:
            self._retain(topic, payload)
        self._sent.clear()

    def _retain(self, topic: str, payload: str | bytes) -> mqtt.MQTTMessageInfo:
        """Every message but the live values: QoS 1 (paho resends it until acknowledged) and retained."""
        return self._client.publish(topic, payload, qos=1, retain=True)

    def _publish_live(self) -> None:
        now = time.monotonic()
        with self._lock:
            values = dict(self._live)
            for (cam, line), (n_in, n_out) in self._line_totals.items():
                values[self.topics.line(cam, line, "in")] = n_in
                values[self.topics.line(cam, line, "out")] = n_out
        for st in self._statuses():
            if st.camera in self.layout:
                values[self.topics.camera(st.camera, "up")] = 1 if st.up else 0
        for topic, value in values.items():
            last = self._sent.get(topic)
            if last is not None and (last[0] == value or now - last[1] < LIVE_MIN_INTERVAL_S):
                continue
            self._client.publish(topic, str(value), qos=0, retain=True)
            self._sent[topic] = (value, now)
        with self._ack_lock:
            if not self._inflight_mids:
                self._acked.clear()  # QoS 0 completions; nothing is waited for

    def _publish_backlog(self) -> None:
        with self._lock:
            if self._inflight is None and self._backlog:
                self._inflight = self._backlog.popleft()
                bucket = self._inflight
            else:
                bucket = None
        if bucket is not None:  # handed to paho once; paho resends it (DUP) if the connection drops before PUBACK
            with self._ack_lock:
                self._acked.clear()
            mids = set()
            for topic, payload in bucket_messages(bucket, self.settings.site, self.topics):
                mids.add(self._retain(topic, payload).mid)
            self._inflight_mids = mids
        if self._inflight is None:
            return
        with self._ack_lock:
            done = self._inflight_mids <= self._acked
            if done:
                self._acked -= self._inflight_mids
        if done:
            with self._lock:
                self._inflight = None
            self._inflight_mids = set()
            self.published_buckets += 1
            self._wake.set()  # the next bucket, if any, right away

    def close(self) -> None:
        """Deliver waiting buckets for at most ``close_timeout_s``, mark the site offline, disconnect."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(self.settings.close_timeout_s + 1.0)
        lost = self.backlog_len
        if lost:
            self.dropped_buckets += lost
            log.error("mqtt: %d bucket(s) could not be delivered to %s before shutdown and are lost", lost, self._where)
        if self._connected.is_set():
            info = self._retain(self.topics.status, UNAVAILABLE)
            end = time.monotonic() + min(2.0, self.settings.close_timeout_s)
            while time.monotonic() < end and self._connected.is_set():
                with self._ack_lock:
                    if info.mid in self._acked:
                        break
                time.sleep(0.02)
        self._client.disconnect()
        self._client.loop_stop()


class MqttHealth:
    """Connection, backlog and loss of the MQTT sink, read at scrape time from the sink itself."""

    def __init__(self, sink: MqttSink) -> None:
        self._sink = sink

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        s = self._sink
        yield GaugeMetricFamily("edgeanon_mqtt_connected", "1 while connected to the MQTT broker.", value=s.connected)
        yield GaugeMetricFamily(
            "edgeanon_mqtt_backlog_buckets", "Buckets waiting in memory for the MQTT broker.", value=s.backlog_len
        )
        yield CounterMetricFamily(
            "edgeanon_mqtt_dropped_buckets",
            "Buckets never delivered to the MQTT broker (backlog full, or still waiting at shutdown).",
            value=s.dropped_buckets,
        )
        yield CounterMetricFamily(
            "edgeanon_mqtt_published_buckets", "Buckets the MQTT broker acknowledged.", value=s.published_buckets
        )
        yield CounterMetricFamily(
            "edgeanon_mqtt_connect_failures",
            "Failed attempts to connect to the MQTT broker (down, unreachable, refused).",
            value=s.connect_failures,
        )
