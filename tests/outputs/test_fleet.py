"""A fleet end to end, with the shipped Prometheus files: two real `edgeanon run` boxes, a regional Prometheus that
scrapes them, a head-office Prometheus that federates from it, and a Prometheus agent that remote-writes one box
to a second head-office server (the path for boxes behind NAT).

The shipped configs are loaded and only their intervals and addresses are rewritten; the rule files and the
relabelling, federation and remote-write settings are used as shipped, so the test breaks when they do. Each box
counts the bundled clip once with every frame inferred, so its counters stop changing while it keeps serving:
head office must then show exactly the boxes' raw counters, not an extrapolated `increase()`.

Box "shibuya" has a second camera, a slow realtime loop of the clip (no zones or lines), which keeps the process
running after the counted clip ends. Box "umeda" has a second camera whose stream URL refuses connections: the
broken camera that the camera-down alert must show at head office.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.net import free_port
from tests.helpers.paths import DEFAULT_CONFIG
from tests.helpers.processes import OPENER, spawn, wait_http
from tests.helpers.prometheus import NEEDS_PROMETHEUS, PROM, PROMETHEUS, Prometheus, start_prometheus
from tests.helpers.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_README = ROOT / "deploy" / "README.md"
CLIP = ROOT / "tests" / "data" / "vtest-0-249.avi"
INTERVAL = "1s"  # scrape, evaluation and federation interval for the test (the shipped files say 15 s and 60 s)
STORES = {"shibuya": "idle", "umeda": "broken"}  # store -> its second camera
DEVICE = "entrance"

pytestmark = [pytest.mark.slow, NEEDS_PROMETHEUS]

Sample = tuple[str, tuple[tuple[str, str], ...]]


# ---------------------------------------------------------------- processes


def agent_flags() -> list[str]:
    """Prometheus 2.x enables agent mode with a feature flag; 3.x has --agent."""
    out = subprocess.run([PROMETHEUS, "--help"], check=False, capture_output=True, text=True, timeout=30)
    return ["--agent"] if re.search(r"^\s+--agent\b", out.stdout + out.stderr, re.M) else ["--enable-feature=agent"]


# ---------------------------------------------------------------- the shipped configs, rewritten for the test


def _load(name: str) -> dict:
    return yaml.safe_load((PROM / name).read_text())


def _short_intervals(cfg: dict) -> dict:
    g = cfg["global"]
    for key in ("scrape_interval", "scrape_timeout", "evaluation_interval"):
        if key in g:
            g[key] = INTERVAL
    return cfg


def _job(cfg: dict, name: str) -> dict:
    (job,) = [j for j in cfg["scrape_configs"] if j["job_name"] == name]
    return job


def _with_rules(workdir: Path) -> Path:
    """The shipped rule files, unmodified, at the relative path the shipped configs name them by."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "rules").symlink_to(PROM / "rules", target_is_directory=True)
    return workdir


def regional_config(workdir: Path, devices: dict[str, int]) -> dict:
    """prometheus.yml: the example hosts go; the boxes come in through its own file_sd glob, in a targets file of
    the shipped format. Its relabelling and external labels stay."""
    cfg = _short_intervals(_load("prometheus.yml"))
    job = _job(cfg, "edgeanon")
    job["static_configs"] = []
    assert job["file_sd_configs"] == [{"files": ["targets/*.yml"]}]
    for am in cfg.get("alerting", {}).get("alertmanagers", []):
        am["static_configs"] = [{"targets": []}]  # no Alertmanager in the test
    shipped = yaml.safe_load((PROM / "targets" / "edgeanon-devices.yml").read_text())
    assert all(set(t) == {"targets", "labels"} and set(t["labels"]) == {"store", "device"} for t in shipped)
    targets = [
        {"targets": [f"127.0.0.1:{port}"], "labels": {"store": store, "device": DEVICE}}
        for store, port in devices.items()
    ]
    (workdir / "targets").mkdir(parents=True)
    (workdir / "targets" / "edgeanon-devices.yml").write_text(yaml.safe_dump(targets))
    return cfg


def head_office_config(regional: str | None) -> dict:
    """prometheus-head-office.yml: federating from the test's regional server (or from nothing, for the
    remote-write receiver); no Pushgateway in this test. Its match[] list is the shipped one."""
    cfg = _short_intervals(_load("prometheus-head-office.yml"))
    _job(cfg, "federate-regions")["static_configs"] = (
        [{"targets": [regional.removeprefix("http://")]}] if regional else []
    )
    _job(cfg, "pushgateway")["static_configs"] = []
    return cfg


