"""YOLOv8/YOLO11 export layout: one output [1, 4+C, N] of (cx, cy, w, h, class scores), no objectness."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from edgeanon.errors import ModelError

F32 = npt.NDArray[np.float32]


class YoloDecoder:
    """Integrators bring their own YOLO exports; this reads the standard Ultralytics ONNX head."""

    def __init__(
        self,
        output_shapes: Sequence[Sequence[int | str | None]],
        num_classes: int,
        person_class: int,
        where: str = "model",
    ) -> None:
        shapes = [tuple(s) for s in output_shapes]
        rows = 4 + num_classes
        if len(shapes) != 1 or len(shapes[0]) != 3 or shapes[0][0] != 1 or rows not in shapes[0][1:]:
            raise ModelError(
                f"{where}: outputs {shapes} do not match the yolo layout [1, {rows}, N] "
                f"(4 box values + {num_classes} classes)"
            )
        self.transposed = shapes[0][1] != rows  # some exporters emit [1, N, 4+C]
        self.person_row = 4 + person_class

    def decode(self, outputs: Sequence[np.ndarray], score_threshold: float) -> tuple[F32, F32]:
        out = outputs[0][0]
        if self.transposed:
            out = out.T
        scores = out[self.person_row]
        idx = np.flatnonzero(scores > score_threshold)
        if idx.size == 0:
            return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
        cx, cy, w, h = out[:4, idx]
        boxes = np.stack([cx - w * 0.5, cy - h * 0.5, cx + w * 0.5, cy + h * 0.5], axis=1)
        return boxes.astype(np.float32, copy=False), scores[idx].astype(np.float32, copy=False)
