"""The latest person boxes that ``/setup`` draws as outlines: kept for one frame, handed out at most once a second.

Those boxes live in memory for one frame, are never stored, logged or exported, and the page sits behind auth
when auth is on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

SETUP_MIN_INTERVAL_S = 1.0  # /setup's boxes change at most once a second, whoever polls
BOX_MAX_AGE_S = 3.0  # boxes older than this are not drawn (the camera stopped delivering)

Boxes = Callable[[str], "np.ndarray | None"]  # camera id -> (n, 4) xyxy of the latest frame, in frame pixels


class ThrottledBoxes:
    """The boxes ``/setup`` may show: each camera's snapshot is taken at most once per ``min_interval_s``.

    Polling the page at the frame rate would otherwise rebuild trajectories. The limit is on the server and shared
    by every client, so neither a fast poller nor several clients together see more than one snapshot a second.
    """

    def __init__(self, boxes: Boxes, min_interval_s: float = SETUP_MIN_INTERVAL_S, clock=time.monotonic) -> None:
        self._boxes = boxes
        self._interval = min_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._taken: dict[str, tuple[float, np.ndarray | None]] = {}

    def __call__(self, camera: str) -> np.ndarray | None:
        now = self._clock()
        with self._lock:
            hit = self._taken.get(camera)
            if hit is None or not 0 <= now - hit[0] < self._interval:
                hit = (now, self._boxes(camera))
                self._taken[camera] = hit
            return hit[1]
