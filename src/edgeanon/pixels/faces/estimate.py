"""Age (SSR-Net) and gender (mini-Xception) on one 64x64 BGR face crop, returning only bin indices.

Both shipped models take the same BGR uint8 crop: the BGR->RGB flip, the grayscale conversion and the
normalisation are folded into the graphs (models/recipe/convert_attributes.py), so there is one crop buffer to
fill and to zero. Outputs go to arrays bound once (IO binding) and are zeroed after reading.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edgeanon.counting.bins import age_band

CROP = 64
# IMDB-WIKI's face crops, which both models were trained on, carry a 40 % margin around the detected face on
# every side; the same margin here puts the face where the models expect it.
FACE_MARGIN = 0.4


class _Bound:
    """A session with its input bound to the shared crop and its single output bound to a preallocated array."""

    def __init__(self, session, crop: npt.NDArray[np.uint8], out_shape: tuple[int, ...], what: str) -> None:
        inp = session.get_inputs()[0]
        if list(inp.shape) != [1, CROP, CROP, 3] or inp.type != "tensor(uint8)":
            raise ValueError(f"{what} model input is {inp.shape} {inp.type}, expected [1, 64, 64, 3] uint8")
        (out,) = session.get_outputs()
        if list(out.shape) != list(out_shape):
            raise ValueError(f"{what} model output is {out.shape}, expected {list(out_shape)}")
        self.session = session
        self.output = np.zeros(out_shape, np.float32)
        self.binding = session.io_binding()
        self.binding.bind_cpu_input(inp.name, crop)
        self.binding.bind_output(out.name, "cpu", 0, np.float32, list(out_shape), self.output.ctypes.data)

    def run(self) -> npt.NDArray[np.float32]:
        self.session.run_with_iobinding(self.binding)
        return self.output


class FaceAttributes:
    """The wanted estimators only: a stage without age never loads or runs the age model, and the same for gender."""

    def __init__(self, age_session=None, gender_session=None) -> None:
        if age_session is None and gender_session is None:
            raise ValueError("at least one of age and gender must be wanted")
        self.crop = np.zeros((1, CROP, CROP, 3), np.uint8)  # BGR face with margin, filled by the caller
        self.age = _Bound(age_session, self.crop, (1, 1), "age") if age_session is not None else None
        self.gender = _Bound(gender_session, self.crop, (1, 2), "gender") if gender_session is not None else None

    @property
    def outputs(self) -> tuple[npt.NDArray[np.float32], ...]:
        return tuple(b.output for b in (self.age, self.gender) if b is not None)

    def estimate_age(self) -> int:
        """Index into ``counting.bins.AGE_BANDS``; SSR-Net's output is the age in years."""
        assert self.age is not None
        out = self.age.run()
        band = age_band(float(out[0, 0]))
        out.fill(0.0)
        return band

    def estimate_gender(self) -> int:
        """Index into ``counting.bins.GENDERS``; the model's softmax is [female, male], the same order as GENDERS."""
        assert self.gender is not None
        out = self.gender.run()
        idx = int(out[0, 1] > out[0, 0])
        out.fill(0.0)
        return idx

    def clear(self) -> None:
        self.crop.fill(0)
        for buf in self.outputs:
            buf.fill(0.0)
