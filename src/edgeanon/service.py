"""`edgeanon run`: build the runner, sinks and web server from a config, supervise, shut down cleanly."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass

from edgeanon.config import Config
from edgeanon.errors import EdgeanonError

log = logging.getLogger("edgeanon")

LIVENESS_S = 10.0  # /healthz fails when the supervisor loop has not turned for this long


@dataclass
class RunOptions:
    quiet: bool = False
    duration: float | None = None  # stop by itself after this many seconds (tests, demos)
    status_every: float = 5.0
    port: int | None = None  # override http.port


def serve(cfg: Config, opts: RunOptions) -> int:
    from edgeanon.pipeline import Runner
    from edgeanon.sinks.console import ConsoleSink
    from edgeanon.sinks.prometheus import PrometheusSink
    from edgeanon.web import App, WebServer

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    sinks: list = []
    if not opts.quiet:
        sinks.append(ConsoleSink(cfg.aggregation.timezone))
    layout = {
        c.id: ([z.name for z in c.zones], [ln.name for ln in c.lines], [z.name for z in c.zones if z.queue])
        for c in cfg.cameras
    }
    heat = next(((c.heatmap.rows, c.heatmap.cols) for c in cfg.cameras if c.heatmap), None)
    log.info("loading and warming up the detector")
    runner = Runner(cfg, sinks)
    prom = PrometheusSink(layout, runner.model_sha256, runner.statuses, heatmap_shape=heat, purposes=cfg.purpose_ids)
    runner.aggregator.sinks.append(prom)

    def health() -> tuple[bool, dict]:
        age = time.monotonic() - runner.heartbeat
        cams = {s.camera: {"up": s.up, "error": s.last_error} for s in runner.statuses()}
        return age < LIVENESS_S, {"supervisor_age_s": round(age, 3), "cameras": cams}

    host = cfg.http.host
    port = cfg.http.port if opts.port is None else opts.port
    try:
        web = WebServer(App(prom.registry, health), host, port)
    except OSError as exc:
        raise EdgeanonError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    web.start()
    print(f"edgeanon: serving http://{host}:{web.port}/metrics", file=sys.stderr, flush=True)
    runner.start()
    started = time.monotonic()
    next_status = started + opts.status_every
    try:
        while not stop.is_set():
            runner.tick()
            now = time.monotonic()
            if opts.duration is not None and now - started >= opts.duration:
                log.info("duration of %.0f s reached: stopping", opts.duration)
                break
            if runner.all_finished():
                log.info("every camera has finished: stopping")
                break
            if not opts.quiet and now >= next_status:
                _status_line(runner)
                next_status = now + opts.status_every
            stop.wait(0.25)
    finally:
        runner.stop()
        web.stop()
        c = {s.camera: s.counters for s in runner.statuses()}
        balanced = all(v.balanced() for v in c.values())
        log.info(
            "stopped; the last bucket was flushed to %d sinks; frame accounting balanced: %s",
            len(runner.aggregator.sinks),
            balanced,
        )
        print("edgeanon: stopped, current bucket flushed", file=sys.stderr, flush=True)
    return 0


def _status_line(runner) -> None:
    parts = []
    for s in runner.statuses():
        c = s.counters
        state = "up" if s.up else ("done" if s.finished else "DOWN")
        a = runner.analytics[s.camera]
        zones = " ".join(f"{z.name}={z.occupancy}" for z in a.zones)
        lines = " ".join(f"{ln.name} in={ln.total_in} out={ln.total_out}" for ln in a.lines)
        parts.append(
            f"{s.camera} {state} {s.fps:4.1f} fps (inferred {c.inferred}, dropped {c.dropped}) {zones} {lines}"
        )
    parts.append(f"site occupancy {runner.site.value}")
    print("live: " + " | ".join(parts), flush=True)
