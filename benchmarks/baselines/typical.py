"""The typical hand-written people-counting pipeline that ``edgeanon bench --baseline`` compares against.

What an integrator writes after reading NanoDet's demo and supervision's docs: one loop in one thread,
``cv2.VideoCapture.read`` -> ``cv2.resize`` -> numpy preprocessing -> ``session.run`` -> numpy decoding of
every anchor -> ``sv.Detections`` + NMS -> ByteTrack from the ``trackers`` package -> ``sv.PolygonZone``
and ``sv.LineZone``.

Fairness: it runs the same model bytes, the same onnxruntime session options (threads, spinning, full
graph optimisation, sequential), the same video, thresholds and zone/line as edgeanon.

Preprocessing is NanoDet's demo: ``cv2.resize``, ``img.astype(np.float32)``, ``(img - mean) / std``,
``transpose(2, 0, 1)``, ``np.expand_dims`` (onnxruntime then copies the non-contiguous array). The shipped
model has the mean/std folded into its graph, so the baseline subtracts a zero mean and divides by a unit
std: the same numpy work as the demo, and the tensor the shipped model needs. With
``EDGEANON_BASELINE_PREPROCESS=lean`` it skips that step (astype + transpose only): a leaner loop than a
typical user writes, reported separately in benchmarks/results/RESULTS.md.

Needs the bench extra (``pip install 'edgeanon[bench]'`` plus ``pip install --no-deps trackers``).
Loaded by path from ``edgeanon bench``; it imports nothing from edgeanon.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import cv2
import numpy as np
import onnxruntime as ort
import supervision as sv
from trackers import ByteTrackTracker

INPUT_W = INPUT_H = 416
STRIDES = (8, 16, 32)
REG_MAX = 10
PREPROCESS = os.environ.get("EDGEANON_BASELINE_PREPROCESS", "demo")
PREPROCESSING = {
    "demo": "NanoDet demo: cv2.resize; (img.astype(np.float32) - mean) / std; transpose(2, 0, 1); np.expand_dims "
    "(mean 0, std 1: the graph holds the real ones)",
    "lean": "cv2.resize; img.astype(np.float32).transpose(2, 0, 1); np.expand_dims (no normalisation step)",
}[PREPROCESS]
MEAN = np.zeros(3, np.float32)  # NanoDet's (103.53, 116.28, 123.675) is folded into the shipped graph
STD = np.ones(3, np.float32)  # ... and so is (57.375, 57.12, 58.395)


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


class TypicalPipeline:
    """One session, built once; ``run`` plays a video through the whole loop and times each step."""

    def __init__(
        self,
        model_bytes: bytes,
        *,
        threads: int,
        spinning: bool,
        score: float,
        low_score: float,
        new_track_score: float,
        confirm_hits: int,
        max_age_s: float,
        iou: float,
        zone: tuple[Sequence[Sequence[float]], bool] | None,
        line: tuple[tuple[Sequence[float], Sequence[float]], bool] | None,
        clip_size: tuple[int, int],
    ) -> None:
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        so.add_session_config_entry("session.inter_op.allow_spinning", "0")
        so.log_severity_level = 3
        self.session = ort.InferenceSession(model_bytes, sess_options=so, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.score, self.low_score, self.iou = score, low_score, iou
        self.tracker_args = {
            "high_conf_det_threshold": score,
            "track_activation_threshold": new_track_score,
            "minimum_consecutive_frames": confirm_hits,
            "max_age_s": max_age_s,
        }
        self.zone_spec, self.line_spec, self.clip_size = zone, line, clip_size
        # Output order is not stable across conversions: pick each level's tensors by shape.
        shapes = [tuple(o.shape) for o in self.session.get_outputs()]
        self.levels = []
        for s in STRIDES:
            gw, gh = -(-INPUT_W // s), -(-INPUT_H // s)
            n = gw * gh
            cls_i = shapes.index((1, n, 80))
            reg_i = shapes.index((1, n, 4 * (REG_MAX + 1)))
            idx = np.arange(n)
            centres = np.stack([(idx % gw + 0.5) * s, (idx // gw + 0.5) * s], axis=1)
            self.levels.append((cls_i, reg_i, s, centres))

    def _points(self, pts: Sequence[Sequence[float]], normalized: bool, w: int, h: int) -> np.ndarray:
        a = np.asarray(pts, dtype=np.float64)
        return a * (w, h) if normalized else a

    def _decode(self, outs: list[np.ndarray], sx: float, sy: float) -> tuple[np.ndarray, np.ndarray]:
        """NanoDet GFL head the way demos do it: softmax and box for every anchor, then the threshold."""
        boxes, scores = [], []
        for cls_i, reg_i, stride, centres in self.levels:
            person = outs[cls_i][0][:, 0]
            dist = _softmax(outs[reg_i][0].reshape(-1, 4, REG_MAX + 1), axis=2)
            dist = (dist * np.arange(REG_MAX + 1)).sum(axis=2) * stride
            b = np.concatenate([centres - dist[:, :2], centres + dist[:, 2:]], axis=1)
            keep = person > self.low_score
            boxes.append(b[keep])
            scores.append(person[keep])
        xyxy = np.concatenate(boxes) * (sx, sy, sx, sy)
        return xyxy, np.concatenate(scores)

    def run(self, video: str, max_frames: int | None = None) -> dict:
        cap = cv2.VideoCapture(video)
        fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
        args = dict(self.tracker_args)
        tracker = ByteTrackTracker(lost_track_buffer=max(1, round(args.pop("max_age_s") * fps)), frame_rate=fps, **args)
        zone = line = None
        stages = dict.fromkeys(("decode", "preprocess", "inference", "postprocess", "track", "analytics"), 0.0)
        frames = 0
        t_first = 0.0
        while max_frames is None or frames < max_frames:
            t0 = time.perf_counter()
            ok, frame = cap.read()
            if not ok:
                break
            h, w = frame.shape[:2]
            if zone is None:
                if self.zone_spec is not None:
                    poly = self._points(self.zone_spec[0], self.zone_spec[1], w, h).round().astype(np.int64)
                    zone = sv.PolygonZone(polygon=poly)
                if self.line_spec is not None:
                    (a, b), norm = self.line_spec
                    pa, pb = self._points([a, b], norm, w, h)
                    line = sv.LineZone(start=sv.Point(*pa), end=sv.Point(*pb))
            t1 = time.perf_counter()
            img = cv2.resize(frame, (INPUT_W, INPUT_H))
            if PREPROCESS == "lean":
                blob = np.expand_dims(img.astype(np.float32).transpose(2, 0, 1), axis=0)
            else:
                blob = np.expand_dims(((img.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1), axis=0)
            t2 = time.perf_counter()
            outs = self.session.run(None, {self.input_name: blob})
            t3 = time.perf_counter()
            xyxy, conf = self._decode(outs, w / INPUT_W, h / INPUT_H)
            dets = sv.Detections(xyxy=xyxy, confidence=conf, class_id=np.zeros(len(conf), dtype=int))
            dets = dets.with_nms(threshold=self.iou)
            t4 = time.perf_counter()
            tracked = tracker.update(dets)
            t5 = time.perf_counter()
            if zone is not None:
                zone.trigger(tracked)
            if line is not None:
                line.trigger(tracked)
            t6 = time.perf_counter()
            frames += 1
            for k, dt in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5), strict=True):
                stages[k] += dt
            if frames == 1:
                t_first = time.perf_counter()
        seconds = time.perf_counter() - t_first
        cap.release()
        # Steady state, as edgeanon bench measures the pipeline: from the first frame out to the last one.
        return {
            "frames": frames - 1,
            "frames_total": frames,
            "seconds": seconds if frames > 1 else 1e-9,
            "stages": stages,
            "line_in_out": None if line is None else [int(line.in_count), int(line.out_count)],
            "preprocessing": PREPROCESSING,
        }
