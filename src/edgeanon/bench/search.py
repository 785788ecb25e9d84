"""The largest camera count that holds, found by measuring: grow, then bisect, within a time budget.

Every count it reports was run and held; nothing is extrapolated. The load a run measured (the detector's
busy share, the CPU it used) only chooses which count to run next, so the search reaches the edge in a few
runs instead of walking up one camera at a time. A count that held once and failed when run again counts as
failed: the answer is the largest count below every failure that held each time it ran.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

MAX_CAMERAS = 64  # as `edgeanon bench --cameras`


@dataclass
class Budget:
    """Wall-clock seconds for a whole search; a run starts only if one like the longest so far still fits."""

    seconds: float
    first_guess_s: float
    started: float = field(default_factory=time.monotonic)
    longest_s: float = 0.0

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def next_run_s(self) -> float:
        return self.longest_s or self.first_guess_s

    def allows(self, share: float = 1.0) -> bool:
        """Whether one more run ends within ``share`` of the budget."""
        return self.elapsed() + self.next_run_s() <= share * self.seconds

    def spent(self, run_s: float) -> None:
        self.longest_s = max(self.longest_s, run_s)


@dataclass
class Search:
    """One configuration's runs by camera count, and the count to run next."""

    start: int = 1
    limit: int = MAX_CAMERAS
    runs: dict[int, list[bool]] = field(default_factory=dict)
    estimate: int | None = None  # from the load of the last run: where the busiest resource would be full
    last_held: bool = False

    def record(self, result: dict[str, Any], usable_cpus: int) -> None:
        n = result["cameras"]
        self.runs.setdefault(n, []).append(bool(result["holds"]))
        self.estimate = load_estimate(result, usable_cpus)
        self.last_held = bool(result["holds"])

    @property
    def first_fail(self) -> int | None:
        """The smallest count that failed at least once."""
        return min((n for n, held in self.runs.items() if not all(held)), default=None)

    @property
    def largest_held(self) -> int:
        """The largest count below every failure that held each time it ran; 0 if none."""
        hi = self.first_fail
        return max((n for n, held in self.runs.items() if all(held) and (hi is None or n < hi)), default=0)

    @property
    def upper(self) -> int:
        """The most cameras this configuration could still turn out to hold."""
        hi = self.first_fail
        return self.limit if hi is None else hi - 1

    @property
    def confirmed(self) -> bool:
        """Its answer ran at least twice and held every time (one run at the edge can hold by luck)."""
        return len(self.runs.get(self.largest_held, [])) >= 2

    @property
    def done(self) -> bool:
        hi, lo = self.first_fail, self.largest_held
        return (hi is not None and hi <= lo + 1) or lo >= self.limit

    def next_count(self) -> int | None:
        """Grow from ``start`` until a count fails, then bisect; None when the edge is found.

        After a run that held, its load says how far there is to go (growth at most x4); after a failure the
        load is saturated and says nothing, so the next count is the middle of what is left."""
        if not self.runs:
            return max(1, min(self.start, self.limit))
        if self.done:
            return None
        lo, hi = self.largest_held, self.first_fail
        top = self.limit if hi is None else hi - 1
        if self.estimate is None or not self.last_held:
            n = min(top, max(2 * lo, lo + 1)) if hi is None else (lo + hi) // 2
        else:
            n = min(self.estimate, max(4 * lo, lo + 1))
        return max(lo + 1, min(top, n))

    def bounds(self) -> str:
        """What is known: ``4`` (5 failed), ``>= 6`` (nothing failed yet), ``3 (4-5 untested)`` (the budget ended)."""
        lo, hi = self.largest_held, self.first_fail
        if hi is None:
            return f">= {lo}" if lo else "not measured"
        if hi == lo + 1:
            return str(lo)
        return f"{lo} ({lo + 1} untested)" if hi == lo + 2 else f"{lo} ({lo + 1}-{hi - 1} untested)"


def load_estimate(result: dict[str, Any], usable_cpus: int) -> int | None:
    """The count at which the run's busiest resource (the detector sessions, or the CPUs) would be fully used."""
    load = max(result.get("worker_busy", 0.0), result.get("cpu_cores", 0.0) / max(usable_cpus, 1))
    if not load > 0:
        return None
    return max(1, math.floor(result["cameras"] / load))