def agent_config(device_port: int, receiver: str) -> dict:
    """prometheus-agent.yml: scraping the box's own port and writing to the test's receiver."""
    cfg = _short_intervals(_load("prometheus-agent.yml"))
    (static,) = _job(cfg, "edgeanon")["static_configs"]
    static["targets"] = [f"127.0.0.1:{device_port}"]
    (rw,) = cfg["remote_write"]
    rw["url"] = f"{receiver}/api/v1/write"
    return cfg


# ---------------------------------------------------------------- the boxes


def device_config(store: str) -> dict:
    """The shipped demo config, counting the clip once with every frame inferred, with a second camera."""
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    (door,) = data["cameras"]
    door["id"] = "door"
    door["source"] = {"kind": "file", "path": str(CLIP), "realtime": False, "loop": False}
    data["entrances"] = [{"camera": "door", "line": door["lines"][0]["name"]}]
    if STORES[store] == "idle":  # keeps the box up after the door clip ends, at little cost
        second = {"id": "idle", "source": {"kind": "file", "path": str(CLIP), "realtime": True, "loop": True}, "fps": 1}
    else:  # nothing listens on this port: the camera is down and edgeanon keeps trying to reopen it
        second = {"id": "broken", "source": {"kind": "url", "url": f"rtsp://127.0.0.1:{free_port()}/stream"}}
        second["reconnect_max_s"] = 1.0
    data["cameras"] = [door, second]
    data["aggregation"]["bucket_seconds"] = 10
    # the purposes deploy/README's series table is counted for (the demo also declares dwell since issue 16)
    data["purposes"] = [p for p in data["purposes"] if p["id"] in ("occupancy", "flow")]
    return data


@dataclass
class Device:
    store: str
    port: int
    proc: subprocess.Popen
    log: Path

    def get(self, path: str) -> str:
        return OPENER.open(f"http://127.0.0.1:{self.port}{path}", timeout=10).read().decode()

    def metrics(self) -> dict[Sample, float]:
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(self.get("/metrics"))
            for s in fam.samples
        }

    def crossings(self) -> dict[tuple[str, str, str], float]:
        """(camera, line, direction) -> the raw counter."""
        return {
            (dict(k[1])["camera"], dict(k[1])["line"], dict(k[1])["direction"]): v
            for k, v in self.metrics().items()
            if k[0] == "edgeanon_line_crossings_total"
        }


def start_device(stack: ExitStack, workdir: Path, store: str, port: int) -> Device:
    workdir.mkdir(parents=True)
    cfg = workdir / "edgeanon.yaml"
    cfg.write_text(yaml.safe_dump(device_config(store), sort_keys=False))
    log = workdir / "edgeanon.log"
    argv = [sys.executable, "-m", "edgeanon", "run", str(cfg), "--port", str(port), "--quiet", "--duration", "400"]
    proc = spawn(stack, argv, workdir, log)
    return Device(store, port, proc, log)


# ---------------------------------------------------------------- the fleet


@dataclass
class Fleet:
    devices: dict[str, Device]
    regional: Prometheus
    head_office: Prometheus
    receiver: Prometheus
    agent_labels: dict[str, str]
    receiver_outage: Callable[[float], tuple[float, float]]  # seconds -> wall-clock (stopped, restarting)


@pytest.fixture
def fleet(tmp_path) -> Iterator[Fleet]:
    if PROMETHEUS is None:
        pytest.fail("the prometheus binary is missing, but CI must run this test (.ci/run installs it)")
    ports = {s: free_port() for s in STORES}
    with ExitStack() as stack:  # every process started here is stopped on the way out, failed test or not
        # the servers first, so that they scrape each box from its first second
        regional_dir = _with_rules(tmp_path / "regional")
        regional, _ = start_prometheus(stack, regional_dir, regional_config(regional_dir, ports), "prometheus.yml")
        head_office, _ = start_prometheus(
            stack, _with_rules(tmp_path / "head-office"), head_office_config(regional.url), "head-office.yml"
        )
        receiver_args = (_with_rules(tmp_path / "receiver"), head_office_config(None), "head-office.yml")
        receiver_flag = "--web.enable-remote-write-receiver"
        receiver, receiver_proc = start_prometheus(stack, *receiver_args, receiver_flag)

        def receiver_outage(seconds: float) -> tuple[float, float]:
            """Head office unreachable for a while, as when the store's WAN is down."""
            nonlocal receiver_proc
            receiver_proc.terminate()
            assert receiver_proc.wait(30) == 0
            stopped = time.time()
            time.sleep(seconds)
            restarting = time.time()
            port = int(receiver.url.rsplit(":", 1)[1])
            _, receiver_proc = start_prometheus(stack, *receiver_args, receiver_flag, port=port)
            return stopped, restarting

        agent_cfg = agent_config(ports["shibuya"], receiver.url)
        _, agent_proc = start_prometheus(stack, tmp_path / "agent", agent_cfg, "prometheus-agent.yml", *agent_flags())
        agent_labels = _job(agent_cfg, "edgeanon")["static_configs"][0]["labels"]
        devices = {s: start_device(stack, tmp_path / f"box-{s}", s, port) for s, port in ports.items()}
        for d in devices.values():  # the detector warms up before /healthz answers
            wait_http(f"http://127.0.0.1:{d.port}/healthz", d.proc, d.log, 120)
        try:
            yield Fleet(devices, regional, head_office, receiver, agent_labels, receiver_outage)
        finally:
            # the agent goes before the receiver, which a restart put last on the stack: otherwise the agent spends
            # its shutdown trying to flush to a receiver already gone (the stack then kills it)
            with suppress(subprocess.TimeoutExpired, ProcessLookupError):
                os.killpg(agent_proc.pid, signal.SIGTERM)
                agent_proc.wait(20)


