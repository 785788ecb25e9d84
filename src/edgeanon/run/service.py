"""`edgeanon run`: build the runner, sinks and web server from a config, supervise, shut down cleanly."""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from edgeanon import __version__, logs, sdnotify
from edgeanon.config.schema import Config, PasswordRefs, UrlSource
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
    from edgeanon.guidebook.audit import AuditLog
    from edgeanon.guidebook.notice import NOTICE_CONTENT_TYPE, render_notice
    from edgeanon.outputs.console import ConsoleSink
    from edgeanon.outputs.prometheus import PrometheusSink
    from edgeanon.outputs.store import AggregateStore, StoreSink
    from edgeanon.run.pipeline import Runner
    from edgeanon.run.views import site_view
    from edgeanon.web.live_boxes import ThrottledBoxes
    from edgeanon.web.server import App, BasicAuth, WebServer, liveness, readiness
    from edgeanon.web.setup import SETUP_CSP, InstallerMode, SetupPage
    from edgeanon.web.status import StatusPage
    from edgeanon.web.status_sink import StatusSink

    logs.add_secrets(config_secrets(cfg))  # before anything that could log a URL or a config value
    logs.set_timezone(cfg.aggregation.timezone)  # one rule: the site's local time, with its offset
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    def on_hup(_signum: int, _frame: object) -> None:  # Python's default for SIGHUP is to terminate
        log.warning("SIGHUP: config reload is not supported; restart the service")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_hup)

    # Storage first: a read-only or full disk is a start-up error, before any camera is opened.
    audit = AuditLog(cfg.storage.audit_path(), retention_days=cfg.retention.audit_days, key=cfg.storage.audit_key())
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
        try:
            site = cfg.storage.site or cfg.operator.name
            recorded = store.claim_site(site, cfg.storage.allow_mixed_sites)
            if recorded is not None and recorded != site:
                log.warning("store %s holds site %r too (storage.allow_mixed_sites)", store.path, recorded)
        except BaseException:
            store.close()
            raise
    except BaseException:
        audit.close()
        raise
    store_sink = StoreSink(store)
    sinks: list = [store_sink]
    console = None if opts.quiet else ConsoleSink(cfg.aggregation.timezone, k=cfg.privacy.k)
    if console is not None:
        sinks.append(console)
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
    live = StatusSink(site_view(cfg))
    live.seed(store.rows(live.midnight()))  # today's crossings from earlier runs
    runner.aggregator.sinks.append(live)
    prom.registry.register(_StoreHealth(store_sink))
    prom.registry.register(_AuditHead(audit))
    pusher = None
    if cfg.push is not None:
        from edgeanon.outputs.push import PushSink

        p = cfg.push
        pusher = PushSink(
            p.url,
            p.interval_s,
            {"store": p.store, "device": p.device},
            prom.registry,
            timeout_s=p.timeout_s,
            job=p.job,
            username=p.username,
            password=p.read_password("push"),
        )
    mqtt = _mqtt_sink(cfg, runner) if cfg.mqtt is not None else None
    if mqtt is not None:
        from edgeanon.outputs.mqtt import MqttHealth

        runner.aggregator.sinks.append(mqtt)
        prom.registry.register(MqttHealth(mqtt))
    if pusher is not None:
        runner.aggregator.sinks.append(pusher)  # last: its close() pushes the bucket the others just flushed
    boxes = _live_boxes(runner)

    def health() -> tuple[bool, dict]:
        return liveness(runner.heartbeat, runner.statuses(), LIVENESS_S, time.monotonic())

    def ready() -> tuple[bool, dict]:
        ok, detail = readiness(runner.statuses(), cfg.http.ready_stale_s, time.monotonic())
        # The audit chain's head, for a monitor to keep elsewhere: `audit verify --expected-head` then detects
        # records cut from the end of the log.
        detail["audit"] = {"seq": audit.seq, "head": audit.head()}
        return ok, detail

    auth = cfg.http.auth
    open_paths = {"/notice"} | ({"/healthz", "/readyz"} if auth is None or not auth.protect_healthz else set())
    app = App(
        prom.registry,
        health,
        ready,
        auth=BasicAuth({u.name: u.password_hash.get_secret_value() for u in auth.users}) if auth else None,
        open_paths=open_paths,
    )
    installer = InstallerMode(cfg.setup_until_ts())
    status_page = StatusPage(site_view(cfg), runner.statuses, live, rows=store.rows, installer=installer)
    setup_page = SetupPage(site_view(cfg), runner.statuses, ThrottledBoxes(boxes))

    def setup(environ: dict[str, Any]) -> tuple[int, str, bytes]:
        if not installer.active():  # off unless http.setup_until is set and has not passed
            return 404, "text/plain; charset=utf-8", b"not found\n"
        return 200, "text/html; charset=utf-8", setup_page.render().encode()

    app.routes["/"] = lambda environ: (200, "text/html; charset=utf-8", status_page.render().encode())
    app.routes["/setup"] = setup
    app.csp["/setup"] = SETUP_CSP

    def notice(environ: dict[str, Any]) -> tuple[int, str, bytes]:
        q = parse_qs(environ.get("QUERY_STRING", ""))
        lang = "en" if q.get("lang", ["ja"])[0] == "en" else "ja"
        fmt = "txt" if q.get("format", ["html"])[0] == "txt" else "html"
        body = render_notice(cfg, lang, fmt, other_lang_href="?lang={lang}")
        return 200, NOTICE_CONTENT_TYPE[fmt], body.encode()

    app.routes["/notice"] = notice
    host = cfg.http.host
    port = cfg.http.port if opts.port is None else opts.port
    tls = (cfg.http.tls.cert, cfg.http.tls.key) if cfg.http.tls is not None else None
    try:
        web = WebServer(app, host, port, tls=tls)
    except OSError as exc:
        store.close()
        audit.close()
        raise EdgeanonError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    except BaseException:
        store.close()
        audit.close()
        raise
    _warn_exposure(cfg, web.port)  # the port actually bound: with port 0 the configured one says nothing
    audit.record(
        "start",
        version=__version__,
        config_sha256=opts.config_sha256,
        model_sha256=runner.model_sha256,
        purposes=sorted(cfg.purpose_ids),
        cameras=[c.id for c in cfg.cameras],
    )
    if installer.active():
        audit.record("setup_mode", state="on", until=_iso_utc(installer.until))
        log.warning("installer mode: %s/setup shows live outlines of people until %s", web.url, cfg.http.setup_until)
    elif installer.until is not None:
        log.info("installer mode: http.setup_until %s has passed; /setup stays off", cfg.http.setup_until)
    web.start()
    logs.announce(f"serving {web.url}/metrics")
    # Everything built so far (modules, config, sessions) lives as long as the process: leave it out of the
    # cyclic collector's full passes, which otherwise hold the GIL for tens of ms while the pipeline runs.
    gc.freeze()
    runner.start()
    if mqtt is not None:
        mqtt.start()
    if pusher is not None:
        pusher.start()
    notifier = sdnotify.Notifier()  # systemd Type=notify: READY once serving, WATCHDOG while the loop turns
    notifier.ready(f"serving {web.url}/metrics")
    started = time.monotonic()
    next_status = started + opts.status_every
    next_audit_purge = started + AUDIT_PURGE_EVERY_S
    reason = "signal"
    try:
        while not stop.is_set():
            runner.tick()
            notifier.tick()
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
                _status_line(runner, console)
                next_status = now + opts.status_every
            if installer.expired_now():
                audit.record("setup_mode", state="off", reason="expired", until=_iso_utc(installer.until))
                log.warning("installer mode expired: /setup is off")
            if now >= next_audit_purge:
                audit.purge()
                next_audit_purge = now + AUDIT_PURGE_EVERY_S
            stop.wait(0.25)
    finally:
        notifier.stopping("flushing the current bucket")
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
        logs.announce("stopped, current bucket flushed")
    return 0


