"""A coarse presence grid: how many confirmed-person frames fell in each cell, at most 8 x 8 cells.

Coarse on purpose: with at most 64 cells over the frame a cell cannot trace one person's path, and the grid
size is fixed by config, so it is an aggregate like any other count.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edgeanon.analytics.geometry import FrameSize, ground_xy
from edgeanon.tracks import TrackUpdate

MAX_CELLS_PER_SIDE = 8


class PresenceGrid:
    """Adds 1 per frame to the cell holding each confirmed, matched track's anchor (bottom-centre)."""

    __slots__ = ("_counts", "_sx", "_sy", "cols", "frame_size", "rows")

    def __init__(self, rows: int, cols: int, frame_size: FrameSize) -> None:
        if not (1 <= rows <= MAX_CELLS_PER_SIDE and 1 <= cols <= MAX_CELLS_PER_SIDE):
            raise ValueError(f"grid must be 1..{MAX_CELLS_PER_SIDE} cells per side, got {rows} x {cols}")
        w, h = int(frame_size[0]), int(frame_size[1])
        if w <= 0 or h <= 0:
            raise ValueError(f"frame size must be positive, got {frame_size}")
        self.rows, self.cols, self.frame_size = rows, cols, (w, h)
        self._sx, self._sy = cols / w, rows / h
        self._counts = np.zeros(rows * cols, np.int64)

    def update(self, tu: TrackUpdate) -> None:
        if not np.count_nonzero(tu.confirmed):
            return
        x, y = ground_xy(tu.dets.xyxy[tu.confirmed])
        # anchors on or beyond the far frame edge (clipped boxes have y2 == height) go to the last cell
        col = np.maximum(np.minimum((x * self._sx).astype(np.intp), self.cols - 1), 0)  # np.clip is 3x slower
        row = np.maximum(np.minimum((y * self._sy).astype(np.intp), self.rows - 1), 0)
        self._counts += np.bincount(row * self.cols + col, minlength=self._counts.size)

    def drain(self) -> npt.NDArray[np.int64]:
        """Counts (rows, cols) since the previous drain; row 0 is the top of the frame."""
        out = self._counts.reshape(self.rows, self.cols).copy()
        self._counts[:] = 0
        return out