# ---------------------------------------------------------------- helpers over the HTTP API


def _series(prom: Prometheus, expr: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in prom.query(expr)}


def _by(prom: Prometheus, expr: str, *labels: str) -> dict[tuple[str, ...], float]:
    """Query result keyed by the given labels; each key must be unique."""
    out: dict[tuple[str, ...], float] = {}
    for r in prom.query(expr):
        key = tuple(r["metric"].get(label, "") for label in labels)
        assert key not in out, (expr, key, r)
        out[key] = float(r["value"][1])
    return out


_BUCKETS_AT_END: dict[str, float] = {}  # store -> edgeanon_buckets_total when its clip was first seen finished


def _settled(dev: Device) -> dict[tuple[str, str, str], float] | None:
    """The door camera's final counters once its clip has ended and every frame went through the analytics, and
    the bucket holding its last frames has closed (crossing counters move by closed buckets)."""
    cams = json.loads(dev.get("/healthz"))["cameras"]
    if not cams["door"]["finished"]:
        return None
    closed = dev.metrics()[("edgeanon_buckets_total", ())]
    if closed < _BUCKETS_AT_END.setdefault(dev.store, closed) + 2:
        return None
    first = dev.crossings()
    time.sleep(1.5)
    m = dev.metrics()
    frames = {
        dict(k[1])["fate"]: v for k, v in m.items() if k[0] == "edgeanon_frames_total" and ("camera", "door") in k[1]
    }
    fates = frames["inferred"] + frames["dropped"] + frames["skipped"] + frames["idle"]
    if frames["captured"] != fates or dev.crossings() != first:
        return None
    return first


def recording_rules() -> list[str]:
    doc = yaml.safe_load((PROM / "rules" / "edgeanon-recording.yml").read_text())
    return [r["record"] for g in doc["groups"] for r in g["rules"]]


def _alert_expr(name: str) -> str:
    doc = yaml.safe_load((PROM / "rules" / "edgeanon-alerts.yml").read_text())
    (expr,) = [r["expr"] for g in doc["groups"] for r in g["rules"] if r.get("alert") == name]
    return expr


def documented_series() -> tuple[dict[str, int], dict[str, int]]:
    """deploy/README.md's series table: what each box, camera, zone and line adds on a box's /metrics, and what
    each store, box, camera, zone and line adds at head office."""
    rows = re.findall(r"^\| (store|box|camera|zone|line) \| (\d+|-) \| (\d+) \|", DEPLOY_README.read_text(), re.M)
    assert [r[0] for r in rows] == ["store", "box", "camera", "zone", "line"], rows
    return {k: int(v) for k, v, _ in rows if v != "-"}, {k: int(v) for k, _, v in rows}