def _iso_utc(t: float | None) -> str | None:
    from datetime import UTC, datetime

    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def _status_line(runner, console=None) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(runner.cfg.aggregation.timezone)
    parts = []
    for s in runner.statuses():
        c = s.counters.accounted()
        state = "up" if s.up else ("done" if s.finished else "closed" if s.closed else "DOWN")
        if s.down and s.down_since is not None:
            state += f" since {datetime.fromtimestamp(s.down_since, tz):%H:%M:%S%z}"
        a = runner.analytics[s.camera]
        zones = " ".join(f"{z.name}={z.occupancy}" for z in a.zones)
        lines = " ".join(f"{ln.name} in={ln.total_in} out={ln.total_out}" for ln in a.lines)
        text = f"{s.camera} {state} {s.fps:4.1f} fps (inferred {c['inferred']}, dropped {c['dropped']}) {zones} {lines}"
        parts.append(text.rstrip())
    parts.append(f"site occupancy {runner.site.value}")
    print("live: " + " | ".join(parts), flush=True)


def config_secrets(cfg: Config) -> list[str]:
    """Every secret the config holds or points to, for the log redactor: stream, push and MQTT passwords (inline,
    from a password_file or an environment variable) and the auth hashes (whole, and the digest part alone).

    Reading them here also makes an unreadable password file a start-up error that names the field."""
    refs: list[tuple[str, PasswordRefs]] = [
        (f"cameras.{i}.source", cam.source) for i, cam in enumerate(cfg.cameras) if isinstance(cam.source, UrlSource)
    ]
    refs += [(name, sec) for name, sec in (("push", cfg.push), ("mqtt", cfg.mqtt)) if sec is not None]
    out = [pw for where, ref in refs if (pw := ref.read_password(where)) is not None]
    if cfg.http.auth is not None:
        for u in cfg.http.auth.users:
            h = u.password_hash.get_secret_value()
            out += [h, h.rsplit("$", 1)[-1]]
    return out


