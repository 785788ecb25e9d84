"""What a runner's results go to, built in one place for `edgeanon run`, `edgeanon bench` and the soak.

The sinks are built before the runner and handed to it whole, in flush order, so nothing attaches a sink to a
running aggregator. The ones that read runner state (camera statuses) are given a callable that answers once
the runner exists. The web app is built here too, from the same objects. (The settings of the counting and
pixel stages are built from the config in ``run.settings``.)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from edgeanon.errors import EdgeanonError

if TYPE_CHECKING:
    import numpy as np

    from edgeanon.config.schema import Config
    from edgeanon.guidebook.audit.writer import AuditLog
    from edgeanon.outputs.console import ConsoleSink
    from edgeanon.outputs.live import CameraStatus
    from edgeanon.outputs.mqtt import MqttSink
    from edgeanon.outputs.prometheus import PrometheusSink
    from edgeanon.outputs.push import PushSink
    from edgeanon.outputs.store import AggregateStore, StoreSink
    from edgeanon.pixels.detector import PersonDetector
    from edgeanon.run.runner import Runner
    from edgeanon.web.server import App, Handler
    from edgeanon.web.setup import InstallerMode
    from edgeanon.web.status_sink import StatusSink

LIVENESS_S = 10.0  # /healthz fails when the supervisor loop has not turned for this long


@dataclass
class Wired:
    """A runner and everything its results go to; ``sinks`` is the order the runner flushes them in."""

    runner: Runner
    store: AggregateStore
    store_sink: StoreSink
    console: ConsoleSink | None
    prometheus: PrometheusSink
    live: StatusSink
    mqtt: MqttSink | None
    push: PushSink | None

    def start(self) -> None:
        """The runner first, then the network outputs, which only send what the runner produces."""
        self.runner.start()
        if self.mqtt is not None:
            self.mqtt.start()
        if self.push is not None:
            self.push.start()


class _LateStatuses:
    """The runner's camera statuses for the sinks built before it: none until ``runner`` is set."""

    def __init__(self) -> None:
        self.runner: Runner | None = None

    def statuses(self) -> list[CameraStatus]:
        return [] if self.runner is None else self.runner.statuses()


def wire(
    cfg: Config,
    store: AggregateStore,
    *,
    quiet: bool = True,
    audit: AuditLog | None = None,
    detectors: Sequence[PersonDetector] | None = None,
) -> Wired:
    """Build the sinks ``edgeanon run`` attaches (the console only without ``quiet``), then the runner with them.

    Without ``detectors`` the runner loads and warms up its own, as ``edgeanon run`` does.
    """
    from edgeanon.outputs.console import ConsoleSink
    from edgeanon.outputs.store import StoreSink
    from edgeanon.run.runner import Runner
    from edgeanon.run.views import site_view
    from edgeanon.web.status_sink import StatusSink

    late = _LateStatuses()
    store_sink = StoreSink(store)
    console = None if quiet else ConsoleSink(cfg.aggregation.timezone, k=cfg.privacy.k)
    prom = _prometheus_sink(cfg, _model_sha256(cfg, detectors), late.statuses)
    prom.registry.register(_StoreHealth(store_sink))
    if audit is not None:
        prom.registry.register(_AuditHead(audit))
    live = StatusSink(site_view(cfg))
    live.seed(store.rows(live.midnight()))  # today's crossings from earlier runs
    push = _push_sink(cfg, prom) if cfg.push is not None else None
    mqtt = mqtt_sink(cfg, late) if cfg.mqtt is not None else None
    if mqtt is not None:
        from edgeanon.outputs.mqtt import MqttHealth

        prom.registry.register(MqttHealth(mqtt))
    # push last: its close() pushes the bucket the others just flushed
    sinks = [s for s in (store_sink, console, prom, live, mqtt, push) if s is not None]
    runner = Runner(cfg, sinks, detectors=detectors)
    late.runner = runner
    return Wired(runner, store, store_sink, console, prom, live, mqtt, push)


def _model_sha256(cfg: Config, detectors: Sequence[PersonDetector] | None) -> str:
    """The model's sha256 for ``edgeanon_build``, known before the runner loads the model: the manifest entry that
    the runner then checks the file's bytes against."""
    if detectors:
        return detectors[0].entry.sha256
    from edgeanon.pixels.detector.manifest import resolve

    return resolve(cfg.detector.model)[1].sha256


