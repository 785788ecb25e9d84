"""A real `edgeanon run` publishing to a real mosquitto: every message checked against the README's topic table,
bucket messages against the store's rows, a broker killed and restarted mid-run, and a wrong password."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from edgeanon.outputs.store import AggregateStore
from tests.helpers.mqtt import PASSWORD, USER, Broker, Subscriber, WireTap
from tests.helpers.paths import DEFAULT_CONFIG, ROOT

pytestmark = pytest.mark.slow
BUCKET_S = 10  # the minimum aggregation.bucket_seconds
SITE = "shop-1"
PREFIX = f"edgeanon/{SITE}"
NAME = r"[a-z0-9][a-z0-9_-]*"


def write_config(tmp_path: Path, port: int, password: str = PASSWORD, **mqtt) -> Path:
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["storage"] = {"directory": str(tmp_path / "data")}
    data["aggregation"]["bucket_seconds"] = BUCKET_S
    pw = tmp_path / "mqtt-password"
    pw.write_text(password + "\n")
    pw.chmod(0o600)
    data["mqtt"] = {
        "host": "127.0.0.1",
        "port": port,
        "site": SITE,
        "username": USER,
        "password_file": str(pw),
        "discovery": True,
        "reconnect_max_s": 1,
    } | mqtt
    path = tmp_path / "edgeanon.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def run_args(config: Path, duration: float) -> list[str]:
    return [sys.executable, "-m", "edgeanon", "run", str(config), "--duration", str(duration), "--port", "0", "--quiet"]


def run(config: Path, duration: float, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        run_args(config, duration),
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def store_rows(tmp_path: Path) -> list[dict]:
    with AggregateStore(tmp_path / "data" / "aggregates.db", retention_days=30) as store:
        return store.rows()


def readme_topics() -> list[tuple[re.Pattern, bool, int, set[str] | None]]:
    """(topic regex, retained, QoS, JSON keys or None for a plain value) from the README's MQTT topic table."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## MQTT") :]
    section = section[: section.index("\n## ")]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`"):
            continue
        topic = cells[0].strip("`")
        pattern = re.escape(topic)
        for placeholder, value in (("<prefix>", PREFIX), ("<discovery_prefix>", "homeassistant"), ("<site>", SITE)):
            pattern = pattern.replace(re.escape(placeholder), re.escape(value))
        pattern = re.sub(r"<[a-z_]+>", NAME, pattern)
        keys = set(re.findall(r"`([a-z_]+)`", cells[3])) if "JSON" in cells[3] or "`name`" in cells[3] else None
        rows.append((re.compile(f"^{pattern}$"), cells[1] == "yes", int(cells[2]), keys))
    assert len(rows) >= 10, "the README's MQTT topic table was not found"
    return rows


def documented(topic: str, table) -> tuple[bool, int, set[str] | None]:
    matches = [(r, q, k) for p, r, q, k in table if p.match(topic)]
    assert len(matches) == 1, f"{topic} matches {len(matches)} rows of the README's topic table"
    return matches[0]


def check_leaves(value: object, names: set[str], path: str) -> None:
    """Every key is a config name or a fixed metric/bin name, every leaf a number: nothing per person."""
    if isinstance(value, dict):
        for k, v in value.items():
            assert re.fullmatch(r"[a-z0-9<+_-]+", k), f"{path}: key {k!r}"
            assert not re.search(r"track|box|xy|id$|person", k), f"{path}: key {k!r} looks per person"
            check_leaves(v, names, f"{path}.{k}")
    else:
        assert isinstance(value, int | float) and not isinstance(value, bool), f"{path}: {value!r} is not a number"