def _mqtt_sink(cfg: Config, runner):
    """The MQTT sink for ``cfg.mqtt`` (not started), with the password read from wherever the config says."""
    from edgeanon.guidebook import policy

    try:
        from edgeanon.outputs.mqtt import MqttSettings, MqttSink
    except ImportError as exc:
        raise EdgeanonError(f"the mqtt section needs paho-mqtt ({exc}): pip install 'edgeanon[mqtt]'") from None
    m = cfg.mqtt
    assert m is not None
    settings = MqttSettings(
        host=m.host,
        site=m.site,
        port=m.port or (8883 if m.tls is not None else 1883),
        prefix=m.topic_prefix or "",
        client_id=m.client_id or "",
        username=m.username,
        password=m.read_password("mqtt"),
        ca_file=m.tls.ca_file if m.tls is not None else None,
        live=m.live,
        discovery=m.discovery,
        discovery_prefix=m.discovery_prefix,
        keepalive_s=m.keepalive_s,
        reconnect_max_s=m.reconnect_max_s,
        close_timeout_s=m.close_timeout_s,
    )
    layout = {c.id: ([z.name for z in c.zones], [ln.name for ln in c.lines]) for c in cfg.cameras}
    allowed = policy.allowed_outputs(cfg.purpose_ids)
    return MqttSink(
        settings,
        layout,
        runner.statuses,
        zones="zone_occupancy" in allowed,
        lines="line_crossings" in allowed,
    )


def _warn_exposure(cfg: Config, port: int) -> None:
    from edgeanon.config.names import is_loopback

    http = cfg.http
    if not is_loopback(http.host) and http.auth is None:  # only with http.allow_unauthenticated: true
        log.warning(
            "http.host %s is reachable from the network and http.auth is not configured "
            "(http.allow_unauthenticated): anyone who can reach port %d can read the counts and the setup page",
            http.host,
            port,
        )
    if not is_loopback(http.host) and http.tls is None:
        log.warning("http.host %s without http.tls: credentials and counts cross the network in clear text", http.host)
    if http.auth is not None:
        log.info(
            "basic auth on (%d user(s)); /healthz and /readyz %s",
            len(http.auth.users),
            "need credentials too" if http.auth.protect_healthz else "stay open for health checks",
        )


def _live_boxes(runner):
    """Where /setup reads the latest boxes: ``CameraAnalytics.last_boxes`` when the pipeline provides it, else a
    tap on each tracker's ``update`` that keeps only the newest frame's confirmed boxes (see ``LiveBoxes``)."""
    from edgeanon.web.live_boxes import LiveBoxes

    live = LiveBoxes()
    for cam, a in runner.analytics.items():
        if not hasattr(a, "last_boxes"):
            _tap_tracker(a.tracker, cam, live)

    def boxes(cam: str):
        a = runner.analytics.get(cam)
        if a is not None and hasattr(a, "last_boxes"):
            return a.last_boxes
        return live.get(cam)

    return boxes


def _tap_tracker(tracker, cam: str, live) -> None:
    update = tracker.update

    def update_and_keep_boxes(dets, t):
        tu = update(dets, t)
        live.put(cam, tu.dets.xyxy[tu.confirmed])
        return tu

    tracker.update = update_and_keep_boxes


class _AuditHead:
    """The audit log's last sequence number, read at scrape time (its hash is on /readyz: a hash is no number)."""

    def __init__(self, audit) -> None:
        self._audit = audit

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        yield GaugeMetricFamily(
            "edgeanon_audit_head_seq",
            "Sequence number of the audit log's last record; a drop means records were removed from the end.",
            value=self._audit.seq,
        )


class _StoreHealth:
    """Store write failures and the waiting backlog, read at scrape time from the store sink itself."""

    def __init__(self, sink) -> None:
        self._sink = sink

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        yield CounterMetricFamily(
            "edgeanon_store_errors", "Failed writes of aggregate buckets to the store.", value=self._sink.errors
        )
        yield GaugeMetricFamily(
            "edgeanon_store_backlog_buckets",
            "Buckets waiting in memory for the store (disk full or locked).",
            value=self._sink.backlog_len,
        )
        yield CounterMetricFamily(
            "edgeanon_store_dropped_buckets",
            "Buckets dropped because the backlog was full (counted data lost).",
            value=self._sink.dropped_buckets,
        )
