"""Order of per-slot events within one frame, shared by all analytics."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edgeanon.counting.tracks import TrackUpdate

I64 = npt.NDArray[np.int64]
BOOL = npt.NDArray[np.bool_]


def split_ended(tu: TrackUpdate) -> tuple[tuple[I64, BOOL], tuple[I64, BOOL]]:
    """Split ``ended`` into tracks to finalise before this frame's rows and tracks to finalise after them.

    Normally every ended track is finalised after the rows (a track matched and ended in the same frame keeps
    its last observation). If the tracker frees a slot and hands it to a new track in the same frame, the old
    track must be finalised first, before the slot is reset for the new one and the rows update it.
    """
    ended, conf = tu.ended, tu.ended_confirmed
    if not (ended.size and tu.started.size):
        return (ended[:0], conf[:0]), (ended, conf)
    early = np.isin(ended, tu.started)
    return (ended[early], conf[early]), (ended[~early], conf[~early])
