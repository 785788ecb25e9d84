"""Human-readable bucket summaries on stdout: what an operator watching `edgeanon run` sees."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from edgeanon.counting.results import Bucket, CameraBucket, LiveCounts


class ConsoleSink:
    name = "console"

    def __init__(self, timezone: str, stream: TextIO | None = None, k: int | None = None) -> None:
        self._tz = ZoneInfo(timezone)
        self._out = stream or sys.stdout
        # Said once, in the first summary, whatever was withheld: a breakdown that never shows up then reads as
        # "held back", not "broken". Saying *when* something was withheld would itself give a count away.
        self._note = None if k is None else withheld_note(k)

    def on_frame(self, live: LiveCounts) -> None:
        pass

    def on_bucket(self, bucket: Bucket) -> None:
        start = datetime.fromtimestamp(bucket.start, self._tz).strftime("%Y-%m-%d %H:%M:%S%z")
        kind = "partial bucket (flushed at shutdown)" if bucket.partial else "bucket"
        lines = [
            f"{kind} {start} +{bucket.length}s: site in {bucket.site_in} out {bucket.site_out}, "
            f"occupancy {bucket.site_occupancy}"
        ]
        for cam, cb in bucket.cameras.items():
            f = cb.frames
            down = ""
            if cb.down_s > 0 and cb.down_since is not None:  # "we did not look", not "nobody came"
                since = datetime.fromtimestamp(cb.down_since, self._tz).strftime("%Y-%m-%d %H:%M:%S%z")
                down = f"DOWN since {since} ({cb.down_s:.0f} s of this bucket), "
            parts = [
                f"  {cam}: {down}frames {f['inferred']} inferred / {f['captured']} captured "
                f"({f['dropped']} dropped, {f['skipped']} skipped, {f['idle']} idle)"
                + (
                    f", people mean {cb.occupancy_mean:.1f} max {cb.occupancy_max}"
                    if "camera_occupancy" in cb.outputs
                    else ""
                )
            ]
            parts += [
                f"zone {z}"
                + (f" mean {zb.occupancy_mean:.1f} max {zb.occupancy_max}" if "zone_occupancy" in cb.outputs else "")
                + (f" dwell n={zb.dwell_count}" if "zone_dwell" in cb.outputs else "")
                for z, zb in cb.zones.items()
            ]
            parts += [f"line {ln} in {lb.in_} out {lb.out}" for ln, lb in cb.lines.items()]
            parts += _attribute_parts(cb)
            lines.append("; ".join(parts))
        if self._note:
            lines.append(self._note)
            self._note = None
        self._out.write("\n".join(lines) + "\n")
        self._out.flush()

    def close(self) -> None:
        pass


def withheld_note(k: int) -> str:
    return (
        f"  (privacy.k = {k}: a heatmap cell, dwell histogram, queue wait or breakdown counted from fewer than {k} "
        "people in a bucket is withheld, and no summary says which)"
    )


def _attribute_parts(cb: CameraBucket) -> list[str]:
    """``heading road: n 5, se 7`` per kind and place, from the bucket after k-suppression (withheld families are
    simply absent)."""
    by: dict[tuple[str, str], list[str]] = {}
    for (kind, place, bin_), n in sorted(cb.attributes.items()):
        by.setdefault((kind, place), []).append(f"{bin_} {n}")
    return [f"{kind} {place}: {', '.join(bins)}" for (kind, place), bins in by.items()]
