"""The MQTT sink against a real mosquitto (Debian's package) on loopback: discovery, buckets, availability, TLS,
the broker going away and coming back, a bounded backlog, and a wrong password."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest

from edgeanon.counting.results import Bucket, CameraBucket, LineBucket, LiveCounts, ZoneBucket
from edgeanon.outputs.live import CameraStatus
from edgeanon.outputs.mqtt import MqttHealth, MqttSettings, MqttSink
from edgeanon.outputs.store import StoreSink
from tests.helpers.mqtt import PASSWORD, USER, Broker, Subscriber, WireTap
from tests.helpers.paths import ROOT

LAYOUT = {"door": (["queue"], ["entrance"]), "aisle": (["shelf"], [])}


def settings(port: int, **kw) -> MqttSettings:
    base = {"host": "127.0.0.1", "site": "shop-1", "port": port, "username": USER, "password": PASSWORD}
    base["reconnect_max_s"] = 1
    return MqttSettings(**(base | kw))


def bucket(start: int, n: int = 1, partial: bool = False) -> Bucket:
    door = CameraBucket(
        zones={"queue": ZoneBucket(occupancy_sum=3 * n, occupancy_frames=10, occupancy_max=n)},
        lines={"entrance": LineBucket(in_=n, out=n + 1)},
    )
    door.frames.update(captured=10, inferred=10)
    aisle = CameraBucket(zones={"shelf": ZoneBucket()})
    return Bucket(start, 10, {"door": door, "aisle": aisle}, site_in=n, site_out=n + 1, partial=partial)


def frame(camera: str, zone: str, n: int, site: int) -> LiveCounts:
    return LiveCounts(camera, n, {zone: n}, {}, {}, site_occupancy=site)


def up(*cams: str):
    return lambda: [CameraStatus(c, up=True) for c in cams]


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path / "broker")
    yield b
    b.stop()


def keyed(msgs, topic_part: str) -> list[dict]:
    return [json.loads(m.payload) for m in msgs if topic_part in m.topic]


def mqtt_metrics(sink: MqttSink) -> dict[str, float]:
    """The sink's series as /metrics exposes them; their names are exactly the README's edgeanon_mqtt_* rows."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    registry = CollectorRegistry()
    registry.register(MqttHealth(sink))
    text = generate_latest(registry).decode()
    out = {s.name: s.value for fam in text_string_to_metric_families(text) for s in fam.samples}
    readme = (ROOT / "README.md").read_text()
    assert set(out) == set(re.findall(r"^\| `(edgeanon_mqtt_[a-z_]+)` \|", readme, re.M))
    return out


def test_backlog_has_the_store_sinks_kind_and_bound():
    import inspect

    store_default = inspect.signature(StoreSink.__init__).parameters["max_backlog"].default
    sink = MqttSink(settings(1), LAYOUT)
    assert sink.max_backlog == store_default == 1440


def test_discovery_configs_are_retained_with_ids_from_config_names(broker):
    sink = MqttSink(settings(broker.port, discovery=True), LAYOUT, up("door", "aisle"))
    sink.start()
    try:
        sub = Subscriber(broker.port, "edgeanon/#")
        sub.wait_for(lambda m: any(x.topic.endswith("/status") and x.payload == b"online" for x in m), 20)
        sub.close()
        # a consumer that connects later still gets every config: they are retained
        late = Subscriber(broker.port, "homeassistant/#")
        msgs = late.wait_for(lambda m: len(m) >= 7, 20)
        late.close()
    finally:
        sink.close()
    configs = {m.topic: json.loads(m.payload) for m in msgs}
    assert all(m.retain for m in msgs)
    node = "edgeanon_shop-1"
    expected = {
        f"homeassistant/sensor/{node}/site_occupancy/config",
        f"homeassistant/binary_sensor/{node}/door_up/config",
        f"homeassistant/binary_sensor/{node}/aisle_up/config",
        f"homeassistant/sensor/{node}/door_zone_queue_occupancy/config",
        f"homeassistant/sensor/{node}/aisle_zone_shelf_occupancy/config",
        f"homeassistant/sensor/{node}/door_line_entrance_in/config",
        f"homeassistant/sensor/{node}/door_line_entrance_out/config",
    }
    assert set(configs) == expected
    for topic, c in configs.items():
        object_id = topic.split("/")[3]
        assert c["unique_id"] == f"{node}_{object_id}"
        assert c["device"]["identifiers"] == [node]
        assert c["availability_topic"] == "edgeanon/shop-1/status"
        assert c["state_topic"].startswith("edgeanon/shop-1/live/")
    assert configs[f"homeassistant/sensor/{node}/door_zone_queue_occupancy/config"]["state_topic"] == (
        "edgeanon/shop-1/live/camera/door/zone/queue/occupancy"
    )
    assert configs[f"homeassistant/binary_sensor/{node}/door_up/config"]["payload_on"] == "1"