def test_full_run_publishes_only_documented_aggregates_that_match_the_store(tmp_path):
    broker = Broker(tmp_path / "broker")
    tap = WireTap(broker.port)
    sub = Subscriber(broker.port, "#")
    try:
        cfg = write_config(tmp_path, tap.port)
        proc = run(cfg, duration=2.5 * BUCKET_S)
        assert proc.returncode == 0, proc.stderr
        msgs = sub.wait_for(lambda m: any(x.topic.endswith("/status") and x.payload == b"offline" for x in m), 20)
    finally:
        sub.close()
        tap.close()
        broker.stop()
    assert PASSWORD not in proc.stderr + proc.stdout
    wire = tap.snapshot()
    table = readme_topics()
    config = yaml.safe_load(cfg.read_text())
    names = {SITE} | {c["id"] for c in config["cameras"]}
    names |= {z["name"] for c in config["cameras"] for z in c.get("zones", [])}
    names |= {ln["name"] for c in config["cameras"] for ln in c.get("lines", [])}
    # flags as edgeanon sent them (a subscriber sees retain only on messages replayed at subscription)
    assert wire and all(w.topic.startswith((PREFIX + "/", "homeassistant/")) for w in wire)
    for w in wire:
        retained, qos, _ = documented(w.topic, table)
        assert (w.retain, w.qos) == (retained, qos), w.topic
    seen_rows = set()
    for m in msgs:
        _, _, keys = documented(m.topic, table)
        seen_rows.add(next(p.pattern for p, *_ in table if p.match(m.topic)))
        if keys is None:
            text = m.payload.decode()
            assert text in ("online", "offline") if m.topic.endswith("/status") else text.isdigit(), (m.topic, text)
            continue
        payload = json.loads(m.payload)
        assert set(payload) == keys if "/bucket/" in m.topic else set(payload) <= keys, (m.topic, set(payload) ^ keys)
        if "/bucket/" in m.topic:
            assert payload["site"] == SITE and payload["bucket_start"] % BUCKET_S == 0
            for part in ("metrics", "zones", "lines", "attributes"):
                check_leaves(payload.get(part, {}), names, f"{m.topic}.{part}")
            assert set(payload.get("zones", {})) <= names and set(payload.get("lines", {})) <= names
        else:  # discovery: ids and names from config names only
            assert payload["unique_id"].startswith(f"edgeanon_{SITE}_")
            assert set(payload["unique_id"].removeprefix(f"edgeanon_{SITE}_").split("_")) <= {
                *(n for name in names for n in name.split("_")),
                "zone",
                "line",
                "occupancy",
                "in",
                "out",
                "up",
                "site",
            }
    assert len(seen_rows) >= 10, sorted(seen_rows)  # every kind of topic was seen (site occupancy, in and out ...)

    # the bucket messages are the store's rows for the same bucket
    rows = store_rows(tmp_path)
    by_key: dict[tuple[str, int], dict] = defaultdict(dict)
    for r in rows:
        by_key[(r["camera"], r["bucket_start"])][(r["scope"], r["name"], r["metric"])] = r["value"]
    received: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for m in msgs:
        if "/bucket/" in m.topic:
            p = json.loads(m.payload)
            received[(p["camera"], p["bucket_start"])].append(p)
    assert len(by_key) >= 2 * 3  # 3+ buckets (the last one partial), each with camera and site rows
    assert set(received) == set(by_key)
    for key, stored in by_key.items():
        assert len(received[key]) == 1, key  # one broker, never restarted: exactly one message per key
        p = received[key][0]
        if key[0] == "":
            flat = {("site", "", k): v for k, v in p.items() if k in ("in", "out", "occupancy")}
        else:
            flat = {("camera", "", k): v for k, v in p["metrics"].items()}
            flat |= {("zone", z, k): v for z, ms in p["zones"].items() for k, v in ms.items()}
            flat |= {("line", ln, k): v for ln, ms in p["lines"].items() for k, v in ms.items()}
        assert flat == stored, key
    last = max(start for _, start in by_key)  # the bucket flushed at the end of --duration, and only it
    assert all(p[0]["partial"] == (key[1] == last) for key, p in received.items()), sorted(received)
    inferred = sum(v for s in by_key.values() for k, v in s.items() if k[2] == "frames_inferred")
    assert inferred > 50  # the run really counted


