"""A coarse presence grid: how many different people stood in each cell during a bucket, at most 8 x 8 cells.

Coarse on purpose: with at most 64 cells over the frame a cell cannot trace one person's path, and the grid
size is fixed by config, so it is an aggregate like any other count.

A cell counts **people, not person-frames**: each confirmed track counts once per cell per bucket, however
long it stands there. That is what makes small-cell suppression mean what it says (a shopper standing still
for 10 s at 10 fps is 1 person, not 100, and stays below k). The state is one 64-bit mask per tracker slot
(bit ``row * cols + col`` = "already counted in this cell in this bucket"), so memory is bounded by the
tracker's capacity however many people pass:

- the masks are cleared when the bucket changes (``update``'s ``bucket`` argument is the aggregation bucket
  the frame will be recorded in), so each bucket counts everyone present in it afresh;
- a slot's mask is cleared when the tracker hands the slot to a new track (``tu.started``), so a reused slot
  never inherits the previous person's cells: a new track is a new person, counted again.

Per frame ``update`` adds each track's *first* visit to a cell in this bucket, so the frames' counts sum, in
the aggregator, to distinct tracks per cell per bucket. No cell can exceed the number of distinct confirmed
tracks seen in the bucket.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edgeanon.counting.analytics.geometry import FrameSize, ground_xy
from edgeanon.counting.tracks import TrackUpdate

MAX_CELLS_PER_SIDE = 8  # 64 cells: one bit each in a uint64 mask per track slot


class PresenceGrid:
    """Counts each confirmed, matched track once per cell (of its anchor, bottom-centre) per bucket."""

    __slots__ = ("_bits", "_bucket", "_counts", "_sx", "_sy", "cols", "frame_size", "rows")

    def __init__(self, rows: int, cols: int, frame_size: FrameSize, capacity: int = 256) -> None:
        if not (1 <= rows <= MAX_CELLS_PER_SIDE and 1 <= cols <= MAX_CELLS_PER_SIDE):
            raise ValueError(f"grid must be 1..{MAX_CELLS_PER_SIDE} cells per side, got {rows} x {cols}")
        w, h = int(frame_size[0]), int(frame_size[1])
        if w <= 0 or h <= 0:
            raise ValueError(f"frame size must be positive, got {frame_size}")
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self.rows, self.cols, self.frame_size = rows, cols, (w, h)
        self._sx, self._sy = cols / w, rows / h
        self._counts = np.zeros(rows * cols, np.int64)
        self._bits = np.zeros(capacity, np.uint64)  # per slot: cells already counted in this bucket
        self._bucket: int | None = None

    def update(self, tu: TrackUpdate, bucket: int = 0) -> None:
        """Add this frame's first visits (in ``bucket``) of confirmed tracks to their cells."""
        if bucket != self._bucket:
            self._bits[:] = 0  # a new bucket counts everyone present in it again
            self._bucket = bucket
        if tu.started.size:
            self._bits[tu.started] = 0  # a reused slot is a new person
        if not np.count_nonzero(tu.confirmed):
            return
        x, y = ground_xy(tu.dets.xyxy[tu.confirmed])
        # anchors on or beyond the far frame edge (clipped boxes have y2 == height) go to the last cell
        col = np.maximum(np.minimum((x * self._sx).astype(np.intp), self.cols - 1), 0)  # np.clip is 3x slower
        row = np.maximum(np.minimum((y * self._sy).astype(np.intp), self.rows - 1), 0)
        cell = row * self.cols + col
        slot = tu.slot[tu.confirmed]
        bit = np.left_shift(np.uint64(1), cell.astype(np.uint64))
        new = (self._bits[slot] & bit) == 0  # one row per track in a frame, so no slot repeats here
        self._bits[slot] |= bit
        self._counts += np.bincount(cell[new], minlength=self._counts.size)

    def drain(self) -> npt.NDArray[np.int64]:
        """People newly counted per cell (rows, cols) since the previous drain; row 0 is the top of the frame."""
        out = self._counts.reshape(self.rows, self.cols).copy()
        self._counts[:] = 0
        return out