def test_buckets_live_values_and_availability(broker):
    sink = MqttSink(settings(broker.port), LAYOUT, up("door", "aisle"))
    sub = Subscriber(broker.port, "edgeanon/#")
    sink.start()
    try:
        sink.on_frame(frame("door", "queue", 2, 5))
        sink.on_bucket(bucket(1000, 1))
        sink.on_bucket(bucket(1010, 2))
        msgs = sub.wait_for(lambda m: len(keyed(m, "/bucket/site")) >= 2, 20)
        sub.wait_for(lambda m: any(x.topic.endswith("zone/queue/occupancy") for x in m), 20)
        end = time.monotonic() + 3  # a value that changes 20 times a second for 3 s: at most one message a second
        while time.monotonic() < end:
            sink.on_frame(frame("door", "queue", 3, 5))
            time.sleep(0.025)
            sink.on_frame(frame("door", "queue", 4, 5))
            time.sleep(0.025)
        end = time.monotonic() + 2  # then steady: no message at all, as nothing changes
        while time.monotonic() < end:
            sink.on_frame(frame("door", "queue", 4, 5))
            time.sleep(0.05)
        msgs = sub.snapshot()
    finally:
        sink.close()
    sites = keyed(msgs, "/bucket/site")
    assert [(s["site"], s["camera"], s["bucket_start"]) for s in sites] == [("shop-1", "", 1000), ("shop-1", "", 1010)]
    assert sites[1]["in"] == 2 and sites[1]["out"] == 3
    doors = keyed(msgs, "/bucket/camera/door")
    assert [d["bucket_start"] for d in doors] == [1000, 1010]
    assert doors[1]["lines"] == {"entrance": {"in": 2, "out": 3}}
    assert doors[1]["zones"]["queue"]["occupancy_max"] == 2
    assert all(m.qos == 1 for m in msgs if "/bucket/" in m.topic)
    live = [m for m in msgs if m.topic == "edgeanon/shop-1/live/camera/door/zone/queue/occupancy"]
    assert live[0].payload == b"2" and live[-1].payload == b"4"
    assert 2 <= len(live) <= 6, [m.payload for m in live]  # 2, then 3 s of changes: 3 or 4 messages, not ~60
    assert [m.payload for m in msgs if m.topic.endswith("line/entrance/in")][-1] == b"3"  # 1 + 2: by buckets
    assert [m.payload for m in msgs if m.topic.endswith("camera/door/up")][-1] == b"1"
    status = [m.payload for m in sub.wait_for(lambda m: m[-1].payload == b"offline", 10) if m.topic.endswith("status")]
    sub.close()
    assert status[0] == b"online" and status[-1] == b"offline"  # birth, then the clean goodbye


def test_last_will_marks_the_site_offline_when_the_connection_dies(broker, tmp_path):
    """The will is the broker's to send: a connection cut without DISCONNECT (the edgeanon side killed)."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import time
        from edgeanon.outputs.mqtt import MqttHealth, MqttSettings, MqttSink
        s = MqttSink(MqttSettings(host="127.0.0.1", site="shop-1", port={broker.port}, username={USER!r},
                                  password={PASSWORD!r}, keepalive_s=5), {{"door": ([], [])}})
        s.start()
        time.sleep(60)
    """)
    sub = Subscriber(broker.port, "edgeanon/shop-1/status")
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        assert sub.wait_for(lambda m: any(x.payload == b"online" for x in m), 30), broker.log()
        proc.kill()
        msgs = sub.wait_for(lambda m: m[-1].payload == b"offline", 30)
    finally:
        proc.kill()
        proc.wait()
        sub.close()
    assert msgs[-1].payload == b"offline"