def _prometheus_sink(cfg: Config, model_sha256: str, statuses: Callable[[], Iterable[CameraStatus]]) -> PrometheusSink:
    from edgeanon.outputs.prometheus import PrometheusSink

    layout = {
        c.id: ([z.name for z in c.zones], [ln.name for ln in c.lines], [z.name for z in c.zones if z.queue])
        for c in cfg.cameras
    }
    heat = next(((c.heatmap.rows, c.heatmap.cols) for c in cfg.cameras if c.heatmap), None)
    return PrometheusSink(layout, model_sha256, statuses, heatmap_shape=heat, purposes=cfg.purpose_ids)


def _push_sink(cfg: Config, prom: PrometheusSink) -> PushSink:
    from edgeanon.outputs.push import PushSink

    p = cfg.push
    assert p is not None
    return PushSink(
        p.url,
        p.interval_s,
        {"store": p.store, "device": p.device},
        prom.registry,
        timeout_s=p.timeout_s,
        job=p.job,
        username=p.username,
        password=p.read_password("push"),
    )


def mqtt_sink(cfg: Config, runner) -> MqttSink:
    """The MQTT sink for ``cfg.mqtt`` (not started), with the password read from wherever the config says;
    ``runner`` is anything with the runner's ``statuses``."""
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


# ---------------------------------------------------------------- the web app


def web_app(cfg: Config, wired: Wired, audit: AuditLog, installer: InstallerMode) -> App:
    """/metrics, /healthz and /readyz, with the status, setup and notice pages, behind the configured auth."""
    from edgeanon.web.server import App, BasicAuth, liveness, readiness
    from edgeanon.web.setup import SETUP_CSP

    runner = wired.runner

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
        wired.prometheus.registry,
        health,
        ready,
        auth=BasicAuth({u.name: u.password_hash.get_secret_value() for u in auth.users}) if auth else None,
        open_paths=open_paths,
    )
    app.routes.update(_pages(cfg, wired, installer))
    app.csp["/setup"] = SETUP_CSP
    return app


def _pages(cfg: Config, wired: Wired, installer: InstallerMode) -> dict[str, Handler]:
    from edgeanon.guidebook.notice.render import NOTICE_CONTENT_TYPE, render_notice
    from edgeanon.run.views import site_view
    from edgeanon.web.live_boxes import ThrottledBoxes
    from edgeanon.web.setup import SetupPage
    from edgeanon.web.status import StatusPage

    statuses = wired.runner.statuses
    status_page = StatusPage(site_view(cfg), statuses, wired.live, rows=wired.store.rows, installer=installer)
    setup_page = SetupPage(site_view(cfg), statuses, ThrottledBoxes(setup_boxes(wired.runner)))

    def setup(environ: dict[str, Any]) -> tuple[int, str, bytes]:
        if not installer.active():  # off unless http.setup_until is set and has not passed
            return 404, "text/plain; charset=utf-8", b"not found\n"
        return 200, "text/html; charset=utf-8", setup_page.render().encode()

    def notice(environ: dict[str, Any]) -> tuple[int, str, bytes]:
        q = parse_qs(environ.get("QUERY_STRING", ""))
        lang = "en" if q.get("lang", ["ja"])[0] == "en" else "ja"
        fmt = "txt" if q.get("format", ["html"])[0] == "txt" else "html"
        body = render_notice(cfg, lang, fmt, other_lang_href="?lang={lang}")
        return 200, NOTICE_CONTENT_TYPE[fmt], body.encode()

    return {
        "/": lambda environ: (200, "text/html; charset=utf-8", status_page.render().encode()),
        "/setup": setup,
        "/notice": notice,
    }


def setup_boxes(runner: Runner):
    """What /setup draws per camera: the counting object's last confirmed boxes, or none once the camera has
    delivered no frame for ``BOX_MAX_AGE_S`` (it stopped: its last boxes are not the people there now)."""
    from edgeanon.web.live_boxes import BOX_MAX_AGE_S

    def boxes(cam: str) -> np.ndarray | None:
        a = runner.analytics.get(cam)
        st = next((s for s in runner.statuses() if s.camera == cam), None)
        if a is None or st is None or st.last_frame is None or time.monotonic() - st.last_frame > BOX_MAX_AGE_S:
            return None
        return a.last_boxes

    return boxes


# ---------------------------------------------------------------- registry extras, read at scrape time


class _AuditHead:
    """The audit log's last sequence number, read at scrape time (its hash is on /readyz: a hash is no number)."""

    def __init__(self, audit: AuditLog) -> None:
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

    def __init__(self, sink: StoreSink) -> None:
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
