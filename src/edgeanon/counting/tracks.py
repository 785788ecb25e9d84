"""What the tracker hands to analytics: per-frame track rows keyed by bounded state slots.

Analytics keep per-track state in numpy arrays indexed by ``slot`` (0 <= slot < capacity). A slot is
reused after its track ends, so every per-track structure is bounded by the tracker's capacity, however
many people pass. Track ids are process-local and exist only for debugging inside the process; nothing
that leaves the process may carry them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edgeanon.counting.detections import Detections

I64 = npt.NDArray[np.int64]
BOOL = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class TrackUpdate:
    """One frame's tracker output.

    - ``dets``: boxes of the tracks matched to a detection in this frame (``dets.track_id`` set).
    - ``slot``: (n,) state row of each of those tracks.
    - ``confirmed``: (n,) track has reached the confirmation threshold (now or earlier).
    - ``just_confirmed``: (n,) track became confirmed in this very frame.
    - ``started``: slots of tracks created in this frame (analytics reset that row).
    - ``ended``: slots of tracks removed in this frame (expired after ``max_age`` or never confirmed);
      their rows are free from the next frame on.
    - ``ended_confirmed``: (len(ended),) whether each ended track had been confirmed.
    - ``t``: the frame's capture time in seconds (monotonic clock).
    """

    dets: Detections
    slot: I64
    confirmed: BOOL
    just_confirmed: BOOL
    started: I64
    ended: I64
    ended_confirmed: BOOL
    t: float

    def __post_init__(self) -> None:
        n = len(self.dets)
        for name in ("slot", "confirmed", "just_confirmed"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} must have shape ({n},)")
        if self.ended_confirmed.shape != self.ended.shape:
            raise ValueError("ended_confirmed must match ended")

    @classmethod
    def empty(cls, t: float) -> TrackUpdate:
        z = np.zeros(0, np.int64)
        b = np.zeros(0, bool)
        return cls(Detections.empty(), z, b, b, z, z, b, t)