def test_backlog_waits_for_the_broker_and_delivers_in_order(tmp_path):
    broker = Broker(tmp_path / "b")
    broker.kill()  # the port is known, nothing listens on it
    tap = WireTap(broker.port)
    tap.gate.clear()  # closed until the test subscriber listens, so it sees every delivery
    sink = MqttSink(settings(tap.port), LAYOUT, max_backlog=3)
    sink.start()
    try:
        done = threading.Event()

        def count():  # the analytics thread's calls never wait for the broker
            for i in range(5):
                sink.on_frame(frame("door", "queue", i, 0))
                sink.on_bucket(bucket(2000 + 10 * i, i))
            done.set()

        t = threading.Thread(target=count)
        t.start()
        assert done.wait(10), "on_bucket blocked while the broker was down"
        time.sleep(2)
        assert sink.backlog_len == 3 and sink.dropped_buckets == 2 and not sink.connected
        assert sink.connect_failures >= 1
        m = mqtt_metrics(sink)
        assert m["edgeanon_mqtt_backlog_buckets"] == 3 and m["edgeanon_mqtt_dropped_buckets_total"] == 2
        assert m["edgeanon_mqtt_connected"] == 0 and m["edgeanon_mqtt_connect_failures_total"] >= 1
        broker.start()
        sub = Subscriber(broker.port, "edgeanon/#")
        tap.gate.set()
        msgs = sub.wait_for(lambda m: len(keyed(m, "bucket/site")) >= 3, 30)
        deadline = time.monotonic() + 20
        while sink.backlog_len and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sink.backlog_len == 0 and sink.published_buckets == 3
        m = mqtt_metrics(sink)
        assert m["edgeanon_mqtt_published_buckets_total"] == 3 and m["edgeanon_mqtt_connected"] == 1
        assert m["edgeanon_mqtt_backlog_buckets"] == 0
        sub.close()
    finally:
        sink.close()
        tap.close()
        broker.stop()
    assert [s["bucket_start"] for s in keyed(msgs, "bucket/site")] == [2020, 2030, 2040]  # the oldest two dropped
    assert [d["bucket_start"] for d in keyed(msgs, "bucket/camera/door")] == [2020, 2030, 2040]


def test_tls_with_a_ca_file(tmp_path):
    broker = Broker(tmp_path / "b", tls=True)
    other_ca = tmp_path / "other"
    other_ca.mkdir()
    from tests.helpers.mqtt import make_ca

    wrong_ca = make_ca(other_ca)
    good = MqttSink(settings(broker.tls_port, ca_file=str(broker.ca_file)), LAYOUT)
    bad = MqttSink(settings(broker.tls_port, ca_file=str(wrong_ca), site="shop-2"), LAYOUT)
    sub = Subscriber(broker.port, "edgeanon/#")
    good.start()
    bad.start()
    try:
        good.on_bucket(bucket(3000))
        msgs = sub.wait_for(lambda m: len(keyed(m, "bucket/site")) >= 1, 30)
        time.sleep(2)
        assert not bad.connected and bad.connect_failures >= 1  # a broker the CA did not sign is refused
    finally:
        good.close()
        bad.close()
        sub.close()
        broker.stop()
    assert keyed(msgs, "bucket/site")[0]["bucket_start"] == 3000
    assert not any(m.topic.startswith("edgeanon/shop-2/") for m in msgs)


