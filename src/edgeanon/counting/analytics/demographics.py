"""Estimated age band and gender held per track slot, counted only when the track crosses a line or leaves a zone.

The attribute stage (the pixel side) hands over binned indices for a few slots; from then on a track's
attributes are two small integers in arrays of length ``capacity``, reset when the slot starts a new track.
They leave this module only as counts per (kind, place, bin): a line or zone name from the config and a
label from :mod:`edgeanon.counting.bins`. Nothing here is keyed by track id, logged, or kept after the
track ends.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edgeanon.counting.bins import AGE_BANDS, GENDERS

I64 = npt.NDArray[np.int64]
Counts = dict[tuple[str, str, str], int]


class TrackAttributes:
    """Per-slot binned estimates (-1 = none), and whether the stage already looked at the slot's track."""

    __slots__ = ("_age", "_gender", "age", "attempted", "gender")

    def __init__(self, capacity: int, *, age: bool, gender: bool) -> None:
        self.age = age  # which kinds are counted at all (the declared ones)
        self.gender = gender
        self._age = np.full(capacity, -1, np.int8)
        self._gender = np.full(capacity, -1, np.int8)
        self.attempted = np.zeros(capacity, bool)

    def reset(self, slots: I64) -> None:
        """A slot starts a new track: it inherits nothing from the previous one."""
        if slots.size:
            self._age[slots] = -1
            self._gender[slots] = -1
            self.attempted[slots] = False

    def assign(self, slots: I64, age: npt.NDArray[np.int8], gender: npt.NDArray[np.int8]) -> None:
        """Results of the attribute stage for these slots (once per track; -1 where nothing was estimated)."""
        if not slots.size:
            return
        if age.shape != slots.shape or gender.shape != slots.shape:
            raise ValueError("age and gender must have one entry per slot")
        if (age >= len(AGE_BANDS)).any() or (gender >= len(GENDERS)).any() or (age < -1).any() or (gender < -1).any():
            raise ValueError("attribute index out of range")
        self.attempted[slots] = True
        self._age[slots] = age if self.age else -1
        self._gender[slots] = gender if self.gender else -1

    def count(self, slots: I64, place: str, out: Counts) -> None:
        """Add the estimated bins of these slots' tracks to ``out`` under ``place`` (a line or zone name)."""
        if not slots.size:
            return
        for kind, values, labels, on in (
            ("age_band", self._age[slots], AGE_BANDS, self.age),
            ("gender", self._gender[slots], GENDERS, self.gender),
        ):
            if not on:
                continue
            known = values[values >= 0]
            if not known.size:
                continue
            hist = np.bincount(known, minlength=len(labels))
            for i in np.flatnonzero(hist):
                key = (kind, place, labels[i])
                out[key] = out.get(key, 0) + int(hist[i])
