"""Motion test for idle-frame skipping: does this frame differ from the last one the detector saw?

A camera watching an empty aisle spends most of the night inferring the same picture. The detector worker asks
:meth:`MotionTest.must_infer` before preprocessing; when nothing moved and the camera has no track at all, the frame
is released as ``idle`` instead of inferred (``run.runner``).

The test is a difference of two small grey copies: the frame, or the camera's region (``roi``: motion
elsewhere cannot change a count), is shrunk with ``INTER_AREA`` to
``WIDTH`` pixels wide, so each cell is the mean of a block of about 12 x 12 frame pixels at 768 x 576, and
compared with the **reference**, the small copy of the last frame that was inferred. A frame has moved when at
least ``MIN_CELLS`` cells differ by more than ``CELL_DIFF`` grey levels. Why these constants hold for any camera
rather than one clip:

- Sensor noise is independent per pixel; averaging a block of n pixels divides its sigma by sqrt(n). A noisy
  sensor (sigma 3-5 grey levels) leaves under 0.5 per cell at 64 cells across a 768-wide frame, and still
  under 1 at 320 wide. ``CELL_DIFF`` = 10 is over ten of those sigmas.
- Compression noise is spatially correlated (8 x 8 blocks), so averaging removes less of it; an intra frame
  re-encoding a static scene moves block means by a grey level or two, well under ``CELL_DIFF``.
- A person is tens of pixels wide and differs from the floor behind by tens of grey levels, so even a distant
  person entering covers several cells by more than ``CELL_DIFF``; ``MIN_CELLS`` = 2 ignores a single flickering
  cell (an LED, a screen corner) without missing them.
- Whatever exceeds these (a light switched on, auto exposure) is judged as motion: the frame is inferred, which
  costs time but never a count.
- Cells whose centre lies in one of the camera's ``exclude`` areas do not count: a screen or a street seen through
  the window, where detections are ignored anyway, would otherwise keep the camera awake all night.

The reference is the last *inferred* frame, not the previous frame: a slow walker who drifts in by less than
``CELL_DIFF`` per frame still accumulates a difference against the reference, and is caught once it does. Any
difference that persists is also settled by one inference (the new scene becomes the reference). The runner does
not even ask while the camera has a track (the frame is inferred anyway), so after people leave, the reference is
the last frame inferred before they came: the empty scene, which the frames match again.

The small copies are pixels. They live only here, inside the detector worker that holds the camera; the copy of
the frame being tested is zeroed before :meth:`MotionTest.must_infer` returns, unless that frame is inferred and it
becomes the reference. The reference is zeroed when it is replaced, when the camera reconnects or changes size,
and by :meth:`MotionTest.clear` when the camera stops. Only a boolean leaves this module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np
import numpy.typing as npt

WIDTH = 64  # cells across the small copy (its height follows the region's aspect ratio)
CELL_DIFF = 10  # grey levels: a cell differs by more than this (see the module docstring for why)
MIN_CELLS = 2  # ... and at least this many cells must differ

Region = tuple[int, int, int, int]  # (x0, y0, x1, y1) in frame pixels, x1 and y1 exclusive
Point = tuple[float, float]


class MotionTest:
    """One camera's motion test. Call from the worker holding the camera; ``clear`` once no worker can."""

    def __init__(self, width: int = WIDTH, exclude: Sequence[tuple[Sequence[Point], bool]] = ()) -> None:
        self._width = width
        self._exclude = [(np.asarray(points, np.float64).reshape(-1, 2), normalized) for points, normalized in exclude]
        self._keep: npt.NDArray[np.uint8] | None = None  # 255 where a cell counts (None: everywhere)
        self._key: tuple[tuple[int, ...], Region] | None = None  # (frame shape, region) the buffers fit
        self._generation: int | None = None
        self._colour = np.zeros((1, 1, 3), np.uint8)
        self._cur = np.zeros((1, 1), np.uint8)
        self._ref = np.zeros((1, 1), np.uint8)
        self._diff = np.zeros((1, 1), np.uint8)
        self._has_ref = False

    def must_infer(
        self,
        frame: npt.NDArray[np.uint8],
        quiet: Callable[[], bool] = lambda: True,
        region: Region | None = None,
        generation: int = 0,
    ) -> bool:
        """Whether the frame must be inferred: there is no reference yet, or it moved against the reference, or
        ``quiet()`` (asked only for a still frame) says it may not be skipped anyway, e.g. a track is open.
        A frame this returns True for becomes the reference, so the caller must then infer it."""
        h, w = frame.shape[:2]
        box = _clip(region, w, h)
        key = (frame.shape, box)
        if key != self._key or generation != self._generation:
            self._resize(key, box)  # a new stream, size or region: no reference to compare with
            self._generation = generation
        x0, y0, x1, y1 = box
        view = frame[y0:y1, x0:x1]
        small = (self._cur.shape[1], self._cur.shape[0])
        try:
            if frame.ndim == 3 and frame.shape[2] == 3:
                cv2.resize(view, small, dst=self._colour, interpolation=cv2.INTER_AREA)
                cv2.cvtColor(self._colour, cv2.COLOR_BGR2GRAY, dst=self._cur)
            else:
                grey = view.reshape(view.shape[0], view.shape[1])
                cv2.resize(grey, small, dst=self._cur, interpolation=cv2.INTER_AREA)
            moving = not self._has_ref or self._differs() or not quiet()
        except BaseException:
            self.clear()
            raise
        finally:
            self._colour.fill(0)
            self._diff.fill(0)
        if moving:  # this frame will be inferred: its copy is the new reference, the old one is zeroed
            self._cur, self._ref = self._ref, self._cur
            self._has_ref = True
        self._cur.fill(0)
        return moving

    def _differs(self) -> bool:
        cv2.absdiff(self._cur, self._ref, dst=self._diff)
        cv2.threshold(self._diff, CELL_DIFF, 255, cv2.THRESH_BINARY, dst=self._diff)
        if self._keep is not None:
            cv2.bitwise_and(self._diff, self._keep, dst=self._diff)
        return cv2.countNonZero(self._diff) >= MIN_CELLS

    def _resize(self, key: tuple[tuple[int, ...], Region], box: Region) -> None:
        x0, y0, x1, y1 = box
        w = min(self._width, x1 - x0)
        h = max(1, round(w * (y1 - y0) / (x1 - x0)))
        self.clear()
        self._colour = np.zeros((h, w, 3), np.uint8)
        self._cur, self._ref, self._diff = (np.zeros((h, w), np.uint8) for _ in range(3))
        self._keep = self._mask(key[0], box, (w, h))
        self._key = key

    def _mask(self, shape: tuple[int, ...], box: Region, small: tuple[int, int]) -> npt.NDArray[np.uint8] | None:
        """255 for the cells of the small copy whose centre is outside every exclude area, 0 inside one."""
        if not self._exclude:
            return None
        fh, fw = shape[:2]
        x0, y0, x1, y1 = box
        scale = np.array([small[0] / (x1 - x0), small[1] / (y1 - y0)])
        keep = np.full((small[1], small[0]), 255, np.uint8)
        for points, normalized in self._exclude:
            p = points * (fw, fh) if normalized else points
            cells = (p - (x0, y0)) * scale - 0.5  # cell (i, j) has its centre at integer (j, i) here
            cv2.fillPoly(keep, [np.round(cells * 16).astype(np.int32)], 0, lineType=cv2.LINE_8, shift=4)
        return keep

    def clear(self) -> None:
        """Zero every small copy and forget the reference (camera stopped, reconnected or resized)."""
        for buf in self.buffers():
            buf.fill(0)
        self._has_ref = False

    def buffers(self) -> tuple[npt.NDArray[np.uint8], ...]:
        """Every pixel buffer this test holds (for the privacy tests: all zero once the camera has stopped)."""
        return (self._colour, self._cur, self._ref, self._diff)


def _clip(region: Region | None, w: int, h: int) -> Region:
    """The region inside the frame, at least one pixel; None means the whole frame."""
    if region is None:
        return (0, 0, w, h)
    x0, y0, x1, y1 = (int(v) for v in region)
    x0, y0 = min(max(x0, 0), w - 1), min(max(y0, 0), h - 1)
    return (x0, y0, min(max(x1, x0 + 1), w), min(max(y1, y0 + 1), h))