def _wait(what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
    return wait_until(what, check, timeout)


# ---------------------------------------------------------------- the test


def test_fleet_federation_and_remote_write(fleet: Fleet, capsys):
    started = time.monotonic()
    devices, regional, head, receiver = fleet.devices, fleet.regional, fleet.head_office, fleet.receiver
    observed: dict[str, Any] = {}

    # 1. the regional server scrapes both boxes, labelled by the targets file through the shipped relabelling
    def targets_up():
        active = regional.get("/api/v1/targets")["activeTargets"]
        up = {t["labels"].get("store"): t for t in active if t["health"] == "up"}
        return up if set(up) == set(STORES) else None

    for store, t in _wait("both boxes to be scraped", targets_up).items():
        assert t["labels"]["job"] == "edgeanon" and t["labels"]["device"] == DEVICE, t["labels"]
        assert t["scrapeUrl"] == f"http://127.0.0.1:{devices[store].port}/metrics"

    # 2. each box counts the clip to its end and then keeps serving its final counters
    finals = {s: _wait(f"box {s} to finish the clip", lambda d=d: _settled(d), 150) for s, d in devices.items()}
    observed["crossings_per_box"] = {s: {"/".join(k): v for k, v in f.items()} for s, f in finals.items()}
    for f in finals.values():
        assert sum(f.values()) > 0, "the clip has people crossing the line"
    # the same clip with every frame inferred: both boxes counted the same people
    assert finals["shibuya"] == finals["umeda"], finals
    per_store = {
        (s, d): sum(v for (_, _, direction), v in f.items() if direction == d)
        for s, f in finals.items()
        for d in ("in", "out")
    }

    # 3. head office, through federation: the raw per-store totals, exactly
    raw_sum = "store:edgeanon_line_crossings_total:sum"
    _wait(
        "head office's per-store raw totals to equal the boxes' counters",
        lambda: _by(head, raw_sum, "store", "direction") == per_store,
        60,
    )
    for labels in _series(head, raw_sum):
        assert dict(labels)["region"] == "kanto", labels  # recorded at the regional server, then federated

    # 4. the camera-down alert's expression, as shipped, is true at head office for the broken camera only
    expr = _alert_expr("EdgeanonCameraDown")
    down = _wait("the camera-down expression at head office", lambda: _by(head, expr, "store", "device", "camera"))
    assert set(down) == {("umeda", DEVICE, "broken")}, down
    pending = _wait(
        "head office to evaluate EdgeanonCameraDown (pending: its `for` is promtool's to test)",
        lambda: _by(head, 'ALERTS{alertname="EdgeanonCameraDown"}', "store", "camera", "alertstate"),
    )
    assert set(pending) == {("umeda", "broken", "pending")}, pending
    # the finished clip camera is down too but makes no reconnect attempts, and the idle camera is up
    ups = _by(head, "edgeanon_camera_up", "store", "camera")
    assert ups == {
        ("shibuya", "door"): 0,
        ("shibuya", "idle"): 1,
        ("umeda", "door"): 0,
        ("umeda", "broken"): 0,
    }, ups

    # 5. the other recording rules' per-store series exist at head office and agree with the boxes
    _wait(
        "20 s of samples of each counter at the regional server",
        lambda: (
            min(_by(regional, "count_over_time(edgeanon_line_crossings_total[1h])", "store", "direction").values())
            >= 20
        ),
    )
    inc = _by(head, "store:edgeanon_line_crossings:increase1h", "store", "direction")
    assert set(inc) == set(per_store), inc
    firsts = _by(regional, "min_over_time(edgeanon_line_crossings_total[1h])", "store", "direction")
    for key, raw in per_store.items():
        # increase() extrapolates: at least what the samples span, and at most 1.6 intervals more in all (half
        # an interval at the start, 1.1 at the end), under 10 % of 20 or more samples; 25 % leaves room for jitter
        assert raw - firsts[key] <= inc[key] <= raw * 1.25 + 1e-9, (key, raw, firsts[key], inc[key])
    per_line = _by(
        head, "sum by (store, direction) (store_camera_line:edgeanon_line_crossings:increase1h)", "store", "direction"
    )
    assert per_line.keys() == inc.keys() and all(abs(per_line[k] - inc[k]) < 1e-9 for k in inc), (per_line, inc)
    observed["increase1h_at_head_office"] = {"/".join(k): v for k, v in inc.items()}
    for rule, want in (("count", {"shibuya": 2, "umeda": 2}), ("sum", {"shibuya": 1, "umeda": 0})):
        name = f"store:edgeanon_camera_up:{rule}"
        got = _by(head, name, "store")  # one series per store: head office records it from the federated gauge
        assert got == {(s,): v for s, v in want.items()}, (name, got)
    # every recording rule has its series at head office for both stores, each once, whichever server recorded it
    for name in recording_rules():
        seen = Counter(
            tuple(sorted((k, v) for k, v in r["metric"].items() if k not in {"region", "job", "instance"}))
            for r in head.query(name)
        )
        assert {dict(k)["store"] for k in seen} == set(STORES), (name, seen)
        assert max(seen.values()) == 1, (name, seen)
    zone = _by(head, "store_camera_zone:edgeanon_zone_occupancy:avg5m", "store", "camera", "zone")
    assert set(zone) == {(s, "door", "road") for s in STORES}, zone

    # 6. series per box: the regional server scraped exactly what the box serves, and deploy/README.md's table
    #    predicts it (shibuya: 2 cameras, 1 zone, 1 line; umeda the same)
    counts = {s: len(d.metrics()) for s, d in devices.items()}
    scraped = _by(regional, 'scrape_samples_scraped{job="edgeanon"}', "store")
    assert scraped == {(s,): float(n) for s, n in counts.items()}, (scraped, counts)
    on_box, at_head = documented_series()
    for s, n in counts.items():
        assert n == on_box["box"] + 2 * on_box["camera"] + on_box["zone"] + on_box["line"], (s, n, on_box)
    # head office: what it holds per store, federated or recorded there (ALERTS, its alert state, left out)
    federated = _by(head, 'count by (store) ({store=~".+", __name__!~"ALERTS.*"})', "store")
    one_store = at_head["store"] + at_head["box"] + 2 * at_head["camera"] + at_head["zone"] + at_head["line"]
    assert federated == {(s,): one_store for s in STORES}, (federated, at_head)
    observed["series"] = {
        "per_box_on_metrics": counts,
        "per_store_at_head_office": {k[0]: v for k, v in federated.items()},
    }

    # 7. remote write: the agent's box arrives at the receiver with its store and device, raw counters exact, and
    #    the receiver's recording rules run over them
    sel = ",".join(f'{k}="{v}"' for k, v in fleet.agent_labels.items())
    agent_store = fleet.agent_labels["store"]
    want_raw = {(c, ln, d): v for (c, ln, d), v in finals["shibuya"].items()}
    _wait(
        "the agent's samples at the receiver",
        lambda: (
            _by(receiver, f'edgeanon_line_crossings_total{{job="edgeanon",{sel}}}', "camera", "line", "direction")
            == want_raw
        ),
        90,
    )
    written = _by(receiver, f'count by (store, device) ({{__name__=~"edgeanon_.+",{sel}}})', "store", "device")
    assert written == {(agent_store, fleet.agent_labels["device"]): counts["shibuya"]}, written
    _wait(
        "the receiver's own recording rules over the remote-written series",
        lambda: (
            _by(receiver, f'{raw_sum}{{store="{agent_store}"}}', "direction")
            == {(d,): v for (s, d), v in per_store.items() if s == "shibuya"}
        ),
    )

    # 7b. head office unreachable for 10 s: the agent keeps the samples and sends them when it is back, so the
    #     receiver has the box's `up` for the seconds it was down (1 a second; one may fall either side of the window)
    stopped, restarting = fleet.receiver_outage(10)
    window = int(restarting - stopped) - 2
    during = f'count_over_time(up{{job="edgeanon",{sel}}}[{window}s])'

    def backfilled():
        data = receiver.get("/api/v1/query", query=during, time=f"{restarting - 1:.3f}")["result"]
        return float(data[0]["value"][1]) if data else 0.0

    _wait("the agent to send what it kept during the outage", lambda: backfilled() >= window - 1, 120)
    observed["remote_write_outage"] = {"window_s": window, "samples_in_window": backfilled()}

    # 8. the boxes stop; their last /metrics still shows the same counters, and head office keeps the totals
    at_end = {s: d.crossings() for s, d in devices.items()}
    assert {s: {k: v for k, v in f.items() if k[0] == "door"} for s, f in at_end.items()} == finals
    for d in devices.values():
        d.proc.send_signal(signal.SIGTERM)
    for d in devices.values():
        assert d.proc.wait(60) == 0, d.log.read_text()[-3000:]
    _wait(
        "head office to see both boxes down",
        lambda: _by(head, 'up{job="edgeanon"}', "store") == {(s,): 0.0 for s in STORES},
    )
    last = _by(head, f"last_over_time({raw_sum}[10m])", "store", "direction")
    assert last == per_store, (last, per_store)
    fleet_total = head.value(f"sum(last_over_time({raw_sum}[10m]))")
    boxes_total = sum(sum(f.values()) for f in at_end.values())
    assert fleet_total == boxes_total, (fleet_total, boxes_total)
    observed["fleet_total"] = {"head_office": fleet_total, "sum_of_boxes": boxes_total}
    observed["elapsed_s"] = round(time.monotonic() - started, 1)
    with capsys.disabled():
        print("\nfleet:", json.dumps(observed, indent=1, default=str))
