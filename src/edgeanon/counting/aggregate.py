"""Time buckets of per-camera aggregates: the single layer between analytics and every sink.

Analytics report per-frame numbers; this module folds them into wall-clock-aligned buckets and
hands closed buckets to the sinks. Nothing here knows about tracks or pixels.

Small-cell suppression (``suppress``) happens here, once, before any sink sees a bucket
-------------------------------------------------------------------------------------------

**What a bucket publishes, per camera.** Plain counts, never suppressed: frame fates; camera and zone
occupancy (sum, frames, max: person-frames, not people); line in/out; site in/out and occupancy; the attribute
stage's outcomes. Protected values, suppressed below ``k``: heatmap cells (people per cell); each zone's dwell
histogram (counts and sum); each zone's queue-wait median; attribute *families*, a family being one kind at
one place, e.g. (age_band, "door") with its 6 bins.

**Linear relations an attacker can use, in one bucket** (every family is counted over events that other
published numbers also count; cross tabulations are never published):

- a family's bins sum to its total, and that total is tied to other published numbers: speed(z) sums to the
  visits of zone z that lasted 0.5 s or more, so to the dwell count n(z) when no visit was that short;
  heading(z), age_band(z) and gender(z) sum to at most n(z); age_band(l) and gender(l) to at most in(l) +
  out(l); group sizes weighted by size (4+ counting 4 or more) to in(l) + out(l);
- age_band(p) and gender(p) at the same place count the same estimated people, so their totals are equal;
- heatmap cells sum to at most the person-frames (occupancy sum); no published number is their exact total.

**The rule.**

1. A heatmap cell with 0 < n < k is published as 0, like a cell nobody stood in. How many cells were hidden
   is not published, so a hidden cell always has the completion 0.
2. A zone's dwell histogram (and its sum) from 0 < n < k visits is published as empty, like a zone nobody
   left; a queue-wait median of fewer than k people is not published (None).
3. An attribute family is published whole only if every non-zero bin counts at least k; otherwise *every*
   bin of it is withheld (complementary suppression of the whole family: no lone missing bin for a total to
   give away). Families whose totals are equal by construction (age_band and gender at one place) are
   published or withheld together, so one cannot supply the other's total. Group sizes at a line are also
   withheld while the line has fewer than 2k crossings in the bucket: so few crossings have so few ways to
   form groups that the one the rule withholds could be singled out (2 crossings at k = 2 can only be
   withheld as one group of 2, since two groups of 1 would be published).
4. Withheld values look exactly like zeros, and how many were withheld is not published: "a family was
   withheld" would say its total is at least 1, which with a withheld dwell histogram pins visits down.

**Why a withheld value stays undetermined.** A withheld family is tied to published numbers only through its
total, and the rule looks only at the multiset of its bins. So swapping two unequal bins of it gives another
completion consistent with everything published, and no bin that differs from another bin of its family can
be determined. Where that argument stops (a family whose bins are all equal; group sizes, which are weighted),
``tests/counting/test_suppression.py`` settles it: it searches every completion of every withheld value, with every
relation above, over random small populations. Values that the plain counts fix on their own are public by
policy (one crossing in a bucket *is* one group of 1); the test exempts only those.

**Not covered by this rule: live values.** Sinks get, per frame, only instantaneous plain counts (occupancy,
queue length, site occupancy, a queue wait of at least k people); crossings, dwell, heatmap and attributes
reach them only in closed buckets. But a gauge sampled often enough still shows when one person entered and
left a zone, so the live gauges' resolution in time is outside what this rule protects.

**Later aggregations** (roll-ups over hours or days, exports, a bucket stored in two parts around a restart)
must be sums of already suppressed buckets, never of raw ones, with ``suppress`` applied again to the sum. On
a sum of suppressed buckets it withholds nothing new (every published value is 0 or at least k, and so is a
sum of them), and the sum is a function of published numbers only, so it reveals nothing the buckets did not.
Queue-wait medians do not add up; a roll-up can only repeat one already published (``rollup`` keeps the last).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from edgeanon.counting.analytics.zones import DwellHistogram
from edgeanon.counting.bins import DWELL_BUCKETS_S, FACE_OUTCOMES, KINDS
from edgeanon.guidebook import policy

log = logging.getLogger("edgeanon.aggregate")
DIRECTIONS = ("in", "out")
FATES = ("captured", "inferred", "dropped", "skipped")
AttributeKey = tuple[str, str, str]  # (kind, place, bin): a key of bins.KINDS, a zone or line name, one of its bins
# Where each kind may be counted: heading and speed per zone visit, group size per line, age and gender either.
_PLACES = {"heading": "zones", "speed": "zones", "group_size": "lines", "age_band": "both", "gender": "both"}


@dataclass
class ZoneBucket:
    occupancy_sum: int = 0
    occupancy_frames: int = 0
    occupancy_max: int = 0
    dwell_counts: list[int] = field(default_factory=lambda: [0] * len(DWELL_BUCKETS_S))  # per bucket, not cumulative
    dwell_sum: float = 0.0
    queue_wait_s: float | None = None
    queue_wait_n: int = 0  # people the queue wait is the median of (below k it is withheld)

    @property
    def occupancy_mean(self) -> float:
        return self.occupancy_sum / self.occupancy_frames if self.occupancy_frames else 0.0

    @property
    def dwell_count(self) -> int:
        return sum(self.dwell_counts)


@dataclass
class LineBucket:
    in_: int = 0
    out: int = 0


@dataclass
class CameraBucket:
    frames: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FATES, 0))
    occupancy_sum: int = 0
    occupancy_frames: int = 0
    occupancy_max: int = 0
    zones: dict[str, ZoneBucket] = field(default_factory=dict)
    lines: dict[str, LineBucket] = field(default_factory=dict)
    heatmap: np.ndarray | None = None  # people per cell (distinct tracks); cells below k are 0
    # (kind, place, bin) -> people or groups; after suppression only whole families whose bins are all >= k.
    # How many were withheld is not published: even "some family was withheld" tells that its total is >= 1.
    attributes: dict[AttributeKey, int] = field(default_factory=dict)
    # attribute stage outcomes (bins.FACE_OUTCOMES -> tracks), only with the purpose "attributes": how many
    # confirmed tracks were estimated and why the others were not (a processing count, not a person attribute)
    faces: dict[str, int] = field(default_factory=dict)
    # seconds of this bucket the camera was down (failed, not looking), and since when (Unix time): an empty
    # aisle and a camera that saw nothing look the same in every other number
    down_s: float = 0.0
    down_since: float | None = None
    # the outputs its purposes allow (policy.OUTPUTS names): sinks write nothing for the others, not even zeros
    outputs: frozenset[str] = policy.OUTPUTS

    @property
    def occupancy_mean(self) -> float:
        return self.occupancy_sum / self.occupancy_frames if self.occupancy_frames else 0.0


@dataclass
class Bucket:
    """One closed (or, at shutdown, partial) time bucket; ``start`` is Unix seconds, aligned to ``length``."""

    start: int
    length: int
    cameras: dict[str, CameraBucket]
    site_in: int = 0
    site_out: int = 0
    site_occupancy: int = 0  # at the end of the bucket
    partial: bool = False
    outputs: frozenset[str] = policy.OUTPUTS  # what the purposes allow; sinks write nothing for the rest


@dataclass(slots=True)
class FrameResult:
    """What analytics produced for one inferred frame of one camera."""

    camera: str
    occupancy: int | None  # None when the occupancy purpose is not declared
    zone_occupancy: dict[str, int]
    crossings: dict[str, tuple[int, int]]  # line -> (in, out) in this frame
    dwell: dict[str, DwellHistogram]  # zone -> dwell observed in this frame (fixed buckets, no track ids)
    queue_length: dict[str, int]  # queue zone -> people in it
    queue_wait: dict[str, float | None]  # queue zone -> current wait estimate
    queue_wait_n: dict[str, int] = field(default_factory=dict)  # queue zone -> people the estimate is over
    # people first seen in each heatmap cell in this frame, counted once per cell per bucket ``heat_bucket``
    heat: np.ndarray | None = None
    heat_bucket: int | None = None  # the bucket start the heat's distinct count refers to (open_bucket)
    inference_s: float = 0.0
    # (kind, place, bin) -> count in this frame: kind a key of attributes.bins.KINDS, place a zone or line name
    # from the config, bin one of KINDS[kind]. Counts of visits/crossings/groups, never of a track.
    attributes: dict[AttributeKey, int] = field(default_factory=dict)


class Sink(Protocol):
    """Receives aggregates only. ``on_frame`` is optional live feedback with instantaneous plain counts only
    (occupancy, queue length, a queue wait of at least k people): crossings, dwell, heatmap and attribute counts
    are stripped from it and reach sinks only in ``on_bucket``, after suppression."""

    name: str

    def on_frame(self, result: FrameResult, site_occupancy: int) -> None: ...

    def on_bucket(self, bucket: Bucket) -> None: ...

    def close(self) -> None: ...


class Aggregator:
    """Thread-safe: workers call ``record``; the supervisor calls ``tick`` and ``flush``."""

    def __init__(
        self,
        layout: dict[str, tuple[Sequence[str], Sequence[str]]],  # camera -> (zones, lines)
        bucket_seconds: int,
        sinks: Sequence[Sink],
        site_occupancy: Callable[[], int] | None = None,
        site_add: Callable[[int, int], None] | None = None,
        entrances: set[tuple[str, str]] | None = None,
        clock: Callable[[], float] = time.time,
        purposes: frozenset[str] = frozenset(policy.PURPOSES),
        k: int = 1,
    ) -> None:
        self.layout = layout
        self.purposes = frozenset(purposes)
        self.k = k
        self.length = bucket_seconds
        self.sinks = list(sinks)
        self._clock = clock
        self._lock = threading.Lock()
        self._site_value = site_occupancy or (lambda: 0)
        self._site_add = site_add
        self._entrances = entrances or set()
        self.buckets_closed = 0
        self.sink_errors = 0
        self.heat_dropped = 0  # frames whose heat arrived after their bucket closed (a race at the boundary)
        self._allowed = policy.allowed_outputs(self.purposes)
        self._current = self._new_bucket(self._bucket_start(clock()))

    def _bucket_start(self, now: float) -> int:
        return int(now // self.length) * self.length

    def _new_bucket(self, start: int) -> Bucket:
        cams = {
            cam: CameraBucket(
                zones={z: ZoneBucket() for z in zones},
                lines={ln: LineBucket() for ln in lines},
                outputs=self._allowed,
            )
            for cam, (zones, lines) in self.layout.items()
        }
        return Bucket(start, self.length, cams, outputs=self._allowed)

    def _check_purposes(self, result: FrameResult) -> None:
        """Run-time twin of the config check: a number whose purpose is not declared never reaches a sink."""
        wanted = (
            ("camera_occupancy", result.occupancy is not None),
            ("zone_occupancy", bool(result.zone_occupancy)),
            ("line_crossings", bool(result.crossings)),
            ("zone_dwell", bool(result.dwell)),
            ("queue_length", bool(result.queue_length)),
            ("queue_wait", bool(result.queue_wait)),
            ("heatmap", result.heat is not None),
        )
        for output, present in wanted:
            if present:
                policy.require(self.purposes, output)
        if result.attributes:
            self._check_attributes(result.camera, result.attributes)

    def _check_attributes(self, camera: str, attributes: dict[AttributeKey, int]) -> None:
        """Every label must be a fixed bin and a configured place, and its purpose declared (never from data)."""
        zones, lines = self.layout[camera]
        for key, n in attributes.items():
            kind, place, bin_ = key
            if kind not in KINDS or bin_ not in KINDS[kind]:
                raise ValueError(f"unknown attribute {kind!r} bin {bin_!r}")
            where = _PLACES[kind]
            ok = (place in zones and where != "lines") or (place in lines and where != "zones")
            if not ok:
                raise ValueError(f"attribute {kind!r}: {place!r} is not a configured place of camera {camera!r}")
            if n < 0:
                raise ValueError(f"attribute {key}: negative count {n}")
            policy.require(self.purposes, policy.ATTRIBUTE_OUTPUTS[kind])

    def record(self, result: FrameResult) -> None:
        self._check_purposes(result)
        closed = None
        with self._lock:
            closed = self._roll(self._clock())
            cb = self._current.cameras[result.camera]
            if result.occupancy is not None:
                cb.occupancy_sum += result.occupancy
                cb.occupancy_frames += 1
                cb.occupancy_max = max(cb.occupancy_max, result.occupancy)
            for name, n in result.zone_occupancy.items():
                zb = cb.zones[name]
                zb.occupancy_sum += n
                zb.occupancy_frames += 1
                zb.occupancy_max = max(zb.occupancy_max, n)
            for name, hist in result.dwell.items():
                zb = cb.zones[name]
                zb.dwell_counts = [a + int(b) for a, b in zip(zb.dwell_counts, hist.counts, strict=True)]
                zb.dwell_sum += hist.sum_s
            for name, wait in result.queue_wait.items():
                cb.zones[name].queue_wait_s = wait
                cb.zones[name].queue_wait_n = result.queue_wait_n.get(name, 0)
            for name, (n_in, n_out) in result.crossings.items():
                lb = cb.lines[name]
                lb.in_ += n_in
                lb.out += n_out
                if (result.camera, name) in self._entrances and (n_in or n_out):
                    self._current.site_in += n_in
                    self._current.site_out += n_out
                    if self._site_add is not None:
                        self._site_add(n_in, n_out)
            if result.heat is not None and result.heat_bucket in (None, self._current.start):
                cb.heatmap = result.heat.copy() if cb.heatmap is None else cb.heatmap + result.heat
            elif result.heat is not None:
                # counted against a bucket that closed meanwhile: adding it here could count someone twice
                self.heat_dropped += 1
            _add_attributes(cb, result.attributes)
            site = self._site_value()
        if closed is not None:
            self._publish(closed)
        live = self._live(result)
        for sink in self.sinks:
            self._call(sink, "on_frame", live, site)

    def open_bucket(self) -> int:
        """Start of the bucket a frame recorded now lands in, closing the previous one if its time is over.

        Analytics that count distinct people per bucket (the heatmap) key their state on it and pass it back
        in ``FrameResult.heat_bucket``; ``record`` drops heat counted against any other bucket."""
        with self._lock:
            closed = self._roll(self._clock())
            start = self._current.start
        if closed is not None:
            self._publish(closed)
        return start

    def _live(self, result: FrameResult) -> FrameResult:
        """What sinks may see per frame: instantaneous plain counts (occupancy, queue length, a queue wait of at
        least k people). Counted events (crossings, dwell, attributes) and the heatmap leave only in a closed,
        suppressed bucket: crossings timed to the frame would tell which crossings formed a group."""
        waits = {z: (w if result.queue_wait_n.get(z, 0) >= self.k else None) for z, w in result.queue_wait.items()}
        return dataclasses.replace(
            result, crossings={}, dwell={}, heat=None, heat_bucket=None, attributes={}, queue_wait=waits
        )

    def add_attributes(self, camera: str, attributes: dict[AttributeKey, int]) -> None:
        """Add attribute counts outside a frame (the analytics' flush at shutdown: pending groups), checked like
        ``record``; sinks see them only in the bucket, never as a frame. Call before ``flush``."""
        if not attributes:
            return
        self._check_attributes(camera, attributes)
        with self._lock:
            closed = self._roll(self._clock())
            _add_attributes(self._current.cameras[camera], attributes)
        if closed is not None:
            self._publish(closed)

    def count_faces(self, camera: str, outcomes: dict[str, int]) -> None:
        """Outcomes of the attribute stage for one frame of ``camera`` (labels from ``bins.FACE_OUTCOMES``)."""
        if not outcomes:
            return
        if not {"age_band", "gender"} & policy.allowed_outputs(self.purposes):
            policy.require(self.purposes, "age_band")  # raises: the stage must not run without the purpose
        unknown = set(outcomes) - set(FACE_OUTCOMES)
        if unknown:
            raise ValueError(f"unknown attribute stage outcome(s): {sorted(unknown)}")
        with self._lock:
            faces = self._current.cameras[camera].faces
            for k, n in outcomes.items():
                faces[k] = faces.get(k, 0) + n

    def count_frame(self, camera: str, fate: str, n: int = 1) -> None:
        """``n`` frames whose fate was decided now: their capture and their fate go into the same bucket."""
        if fate not in FATES or fate == "captured":
            raise ValueError(f"unknown frame fate {fate!r}")
        with self._lock:
            frames = self._current.cameras[camera].frames
            frames["captured"] += n
            frames[fate] += n

    def count_down(self, camera: str, seconds: float, since: float) -> None:
        """``camera`` has been down for the last ``seconds`` (since ``since``, Unix time). Capped at the time the
        current bucket has run: a report that straddles a boundary loses the closed bucket's share."""
        with self._lock:
            closed = self._roll(self._clock())
            cb = self._current.cameras[camera]
            span = max(0.0, self._clock() - self._current.start)
            cb.down_s = min(cb.down_s + max(0.0, seconds), span, float(self.length))
            cb.down_since = since
        if closed is not None:
            self._publish(closed)

    def tick(self) -> None:
        """Close the bucket if its time is over, even when no frame arrives (a camera is down)."""
        with self._lock:
            closed = self._roll(self._clock())
        if closed is not None:
            self._publish(closed)

    def _roll(self, now: float) -> Bucket | None:
        start = self._bucket_start(now)
        if start <= self._current.start:
            return None
        closed = self._current
        closed.site_occupancy = self._site_value()
        self._current = self._new_bucket(start)
        return closed

    def flush(self) -> Bucket:
        """Publish the current, partial bucket (shutdown); counting restarts in a fresh bucket."""
        with self._lock:
            partial = self._current
            partial.partial = True
            partial.site_occupancy = self._site_value()
            self._current = self._new_bucket(partial.start)
        self._publish(partial)
        return partial

    def _publish(self, bucket: Bucket) -> None:
        suppress(bucket, self.k)
        self.buckets_closed += 0 if bucket.partial else 1
        for sink in self.sinks:
            self._call(sink, "on_bucket", bucket)

    def _call(self, sink: Sink, method: str, *args: object) -> None:
        try:
            getattr(sink, method)(*args)
        except Exception:  # one broken sink must not stop counting or the other sinks
            self.sink_errors += 1
            log.exception("sink %s failed in %s", getattr(sink, "name", sink), method)

    def close(self) -> None:
        for sink in self.sinks:
            self._call(sink, "close")


def _add_attributes(cb: CameraBucket, attributes: dict[AttributeKey, int]) -> None:
    for key, n in attributes.items():
        if n:
            cb.attributes[key] = cb.attributes.get(key, 0) + int(n)


# Families published or withheld together because their totals are equal by construction (same people).
_COUPLED = (("age_band", "gender"),)


def suppress(bucket: Bucket, k: int) -> None:
    """Apply the small-cell rule (module docstring) to ``bucket`` in place, before any sink sees it.

    Idempotent, and safe to apply again to a sum of suppressed buckets (a roll-up): it withholds nothing new
    there.
    """
    for cb in bucket.cameras.values():
        _suppress_camera(cb, k)


def _suppress_camera(cb: CameraBucket, k: int) -> None:
    for key in [key for key, n in cb.attributes.items() if n == 0]:
        del cb.attributes[key]
    for zb in cb.zones.values():
        if zb.queue_wait_n < k:
            zb.queue_wait_s = None
    if k <= 1:
        return
    if cb.heatmap is not None:
        cb.heatmap[(cb.heatmap > 0) & (cb.heatmap < k)] = 0
    for zb in cb.zones.values():
        if 0 < zb.dwell_count < k:
            zb.dwell_counts = [0] * len(zb.dwell_counts)
            zb.dwell_sum = 0.0
    withheld = {(kind, place) for (kind, place, _), n in cb.attributes.items() if n < k}
    # group sizes partition the line's crossings: with fewer than 2k of them so few partitions exist that a
    # withheld family would be the only one the rule withholds (2 crossings at k = 2: one group of 2)
    withheld |= {
        (kind, place)
        for kind, place, _ in cb.attributes
        if kind == "group_size" and place in cb.lines and cb.lines[place].in_ + cb.lines[place].out < 2 * k
    }
    for a, b in _COUPLED:
        withheld |= {(b, p) for kind, p in withheld if kind == a} | {(a, p) for kind, p in withheld if kind == b}
    for key in [key for key in cb.attributes if key[:2] in withheld]:
        del cb.attributes[key]
