"""`edgeanon run`: build the runner, sinks and web server from a config, supervise, shut down cleanly."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from edgeanon import __version__
from edgeanon.config import Config
from edgeanon.errors import EdgeanonError

log = logging.getLogger("edgeanon")

LIVENESS_S = 10.0  # /healthz fails when the supervisor loop has not turned for this long
AUDIT_PURGE_EVERY_S = 3600.0


@dataclass
class RunOptions:
    quiet: bool = False
    duration: float | None = None  # stop by itself after this many seconds (tests, demos)
    status_every: float = 5.0
    port: int | None = None  # override http.port
    config_sha256: str = ""


def serve(cfg: Config, opts: RunOptions) -> int:
    from edgeanon.audit import AuditLog
    from edgeanon.notice import NOTICE_CONTENT_TYPE, render_notice
    from edgeanon.pipeline import Runner
    from edgeanon.sinks.console import ConsoleSink
    from edgeanon.sinks.prometheus import PrometheusSink
    from edgeanon.sinks.store import AggregateStore, StoreSink
    from edgeanon.web import App, WebServer

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    # Storage first: a read-only or full disk is a start-up error, before any camera is opened.
    audit = AuditLog(cfg.storage.audit_path(), retention_days=cfg.retention.audit_days)
    try:
        purged = audit.purge()
        if purged:
            log.info("audit log: %d records past retention removed", purged)

        def on_purge(rows: int, cutoff: float) -> None:
            audit.record("purge", table="aggregates", rows=rows, cutoff=cutoff)
            if rows:
                log.info("store: purged %d rows older than the %d-day retention", rows, cfg.retention.aggregates_days)

        store = AggregateStore(
            cfg.storage.store_path(), retention_days=cfg.retention.aggregates_days, on_purge=on_purge
        )
    except BaseException:
        audit.close()
        raise
    store_sink = StoreSink(store)
    sinks: list = [store_sink]
    if not opts.quiet:
        sinks.append(ConsoleSink(cfg.aggregation.timezone))
    layout = {
        c.id: ([z.name for z in c.zones], [ln.name for ln in c.lines], [z.name for z in c.zones if z.queue])
        for c in cfg.cameras
    }
    heat = next(((c.heatmap.rows, c.heatmap.cols) for c in cfg.cameras if c.heatmap), None)
    log.info("loading and warming up the detector")
    try:
        runner = Runner(cfg, sinks)
    except BaseException:
        store.close()
        audit.close()
        raise
    prom = PrometheusSink(layout, runner.model_sha256, runner.statuses, heatmap_shape=heat, purposes=cfg.purpose_ids)
    runner.aggregator.sinks.append(prom)

    def health() -> tuple[bool, dict]:
        age = time.monotonic() - runner.heartbeat
        cams = {s.camera: {"up": s.up, "closed": s.closed, "error": s.last_error} for s in runner.statuses()}
        return age < LIVENESS_S, {"supervisor_age_s": round(age, 3), "cameras": cams}

    app = App(prom.registry, health)

    def notice(environ: dict[str, Any]) -> tuple[int, str, bytes]:
        q = parse_qs(environ.get("QUERY_STRING", ""))
        lang = "en" if q.get("lang", ["ja"])[0] == "en" else "ja"
        fmt = "txt" if q.get("format", ["html"])[0] == "txt" else "html"
        return 200, NOTICE_CONTENT_TYPE[fmt], render_notice(cfg, lang, fmt).encode()

    app.routes["/notice"] = notice
    host = cfg.http.host
    port = cfg.http.port if opts.port is None else opts.port
    try:
        web = WebServer(app, host, port)
    except OSError as exc:
        store.close()
        audit.close()
        raise EdgeanonError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    audit.record(
        "start",
        version=__version__,
        config_sha256=opts.config_sha256,
        model_sha256=runner.model_sha256,
        purposes=sorted(cfg.purpose_ids),
        cameras=[c.id for c in cfg.cameras],
    )
    web.start()
    print(f"edgeanon: serving http://{host}:{web.port}/metrics", file=sys.stderr, flush=True)
    runner.start()
    started = time.monotonic()
    next_status = started + opts.status_every
    next_audit_purge = started + AUDIT_PURGE_EVERY_S
    reason = "signal"
    try:
        while not stop.is_set():
            runner.tick()
            now = time.monotonic()
            if opts.duration is not None and now - started >= opts.duration:
                log.info("duration of %.0f s reached: stopping", opts.duration)
                reason = "duration"
                break
            if runner.all_finished():
                log.info("every camera has finished: stopping")
                reason = "sources finished"
                break
            if not opts.quiet and now >= next_status:
                _status_line(runner)
                next_status = now + opts.status_every
            if now >= next_audit_purge:
                audit.purge()
                next_audit_purge = now + AUDIT_PURGE_EVERY_S
            stop.wait(0.25)
    finally:
        runner.stop()  # flushes the partial bucket to every sink, the store included
        web.stop()
        c = {s.camera: s.counters for s in runner.statuses()}
        balanced = all(v.balanced() for v in c.values())
        audit.record(
            "stop", reason=reason, flushed=True, store_errors=store_sink.errors, buckets_lost=store_sink.dropped_buckets
        )
        audit.close()
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
        state = "up" if s.up else ("done" if s.finished else "closed" if s.closed else "DOWN")
        a = runner.analytics[s.camera]
        zones = " ".join(f"{z.name}={z.occupancy}" for z in a.zones)
        lines = " ".join(f"{ln.name} in={ln.total_in} out={ln.total_out}" for ln in a.lines)
        parts.append(
            f"{s.camera} {state} {s.fps:4.1f} fps (inferred {c.inferred}, dropped {c.dropped}) {zones} {lines}"
        )
    parts.append(f"site occupancy {runner.site.value}")
    print("live: " + " | ".join(parts), flush=True)