def test_broker_killed_and_restarted_mid_run(tmp_path):
    """Every bucket arrives at least once; a bucket sent twice on the wire is only ever a DUP redelivery."""
    broker = Broker(tmp_path / "broker")
    tap = WireTap(broker.port)
    # a persistent session, as a real consumer would use (the restarted broker has no state, so it resubscribes)
    sub = Subscriber(broker.port, f"{PREFIX}/bucket/#", client_id="test-subscriber")
    cfg = write_config(tmp_path, tap.port, discovery=False, live=False)
    proc = subprocess.Popen(
        run_args(cfg, 4 * BUCKET_S),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = sub.wait_for(lambda m: len(m) >= 2, 90)  # one bucket delivered (camera and site)
        assert first, "no bucket arrived before the broker was killed"
        tap.gate.clear()  # edgeanon may reconnect only once the subscriber listens again
        broker.kill()
        killed_at = time.time()
        time.sleep(BUCKET_S + 2)  # at least one bucket closes while the broker is down
        broker.start()
        restarted_at = time.time()
        deadline = time.monotonic() + 30
        while not sub.subscribed.is_set() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sub.subscribed.is_set(), "the subscriber did not come back"
        tap.gate.set()
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        msgs = sub.wait_for(lambda m: False, 3)
    finally:
        proc.kill()
        sub.close()
        tap.close()
        broker.stop()
    assert "lost the connection" in err and "connected to 127.0.0.1" in err
    assert PASSWORD not in out + err

    keys_stored = {(r["camera"], r["bucket_start"]) for r in store_rows(tmp_path)}
    during = [k for k in keys_stored if killed_at < k[1] + BUCKET_S < restarted_at]
    assert during, "no bucket closed while the broker was down"

    def key(payload: bytes) -> tuple[str, int]:
        p = json.loads(payload)
        return p["camera"], p["bucket_start"]

    # at least once, at the subscriber
    arrivals: dict[tuple[str, int], list] = defaultdict(list)
    for m in msgs:
        arrivals[key(m.payload)].append(m)
    missing = keys_stored - set(arrivals)
    assert not missing, f"buckets never delivered: {sorted(missing)}"
    # on the wire: each key sent once without DUP; any other copy is a DUP resend of the same packet
    sent: dict[tuple[str, int], list] = defaultdict(list)
    for w in tap.snapshot():
        if "/bucket/" in w.topic:
            sent[key(w.payload)].append(w)
    for k, copies in sent.items():
        originals = [w for w in copies if not w.dup]
        assert len(originals) == 1, f"{k} published {len(originals)} times by edgeanon"
        assert all(w.packet_id == originals[0].packet_id and w.payload == originals[0].payload for w in copies), k
    # a second arrival at the subscriber is a QoS 1 redelivery: DUP towards the subscriber, or a DUP resend by
    # edgeanon that the broker forwarded again (MQTT does not propagate DUP from publisher to subscriber)
    for k, got in arrivals.items():
        extra = len(got) - 1
        explained = sum(m.dup for m in got) + (len(sent[k]) - 1)
        assert extra <= explained, f"{k} arrived {len(got)} times, {explained} explained by QoS 1 redelivery"


def test_wrong_password_is_a_clear_error_and_counting_goes_on(tmp_path):
    broker = Broker(tmp_path / "broker")
    wrong = "not-the-Right-password-42"
    try:
        cfg = write_config(tmp_path, broker.port, password=wrong)
        proc = run(cfg, duration=BUCKET_S + 5)
    finally:
        broker.stop()
    assert proc.returncode == 0, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if "refused the connection" in ln]
    assert errors, proc.stderr
    assert "Not authorized" in errors[0] or "Bad user name or password" in errors[0]
    assert "check mqtt.username and the password" in errors[0] and "127.0.0.1" in errors[0]
    assert len(errors) == 1, errors  # logged once, not on every retry
    assert wrong not in proc.stderr + proc.stdout
    rows = store_rows(tmp_path)
    assert sum(r["value"] for r in rows if r["metric"] == "frames_inferred") > 50
    assert "bucket(s) could not be delivered" in proc.stderr  # and the loss is said, not hidden
