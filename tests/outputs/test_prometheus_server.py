"""A real Prometheus server (Debian's `prometheus`) scraping a real `edgeanon run`, both on loopback.

It uses the shipped scrape job (deploy/prometheus/prometheus.yml, with its relabelling) and rule files, then checks
through Prometheus' HTTP API that the line, zone, camera and frame series arrived with the values edgeanon itself
showed, that the recording rules produce their series, and that every dashboard query is valid PromQL with data.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import yaml

from tests.helpers.paths import DEFAULT_CONFIG, ROOT
from tests.helpers.prometheus import NEEDS_PROMETHEUS, PROM, PROMETHEUS, Prometheus, start_prometheus
from tests.helpers.runs import scrape, start_run, stop_run
from tests.helpers.waiting import wait_until

DASHBOARD = ROOT / "deploy" / "grafana" / "edgeanon-dashboard.json"
LABELS = {"store": "test-store", "device": "test-device"}

pytestmark = [pytest.mark.slow, NEEDS_PROMETHEUS]

CROSSING_IN = ("edgeanon_line_crossings_total", (("camera", "sample"), ("direction", "in"), ("line", "crossing")))
ROAD = ("edgeanon_zone_occupancy", (("camera", "sample"), ("zone", "road")))
UP = ("edgeanon_camera_up", (("camera", "sample"),))
INFERRED = ("edgeanon_frames_total", (("camera", "sample"), ("fate", "inferred")))


@pytest.fixture
def edgeanon(tmp_path) -> Iterator[int]:
    """The demo with 10 s buckets: crossings reach /metrics only when a bucket closes (small-cell suppression)."""
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["aggregation"]["bucket_seconds"] = 10
    config = tmp_path / "demo.yaml"
    config.write_text(yaml.safe_dump(data))
    proc, port = start_run(str(config), cwd=tmp_path)
    yield port
    stop_run(proc)


def prometheus_config(target_port: int) -> dict:
    """The shipped `edgeanon` job, pointed at the test's device and scraped every second."""
    shipped = yaml.safe_load((PROM / "prometheus.yml").read_text())
    (job,) = [j for j in shipped["scrape_configs"] if j["job_name"] == "edgeanon"]
    job = {k: v for k, v in job.items() if k != "file_sd_configs"}
    job["static_configs"] = [{"targets": [f"127.0.0.1:{target_port}"], "labels": LABELS}]
    job["scrape_interval"] = job["scrape_timeout"] = "1s"
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in sorted((PROM / "rules").glob("*.yml"))],
        "scrape_configs": [job],
    }


@pytest.fixture
def prometheus(tmp_path, edgeanon) -> Iterator[Prometheus]:
    if PROMETHEUS is None:
        pytest.fail("the prometheus binary is missing, but CI must run this test (.ci/run installs it)")
    with ExitStack() as stack:
        prom, _ = start_prometheus(stack, tmp_path, prometheus_config(edgeanon), "prometheus.yml")
        yield prom


def _promql(key: tuple[str, tuple]) -> str:
    name, labels = key
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}"


def test_prometheus_scrapes_edgeanon_and_records_the_rules(prometheus, edgeanon, capsys):
    prom, port = prometheus, edgeanon
    started = time.monotonic()

    # 1. the target is up, with the store/device labels the relabelling kept
    def target_up():
        active = prom.get("/api/v1/targets")["activeTargets"]
        return [t for t in active if t["health"] == "up"]

    (target,) = wait_until("the edgeanon target to be up", target_up, 30)
    assert target["labels"]["job"] == "edgeanon" and {k: target["labels"][k] for k in LABELS} == LABELS

    # 2. people crossed the line "in" and Prometheus has seen it
    wait_until("an 'in' crossing to reach Prometheus", lambda: (prom.value(_promql(CROSSING_IN)) or 0) > 0, 45)

    # 3. one scrape bracketed by edgeanon's own /metrics: counters before <= Prometheus <= after; gauges in the
    #    range edgeanon showed meanwhile (polled densely, since they change with every frame)
    seen: list[dict] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            seen.append(scrape(port))
            time.sleep(0.02)

    before = scrape(port)
    t0 = time.time()
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        wait_until("a scrape after t0", lambda: (prom.value(f"timestamp({_promql(INFERRED)})") or 0) > t0 + 0.05, 10)
        got = {key: prom.query(_promql(key)) for key in (CROSSING_IN, ROAD, INFERRED)}
        up_all = prom.query("edgeanon_camera_up")
    finally:
        stop.set()
        poller.join(5)
    after = scrape(port)
    seen = [before, *seen, after]
    observed: dict[str, object] = {}
    for key in (CROSSING_IN, INFERRED):
        (series,) = got[key]
        value = float(series["value"][1])
        assert {k: series["metric"][k] for k in LABELS} == LABELS
        assert 0 < before[key] <= value <= after[key], (key, before[key], value, after[key])
        observed[_promql(key)] = {"prometheus": value, "edgeanon_before": before[key], "edgeanon_after": after[key]}
    (road,) = got[ROAD]
    road_value = float(road["value"][1])
    road_seen = sorted({m[ROAD] for m in seen})
    assert road_seen[0] <= road_value <= road_seen[-1], (road_value, road_seen)
    observed[_promql(ROAD)] = {"prometheus": road_value, "edgeanon_range": [road_seen[0], road_seen[-1]]}
    (up,) = up_all
    assert up["metric"]["camera"] == "sample" and float(up["value"][1]) == 1.0 == after[UP]
    observed["edgeanon_camera_up"] = {"prometheus": float(up["value"][1]), "labels": up["metric"]}

    # 4. the recording rules ran over these series, with the scrape-time store label
    def recorded():
        return prom.query(f'store:edgeanon_line_crossings:increase1h{{store="{LABELS["store"]}",direction="in"}}')

    (rec,) = wait_until("the store-level in/out recording rule", recorded, 20)
    assert float(rec["value"][1]) > 0
    observed["store:edgeanon_line_crossings:increase1h"] = {"value": float(rec["value"][1]), "labels": rec["metric"]}
    zone_avg = wait_until(
        "the per-zone occupancy average",
        lambda: prom.query('store_camera_zone:edgeanon_zone_occupancy:avg5m{camera="sample",zone="road"}'),
        20,
    )
    observed["store_camera_zone:edgeanon_zone_occupancy:avg5m"] = float(zone_avg[0]["value"][1])
    groups = prom.get("/api/v1/rules")["groups"]
    assert {g["name"] for g in groups} == {"edgeanon-recording", "edgeanon-alerts"}
    for g in groups:
        for r in g["rules"]:
            assert r["health"] == "ok", (r["name"], r.get("lastError"))

    # 5. every dashboard query, with Grafana's variables filled in, is valid PromQL and finds data here
    dash = json.loads(DASHBOARD.read_text())
    substitutions = {"$__rate_interval": "15s", "$store": ".*", "$device": ".*", "$camera": ".*"}
    empty = []
    for panel in dash["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for var, value in substitutions.items():
                expr = expr.replace(var, value)
            if not prom.query(expr):  # a syntax error fails inside query() with Prometheus' message
                empty.append(panel["title"])
    assert empty == [], f"dashboard panels with no data: {empty}"
    observed["elapsed_s"] = round(time.monotonic() - started, 1)
    with capsys.disabled():
        print("\nPrometheus query results:", json.dumps(observed, indent=1, default=str))
