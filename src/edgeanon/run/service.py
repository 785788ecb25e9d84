"""`edgeanon run`: build the runner, sinks and web server from a config, supervise, shut down cleanly."""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edgeanon import __version__, logs, sdnotify
from edgeanon.config.credentials import PasswordRefs
from edgeanon.config.schema import Config
from edgeanon.config.sources import UrlSource
from edgeanon.errors import EdgeanonError

if TYPE_CHECKING:
    from edgeanon.guidebook.audit.writer import AuditLog
    from edgeanon.outputs.store import AggregateStore
    from edgeanon.run.runner import Runner
    from edgeanon.run.wiring import Wired
    from edgeanon.web.server import WebServer
    from edgeanon.web.setup import InstallerMode

log = logging.getLogger("edgeanon")

AUDIT_PURGE_EVERY_S = 3600.0


@dataclass
class RunOptions:
    quiet: bool = False
    duration: float | None = None  # stop by itself after this many seconds (tests, demos)
    status_every: float = 5.0
    port: int | None = None  # override http.port
    config_sha256: str = ""


def serve(cfg: Config, opts: RunOptions) -> int:
    """Run until a signal, the duration or the end of every source; the current bucket is flushed on the way out."""
    logs.add_secrets(config_secrets(cfg))  # before anything that could log a URL or a config value
    logs.set_timezone(cfg.aggregation.timezone)  # one rule: the site's local time, with its offset
    stop = _stop_on_signals()
    audit, store = _open_storage(cfg)
    try:
        wired, installer, web = _build(cfg, opts, audit, store)
    except BaseException:
        store.close()
        audit.close()
        raise
    _record_start(cfg, opts, audit, wired.runner, installer, web)
    web.start()
    logs.announce(f"serving {web.url}/metrics")
    # Everything built so far (modules, config, sessions) lives as long as the process: leave it out of the
    # cyclic collector's full passes, which otherwise hold the GIL for tens of ms while the pipeline runs.
    gc.freeze()
    wired.start()
    notifier = sdnotify.Notifier()  # systemd Type=notify: READY once serving, WATCHDOG while the loop turns
    notifier.ready(f"serving {web.url}/metrics")
    reason = "signal"
    try:
        reason = _supervise(opts, stop, wired, audit, installer, notifier)
    finally:
        _shut_down(wired, web, audit, notifier, reason)
    return 0


def _stop_on_signals() -> threading.Event:
    """SIGTERM and SIGINT stop the service cleanly; SIGHUP only says that a reload needs a restart."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    def on_hup(_signum: int, _frame: object) -> None:  # Python's default for SIGHUP is to terminate
        log.warning("SIGHUP: config reload is not supported; restart the service")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_hup)
    return stop


def _open_storage(cfg: Config) -> tuple[AuditLog, AggregateStore]:
    """Storage first: a read-only or full disk is a start-up error, before any camera is opened."""
    from edgeanon.guidebook.audit.writer import AuditLog
    from edgeanon.outputs.store import AggregateStore

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
    return audit, store


def _build(
    cfg: Config, opts: RunOptions, audit: AuditLog, store: AggregateStore
) -> tuple[Wired, InstallerMode, WebServer]:
    """The runner with its sinks, and the web server bound but not yet serving."""
    from edgeanon.run.wiring import web_app, wire
    from edgeanon.web.server import WebServer
    from edgeanon.web.setup import InstallerMode

    log.info("loading and warming up the detector")
    wired = wire(cfg, store, quiet=opts.quiet, audit=audit)
    installer = InstallerMode(cfg.setup_until_ts())
    app = web_app(cfg, wired, audit, installer)
    host = cfg.http.host
    port = cfg.http.port if opts.port is None else opts.port
    tls = (cfg.http.tls.cert, cfg.http.tls.key) if cfg.http.tls is not None else None
    try:
        web = WebServer(app, host, port, tls=tls)
    except OSError as exc:
        raise EdgeanonError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    _warn_exposure(cfg, web.port)  # the port actually bound: with port 0 the configured one says nothing
    return wired, installer, web


def _record_start(
    cfg: Config, opts: RunOptions, audit: AuditLog, runner: Runner, installer: InstallerMode, web: WebServer
) -> None:
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


def _supervise(
    opts: RunOptions,
    stop: threading.Event,
    wired: Wired,
    audit: AuditLog,
    installer: InstallerMode,
    notifier: sdnotify.Notifier,
) -> str:
    """Turn the supervisor loop until a signal, the duration or the end of every source; returns why it stopped."""
    runner = wired.runner
    started = time.monotonic()
    next_status = started + opts.status_every
    next_audit_purge = started + AUDIT_PURGE_EVERY_S
    while not stop.is_set():
        runner.tick()
        notifier.tick()
        now = time.monotonic()
        if opts.duration is not None and now - started >= opts.duration:
            log.info("duration of %.0f s reached: stopping", opts.duration)
            return "duration"
        if runner.all_finished():
            log.info("every camera has finished: stopping")
            return "sources finished"
        if not opts.quiet and now >= next_status:
            _status_line(runner, wired.console)
            next_status = now + opts.status_every
        if installer.expired_now():
            audit.record("setup_mode", state="off", reason="expired", until=_iso_utc(installer.until))
            log.warning("installer mode expired: /setup is off")
        if now >= next_audit_purge:
            audit.purge()
            next_audit_purge = now + AUDIT_PURGE_EVERY_S
        stop.wait(0.25)
    return "signal"


def _shut_down(wired: Wired, web: WebServer, audit: AuditLog, notifier: sdnotify.Notifier, reason: str) -> None:
    """Flush the current bucket to every sink, stop serving, and close the audit log with the stop record."""
    runner, store_sink = wired.runner, wired.store_sink
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
        fates = f"inferred {c['inferred']}, dropped {c['dropped']}, idle {c['idle']}"
        text = f"{s.camera} {state} {s.fps:4.1f} fps ({fates}) {zones} {lines}"
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
