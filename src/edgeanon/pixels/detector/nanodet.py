"""NanoDet (GFL head) decoding: per-level person scores plus 4x(reg_max+1) box distributions."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from edgeanon.errors import ModelError

F32 = npt.NDArray[np.float32]


class NanoDetDecoder:
    """Decodes only the cells whose person score passes the threshold, so cost scales with people, not anchors."""

    def __init__(
        self,
        output_shapes: Sequence[Sequence[int | str | None]],
        width: int,
        height: int,
        num_classes: int,
        person_class: int,
        strides: Sequence[int] = (8, 16, 32),
        reg_max: int = 10,
        where: str = "model",
    ) -> None:
        bins = reg_max + 1
        shapes = [tuple(s) for s in output_shapes]
        self.person_class = person_class
        self.levels: list[tuple[int, int, int, F32]] = []  # (cls output, reg output, stride, centres)
        for stride in strides:
            gw, gh = math.ceil(width / stride), math.ceil(height / stride)
            n = gw * gh
            cls = [i for i, s in enumerate(shapes) if s == (1, n, num_classes)]
            reg = [i for i, s in enumerate(shapes) if s == (1, n, 4 * bins)]
            if len(cls) != 1 or len(reg) != 1:
                raise ModelError(
                    f"{where}: outputs {shapes} do not match the nanodet layout for a {width}x{height} input "
                    f"(expected [1,{n},{num_classes}] and [1,{n},{4 * bins}] for stride {stride})"
                )
            i = np.arange(n)
            centres = np.stack([(i % gw + 0.5) * stride, (i // gw + 0.5) * stride], axis=1).astype(np.float32)
            self.levels.append((cls[0], reg[0], stride, centres))
        self._bins = np.arange(bins, dtype=np.float32)

    def decode(self, outputs: Sequence[np.ndarray], score_threshold: float) -> tuple[F32, F32]:
        """Boxes (k,4) in model-input pixels and their person scores, before NMS."""
        boxes: list[F32] = []
        scores: list[F32] = []
        for cls_i, reg_i, stride, centres in self.levels:
            level_scores = outputs[cls_i][0, :, self.person_class]
            idx = np.flatnonzero(level_scores > score_threshold)
            if idx.size == 0:
                continue
            logits = outputs[reg_i][0, idx].reshape(idx.size, 4, -1)
            e = np.exp(logits - logits.max(axis=2, keepdims=True))
            dist = (e @ self._bins) / e.sum(axis=2) * stride  # (k, 4): left, top, right, bottom
            c = centres[idx]
            boxes.append(np.concatenate([c - dist[:, :2], c + dist[:, 2:]], axis=1))
            scores.append(level_scores[idx])
        if not boxes:
            return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
        return np.concatenate(boxes).astype(np.float32, copy=False), np.concatenate(scores).astype(np.float32)
