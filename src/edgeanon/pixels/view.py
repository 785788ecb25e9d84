"""Camera view check: was the camera moved, covered or defocused? Three numbers per sample, on the pixel side.

A moved, covered or defocused camera keeps delivering frames, so it looks healthy, while its zones and lines
silently count the wrong place or nothing. Once per ``EVERY_S`` of frame time the capture thread, which still
holds the frame, measures:

- **brightness**: mean grey level (0-255); a covered lens or lights off make it fall;
- **sharpness**: variance of the Laplacian; defocus, a smeared or fogged lens make it fall;
- **layout**: the Laplacian's mean magnitude in a coarse ``GRID`` of cells, normalised (zero mean, unit
  variance), correlated against the baseline's; turning or shifting the camera moves the scene's edges.

All three come from one ``SMALL`` grey copy of the frame, made with preallocated buffers that are zeroed before
:meth:`ViewCheck.observe` returns. The baseline is learnt over the first ``LEARN`` samples and then follows
slow changes (daylight) with an exponential average that only takes samples judged fine, so a covered or
turned camera stays flagged until its view comes back. A verdict flips only after ``STREAK`` samples in a
row agree, so a person walking past the lens does not flip it. Only the verdict and three ratios leave this
module; the grid signature stays in memory and is never exported or logged.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

log = logging.getLogger("edgeanon.view")

SMALL = (128, 96)  # (width, height) of the grey copy
GRID = (24, 32)  # (rows, cols) of the layout signature: cells of 4x4 px of the grey copy
EVERY_S = 1.0  # seconds of frame time between samples
LEARN = 20  # samples that make the first baseline
ALPHA = 0.02  # baseline update per fine sample (a time constant of about 50 samples)
STREAK = 5  # samples in a row before the verdict changes

DARKER_THAN = 0.4  # brightness below this fraction of the baseline: covered or lights off
BRIGHTER_THAN = 2.5  # ... above this multiple: glare or a light pointed into the lens
MIN_BRIGHTNESS = 8.0  # grey level under which a view is dark whatever the baseline
BLURRED_BELOW = 0.35  # sharpness below this fraction of the baseline: defocused, smeared or fogged
MOVED_BELOW = 0.6  # layout correlation with the baseline below this: moved, turned or blocked

PROBLEMS = ("dark", "bright", "blurred", "moved")
"""Every reason a view can be judged wrong (a fixed list: it is shown on the status page)."""


@dataclass(frozen=True, slots=True)
class ViewScores:
    """One sample against the baseline: ratios to it (1.0 = as usual) and the layout correlation (-1 to 1)."""

    brightness: float
    sharpness: float
    layout: float

    def problems(self, brightness: float) -> tuple[str, ...]:
        out = []
        if brightness < MIN_BRIGHTNESS or self.brightness < DARKER_THAN:
            out.append("dark")
        elif self.brightness > BRIGHTER_THAN:
            out.append("bright")
        if self.sharpness < BLURRED_BELOW:
            out.append("blurred")
        if self.layout < MOVED_BELOW:
            out.append("moved")
        return tuple(out)


class ViewCheck:
    """The view check of one camera: call :meth:`observe` from the capture thread while it holds the frame."""

    def __init__(self) -> None:
        w, h = SMALL
        self._small = np.zeros((h, w, 3), np.uint8)
        self._grey = np.zeros((h, w), np.uint8)
        self._lap = np.zeros((h, w), np.int16)
        self._size: tuple[int, int] | None = None
        self._learnt = 0
        self._brightness = 0.0
        self._sharpness = 0.0
        self._layout = np.zeros(GRID[0] * GRID[1], np.float64)
        self._streak = 0
        self.ok: bool | None = None  # None while learning
        self.problems: tuple[str, ...] = ()
        self.scores: ViewScores | None = None
        self.samples = 0
        self.seconds = 0.0  # time spent in observe, for the cost figure

    def observe(self, frame: npt.NDArray[np.uint8]) -> bool | None:
        """Measure one frame and update the verdict; returns ``ok`` (None while the baseline is learnt)."""
        import time

        t0 = time.perf_counter()
        size = (frame.shape[1], frame.shape[0])
        if size != self._size:  # a new resolution changes the sharpness scale: learn again
            self._size, self._learnt, self._streak, self.ok, self.problems, self.scores = size, 0, 0, None, (), None
        try:
            brightness, sharpness, layout = self._measure(frame)
        finally:
            self._small.fill(0)
            self._grey.fill(0)
            self._lap.fill(0)
        self._judge(brightness, sharpness, layout)
        self.samples += 1
        self.seconds += time.perf_counter() - t0
        return self.ok

    def _measure(self, frame: npt.NDArray[np.uint8]) -> tuple[float, float, npt.NDArray[np.float64]]:
        if frame.ndim == 3 and frame.shape[2] == 3:
            cv2.resize(frame, SMALL, dst=self._small, interpolation=cv2.INTER_AREA)
            cv2.cvtColor(self._small, cv2.COLOR_BGR2GRAY, dst=self._grey)
        else:
            cv2.resize(
                frame.reshape(frame.shape[0], frame.shape[1]), SMALL, dst=self._grey, interpolation=cv2.INTER_AREA
            )
        cv2.Laplacian(self._grey, cv2.CV_16S, dst=self._lap, ksize=1)
        brightness = float(self._grey.mean())
        lap = self._lap.astype(np.float32)
        sharpness = float(lap.var())
        rows, cols = GRID
        h, w = self._lap.shape
        cells = np.abs(lap[: h - h % rows, : w - w % cols]).reshape(rows, h // rows, cols, w // cols).mean(axis=(1, 3))
        lap.fill(0)
        sig = cells.ravel().astype(np.float64)
        sd = sig.std()
        sig = (sig - sig.mean()) / sd if sd > 1e-6 else np.zeros_like(sig)
        return brightness, sharpness, sig

    def _judge(self, brightness: float, sharpness: float, layout: npt.NDArray[np.float64]) -> None:
        if self._learnt < LEARN:
            n = self._learnt
            self._brightness = (self._brightness * n + brightness) / (n + 1)
            self._sharpness = (self._sharpness * n + sharpness) / (n + 1)
            self._layout = (self._layout * n + layout) / (n + 1)
            self._learnt += 1
            if self._learnt == LEARN:
                self.ok, self._streak = True, 0
            return
        scores = ViewScores(
            brightness=brightness / max(self._brightness, 1e-6),
            sharpness=sharpness / max(self._sharpness, 1e-6),
            layout=_correlation(layout, self._layout),
        )
        problems = scores.problems(brightness)
        self.scores = scores
        if not problems:
            a = ALPHA
            self._brightness += a * (brightness - self._brightness)
            self._sharpness += a * (sharpness - self._sharpness)
            self._layout += a * (layout - self._layout)
        bad_now = bool(problems)
        if bad_now == (self.ok is False):
            self._streak = 0  # agrees with the verdict
            if bad_now:
                self.problems = problems
            return
        self._streak += 1
        if self._streak >= STREAK:
            self.ok, self._streak = not bad_now, 0
            self.problems = problems


def _correlation(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    sa, sb = a.std(), b.std()
    if sa < 1e-9 or sb < 1e-9:
        return 0.0  # a flat view (covered) has no layout to match
    r = float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb))
    return r if math.isfinite(r) else 0.0
