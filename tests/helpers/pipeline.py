"""Run the real pipeline over the bundled clip in-process, recording what reaches the sinks."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import yaml

from edgeanon.config.loader import parse_config
from edgeanon.config.schema import Config
from edgeanon.counting.results import Bucket, FrameResult, LiveCounts
from edgeanon.run.runner import Runner
from tests.helpers.paths import DEFAULT_CONFIG


@dataclass
class RecordingSink:
    """Keeps every live view and bucket, in arrival order (one worker: arrival order = frame order)."""

    name: str = "recording"
    frames: list[LiveCounts] = field(default_factory=list)
    buckets: list[Bucket] = field(default_factory=list)
    closed: bool = False

    def on_frame(self, live: LiveCounts) -> None:
        self.frames.append(live)

    def on_bucket(self, bucket: Bucket) -> None:
        self.buckets.append(bucket)

    def close(self) -> None:
        self.closed = True


def clip_config(**overrides: object) -> Config:
    """The shipped default config, but reading the clip once, as fast as possible (files keep media time)."""
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    src = data["cameras"][0]["source"]
    src.update({"realtime": False, "loop": False})
    for key, value in overrides.items():
        data[key] = value
    return parse_config(yaml.safe_dump(data), "test-config")


def run_to_end(cfg: Config, sinks=(), timeout: float = 240.0, raw: RawObserver | None = None) -> Runner:
    """Blocking mode: every decoded frame is inferred; returns the stopped runner. ``raw`` sees the analytics'
    own per-frame results (sinks get crossings, dwell and attributes only in closed buckets)."""
    runner = Runner(cfg, list(sinks))
    if raw is not None:
        raw.attach(runner)
    runner.start()
    deadline = time.monotonic() + timeout
    while not runner.all_finished():
        if time.monotonic() > deadline:
            runner.stop()
            raise TimeoutError("pipeline did not finish the clip")
        runner.tick()
        time.sleep(0.05)
    runner.stop()
    return runner


@dataclass
class RawObserver:
    """What analytics produced before the aggregator (sinks only see the suppressed buckets and a live view
    without dwell, heatmap or attribute counts): every raw FrameResult, and per aggregation bucket the ids of
    the confirmed tracks seen in it. Test-side only, it wraps each camera's ``analyse`` and changes nothing."""

    results: list[FrameResult] = field(default_factory=list)
    confirmed: dict[int, set[int]] = field(default_factory=dict)  # bucket start -> confirmed track ids

    def attach(self, runner: Runner) -> RawObserver:
        for analytics in runner.analytics.values():
            analytics.analyse = self._wrap(analytics.analyse)  # type: ignore[method-assign]
        return self

    def _wrap(self, analyse):
        def observed(tracked, timings, estimates=None, bucket=0):
            tu = tracked.tu
            if tu.dets.track_id is not None and tu.confirmed.any():
                self.confirmed.setdefault(bucket, set()).update(tu.dets.track_id[tu.confirmed].tolist())
            result = analyse(tracked, timings, estimates, bucket)
            self.results.append(result)
            return result

        return observed
