"""Push the metrics registry to a Prometheus Pushgateway, for boxes behind NAT that head office cannot scrape.

The push runs in its own daemon thread on a fixed interval, so a slow or dead gateway never delays the pipeline.
It PUTs the whole registry under the grouping key ``job/store/device`` (``push_to_gateway``), so the group always
mirrors what the device's own /metrics shows. The grouping values come from the config, never from data: one
group per device, however many people walk past.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from functools import partial

from prometheus_client import CollectorRegistry, Counter, push_to_gateway
from prometheus_client.exposition import basic_auth_handler, default_handler

from edgeanon.config.names import NAME_PATTERN, check_url

log = logging.getLogger("edgeanon.push")

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_RESERVED = frozenset({"job", "instance"})  # job is the path's first element; instance is the scraper's


def check_grouping(grouping: Mapping[str, str]) -> dict[str, str]:
    """Label names Prometheus accepts, values shaped like config names: bounded, and safe in a URL path."""
    out: dict[str, str] = {}
    for key, value in grouping.items():
        if not _LABEL_NAME.match(key) or key.startswith("__") or key in _RESERVED:
            raise ValueError(f"grouping key {key!r} is not an allowed label name")
        if not isinstance(value, str) or not re.match(NAME_PATTERN, value):
            raise ValueError(f"grouping value {value!r} for {key!r} must be a config name (a-z, 0-9, _ and -)")
        out[key] = value
    return out


class PushSink:
    """A sink that only owns a timer: the Prometheus sink keeps the registry current, this ships it.

    ``failures`` counts failed pushes (also exported as ``edgeanon_push_failures_total`` in the same registry, so
    the gateway shows them once a push gets through). ``close`` makes one last push, so the flushed partial bucket
    reaches head office, and never waits longer than ``timeout_s`` plus a little.
    """

    name = "push"

    def __init__(
        self,
        url: str,
        interval_s: float,
        grouping: Mapping[str, str],
        registry: CollectorRegistry,
        timeout_s: float = 3.0,
        job: str = "edgeanon",
        username: str | None = None,
        password: str | None = None,
        count_failures: bool = True,
        push: Callable[..., None] = push_to_gateway,
    ) -> None:
        if interval_s <= 0 or timeout_s <= 0:
            raise ValueError("interval_s and timeout_s must be positive")
        self.url = check_url(url)
        self.grouping = check_grouping(grouping)
        if not re.match(NAME_PATTERN, job):
            raise ValueError(f"job {job!r} must be a config name (a-z, 0-9, _ and -)")
        self.job = job
        self.interval_s = float(interval_s)
        self.timeout_s = float(timeout_s)
        self.registry = registry
        self._push = push
        self._handler: Callable[..., Callable[[], None]] = (
            default_handler
            if username is None
            else partial(basic_auth_handler, username=username, password=password or "")
        )
        self.failure_counter: Counter | None = None
        if count_failures:
            self.failure_counter = Counter(
                "edgeanon_push_failures", "Pushes to the Pushgateway that failed.", registry=registry
            )
        self.pushes = 0
        self.failures = 0
        self.last_error = ""
        self.last_success: float | None = None  # time.monotonic() of the last push that got through
        self._failing = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="push", daemon=True)

    def start(self) -> None:
        """Begin pushing: one push right away, then one every ``interval_s``."""
        self._thread.start()
        log.info("pushing metrics to %s every %.0f s as %s", self.url, self.interval_s, self.grouping)

    def push_now(self) -> bool:
        """One push, counted; True when the gateway accepted it. Never raises."""
        try:
            self._push(
                self.url,
                job=self.job,
                registry=self.registry,
                grouping_key=self.grouping,
                timeout=self.timeout_s,
                handler=self._handler,
            )
        except Exception as exc:  # any failure (DNS, refused, timeout, 4xx/5xx) is counted, never raised
            self.failures += 1
            if self.failure_counter is not None:
                self.failure_counter.inc()
            self.last_error = f"{type(exc).__name__}: {exc}"
            if not self._failing:
                log.warning("push to %s failed (retrying every %.0f s): %s", self.url, self.interval_s, self.last_error)
            self._failing = True
            return False
        self.pushes += 1
        self.last_success = time.monotonic()
        if self._failing:
            log.info("push to %s works again after %d failures", self.url, self.failures)
        self._failing = False
        return True

    def _loop(self) -> None:
        while True:
            self.push_now()
            if self._stop.wait(self.interval_s):
                break
        self.push_now()  # the final push, after the pipeline flushed its last bucket into the registry

    # Sink protocol: the registry is already current (the Prometheus sink updates it), so frames and buckets
    # need nothing here.
    def on_frame(self, result: object, site_occupancy: int) -> None:
        pass

    def on_bucket(self, bucket: object) -> None:
        pass

    def close(self) -> None:
        """Stop the timer and make the final push; bounded, so a dead gateway cannot hold up shutdown."""
        self._stop.set()
        if not self._thread.is_alive():
            if self._thread.ident is None:  # never started: still ship the final numbers once
                self.push_now()
            return
        self._thread.join(self.timeout_s + 0.5)
        if self._thread.is_alive():
            log.warning("final push to %s did not finish within %.1f s; giving up", self.url, self.timeout_s)