def test_retained_state_is_restored_after_the_broker_restarts(tmp_path):
    """A broker without persistence forgets every retained message when it restarts: after reconnecting, edgeanon
    publishes its birth, the discovery configs and every live value again, so a new consumer sees the state."""
    broker = Broker(tmp_path / "b")
    sink = MqttSink(settings(broker.port, discovery=True), LAYOUT, up("door", "aisle"))
    sink.start()
    try:
        sink.on_frame(frame("door", "queue", 3, 7))  # crossings count by buckets only
        sink.on_bucket(bucket(3990, 2))
        sub = Subscriber(broker.port, "edgeanon/#")
        sub.wait_for(lambda m: any(x.topic.endswith("zone/queue/occupancy") for x in m), 20)
        sub.close()
        broker.kill()
        broker.start()
        # once the last value announced after the reconnection is in, birth and discovery (sent before it on the
        # same connection) are too; a consumer arriving now gets them all as retained state
        probe = Subscriber(broker.port, "edgeanon/shop-1/live/site/occupancy")
        assert probe.wait_for(lambda m: len(m) >= 1, 30), "the sink did not publish again after reconnecting"
        probe.close()
        late = Subscriber(broker.port, "#")
        msgs = late.wait_for(
            lambda m: {"status", "occupancy", "in", "out", "up", "config"} <= {x.topic.rsplit("/", 1)[-1] for x in m},
            30,
        )
        sink.on_bucket(bucket(4000))
        after = late.wait_for(lambda m: len(keyed(m, "bucket/site")) >= 1, 20)
        late.close()
    finally:
        sink.close()
        broker.stop()
    retained = {m.topic: m.payload for m in msgs if m.retain}  # replayed at subscription: the broker's state
    p = "edgeanon/shop-1"
    assert retained[f"{p}/status"] == b"online"
    assert retained[f"{p}/live/camera/door/zone/queue/occupancy"] == b"3"
    assert retained[f"{p}/live/camera/door/line/entrance/in"] == b"2"
    assert retained[f"{p}/live/camera/door/line/entrance/out"] == b"3"
    assert retained[f"{p}/live/site/occupancy"] == b"7"
    assert retained[f"{p}/live/camera/aisle/up"] == b"1"
    assert sum(t.startswith("homeassistant/") for t in retained) == 7
    assert keyed(after, "bucket/site")[0]["bucket_start"] == 4000


def test_tls_verifies_the_brokers_host_name(tmp_path):
    broker = Broker(tmp_path / "b", tls=True, san="DNS:localhost")  # valid for localhost, not for 127.0.0.1
    by_ip = MqttSink(settings(broker.tls_port, ca_file=str(broker.ca_file)), LAYOUT)
    by_name = MqttSink(settings(broker.tls_port, ca_file=str(broker.ca_file), host="localhost", site="s2"), LAYOUT)
    by_ip.start()
    by_name.start()
    try:
        deadline = time.monotonic() + 30
        while not by_name.connected and time.monotonic() < deadline:
            time.sleep(0.1)
        assert by_name.connected, broker.log()
        time.sleep(2)
        assert not by_ip.connected and by_ip.connect_failures >= 1
    finally:
        by_ip.close()
        by_name.close()
        broker.stop()


def test_topic_prefix_from_the_config(broker, monkeypatch):
    """The config's topic_prefix and password_env reach the sink the service builds."""
    from types import SimpleNamespace

    from edgeanon.config.loader import parse_config
    from edgeanon.run.wiring import mqtt_sink
    from tests.helpers.paths import DEFAULT_CONFIG

    text = DEFAULT_CONFIG.read_text() + (
        f"mqtt: {{host: 127.0.0.1, port: {broker.port}, site: shop-1, topic_prefix: acme/stores/7, username: {USER},"
        " password_env: EDGEANON_TEST_MQTT_PW, reconnect_max_s: 1}\n"
    )
    monkeypatch.setenv("EDGEANON_TEST_MQTT_PW", PASSWORD)
    sink = mqtt_sink(parse_config(text), SimpleNamespace(statuses=up("sample")))
    sub = Subscriber(broker.port, "#")
    sink.start()
    try:
        sink.on_bucket(bucket(5000))
        msgs = sub.wait_for(lambda m: len(keyed(m, "bucket/site")) >= 1, 20)
    finally:
        sink.close()
        sub.close()
    topics = {m.topic for m in msgs}
    assert {"acme/stores/7/status", "acme/stores/7/bucket/site", "acme/stores/7/live/camera/sample/up"} <= topics
    assert all(t.startswith("acme/stores/7/") for t in topics)
