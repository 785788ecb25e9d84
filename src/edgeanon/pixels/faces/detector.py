"""BlazeFace (256x256) face boxes, and nothing else: the shipped graph cannot compute facial keypoints.

MediaPipe's BlazeFace also regresses 6 keypoints per anchor: the relative positions of eyes, ears, nose and
mouth, i.e. feature data (特徴量データ) in the guidebook's sense. ``models/recipe/cut_keypoints.py`` cuts
their weights out of the graph, so its regressor outputs are (1, n, 4) boxes and nothing computes keypoints;
a model with wider regressor outputs is refused here. After every run the output tensors are zeroed in place.
ORT writes into output arrays allocated once here (IO binding), so no copy of them ever exists.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

SIZE = 256
# MediaPipe's 256x256 face detector: 2 anchors per cell on the 16x16 grid (stride 16), 6 on the 8x8 (stride 32).
ANCHOR_LAYOUT: tuple[tuple[int, int], ...] = ((16, 2), (32, 6))
N_BOX = 4  # the regressor's only columns: cx, cy offsets from the anchor, w, h (input pixels)


def anchor_centres() -> npt.NDArray[np.float32]:
    """(896, 2) anchor centres in input pixels, in the models' output order (row-major cells, anchors inner)."""
    parts = []
    for stride, per_cell in ANCHOR_LAYOUT:
        g = SIZE // stride
        ys, xs = np.mgrid[0:g, 0:g]
        centres = np.stack([(xs + 0.5) * stride, (ys + 0.5) * stride], axis=-1).reshape(-1, 2)
        parts.append(np.repeat(centres, per_cell, axis=0))
    return np.concatenate(parts).astype(np.float32)


class FaceDetector:
    """One ORT session plus its preallocated input and output buffers; ``detect`` leaves them all zeroed."""

    def __init__(self, session) -> None:  # session: ort.InferenceSession
        self.session = session
        self.anchors = anchor_centres()
        inp = session.get_inputs()[0]
        if list(inp.shape) != [1, SIZE, SIZE, 3] or inp.type != "tensor(uint8)":
            raise ValueError(f"face model input is {inp.shape} {inp.type}, expected [1, 256, 256, 3] uint8")
        self.input = np.zeros((1, SIZE, SIZE, 3), np.uint8)  # BGR, letterboxed by the caller
        # Output tensors by shape: (1, n, 1) score logits and (1, n, 4) boxes, n = 512 then 384. A graph with
        # (1, n, 16) regressors (box + keypoints) is refused: it would compute feature data.
        self.scores: list[npt.NDArray[np.float32]] = []
        self.regressors: list[npt.NDArray[np.float32]] = []
        by_shape = {tuple(o.shape): o.name for o in session.get_outputs()}
        self.binding = session.io_binding()
        self.binding.bind_cpu_input(inp.name, self.input)
        for n in (per_cell * (SIZE // stride) ** 2 for stride, per_cell in ANCHOR_LAYOUT):  # anchor order
            for width, target in ((1, self.scores), (N_BOX, self.regressors)):
                shape = (1, n, width)
                if shape not in by_shape:
                    raise ValueError(f"face model has no output of shape {list(shape)}")
                buf = np.zeros(shape, np.float32)
                self.binding.bind_output(by_shape[shape], "cpu", 0, np.float32, list(shape), buf.ctypes.data)
                target.append(buf)
        if sum(s.shape[1] for s in self.scores) != len(self.anchors):
            raise ValueError("face model outputs do not match the anchor layout")

    @property
    def outputs(self) -> tuple[npt.NDArray[np.float32], ...]:
        """Every output buffer, for zeroing and for the privacy tests."""
        return (*self.scores, *self.regressors)

    def run(self) -> None:
        self.session.run_with_iobinding(self.binding)

    def best_box(self, min_score: float, iou: float = 0.3) -> npt.NDArray[np.float32] | None:
        """Highest-scoring face after NMS as (x0, y0, x1, y1, score) in input pixels, or None.

        Reads the score logits and the 4 box columns, which are all the regressor outputs hold.
        """
        logits = np.concatenate([s[0, :, 0] for s in self.scores])
        threshold = np.log(min_score / (1.0 - min_score))  # sigmoid(x) >= p  <=>  x >= logit(p)
        idx = np.flatnonzero(logits >= threshold)
        if idx.size == 0:
            return None
        boxes = np.concatenate([r[0, :, :N_BOX] for r in self.regressors])[idx]
        centres = self.anchors[idx] + boxes[:, :2]
        wh = boxes[:, 2:4]
        scores = 1.0 / (1.0 + np.exp(-logits[idx]))
        xywh = np.concatenate([centres - wh / 2, wh], axis=1)
        keep = np.asarray(cv2.dnn.NMSBoxes(xywh, scores, min_score, iou), dtype=np.int64).reshape(-1)
        if keep.size == 0:
            return None
        k = keep[0]  # NMSBoxes returns kept indices by descending score
        out = np.empty(5, np.float32)
        out[:2] = xywh[k, :2]
        out[2:4] = xywh[k, :2] + xywh[k, 2:]
        out[4] = scores[k]
        boxes.fill(0.0)
        centres.fill(0.0)
        xywh.fill(0.0)
        return out

    def clear(self) -> None:
        """Zero the input and every output tensor."""
        self.input.fill(0)
        for buf in self.outputs:
            buf.fill(0.0)
