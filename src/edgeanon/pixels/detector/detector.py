"""Person detector: preprocessing, one onnxruntime run, vectorised decoding and NMS."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edgeanon.counting.detections import Detections
from edgeanon.errors import ModelError
from edgeanon.pixels.detector.batch import BatchInput, accepts_batches, split_outputs
from edgeanon.pixels.detector.decode import BoxDecoder, Thresholds
from edgeanon.pixels.detector.manifest import InputSpec, ModelEntry, read_verified, resolve
from edgeanon.pixels.detector.nanodet import NanoDetDecoder
from edgeanon.pixels.detector.preprocess import Preprocessor
from edgeanon.pixels.detector.session import SessionSettings, build_session, warm_up
from edgeanon.pixels.detector.yolo import YoloDecoder


class PersonDetector:
    """Holds one session and its preallocated buffers; not thread-safe, use one per worker."""

    def __init__(
        self,
        name: str,
        entry: ModelEntry,
        path: Path,
        model_bytes: bytes,
        settings: SessionSettings = SessionSettings(),
        thresholds: Thresholds = Thresholds(),
    ) -> None:
        self.name = name
        self.entry = entry
        self.path = path
        self.settings = settings
        self.thresholds = thresholds
        self.session = build_session(model_bytes, path, settings)
        spec = entry.input
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ModelError(f"{path}: expected one input, the model has {len(inputs)}")
        _check_input_shape(list(inputs[0].shape), spec, path)
        if inputs[0].type != "tensor(float)":
            raise ModelError(f"{path}: input type is {inputs[0].type}, expected tensor(float)")
        self.input_name = inputs[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.preprocess = Preprocessor(spec)
        self.batches = accepts_batches(list(inputs[0].shape))  # False: a fixed batch of 1, one run per frame
        self._batch_inputs: dict[tuple[int, int], BatchInput] = {}  # (width, height) -> its batch input
        # The first run allocates arenas and picks kernels (kept out of timings), and gives the output shapes
        # at the input size: a model with free dims declares them symbolic.
        shapes = [o.shape for o in warm_up(self.session, {self.input_name: self.preprocess.input})]
        if entry.family == "nanodet":
            self.decoder: NanoDetDecoder | YoloDecoder = NanoDetDecoder(
                shapes,
                spec.width,
                spec.height,
                len(entry.classes),
                entry.person_class,
                entry.strides or (8, 16, 32),
                entry.reg_max if entry.reg_max is not None else 10,
                where=str(path),
            )
        else:
            self.decoder = YoloDecoder(shapes, len(entry.classes), entry.person_class, where=str(path))
        self._decoders: dict[tuple[int, int], BoxDecoder] = {}
        # Summed seconds per step, read by the benchmark's stage breakdown (a few perf_counter calls per frame).
        self.preprocess_s = 0.0
        self.inference_s = 0.0
        self.postprocess_s = 0.0

    @property
    def threads(self) -> int:
        from edgeanon.pixels.detector.session import physical_cores

        return self.settings.threads or physical_cores()

    def infer(self, frame: npt.NDArray[np.uint8], before_run: Callable[[], None] | None = None) -> list[np.ndarray]:
        """Preprocess and run; the pixel buffers are zeroed before this returns.

        ``before_run`` is called between preprocessing and ``session.run`` (the runner hands the previous
        frame's results on there, so their Python work overlaps the run, which holds no GIL).
        """
        t0 = time.perf_counter()
        try:
            feed = {self.input_name: self.preprocess(frame)}
            t1 = time.perf_counter()
            self.preprocess_s += t1 - t0
            if before_run is not None:
                before_run()
                t1 = time.perf_counter()
            out = self.session.run(self.output_names, feed)
            self.inference_s += time.perf_counter() - t1
            return out
        finally:
            self.preprocess.scrub()

    def infer_batch(
        self,
        images: Sequence[npt.NDArray[np.uint8]],
        size: tuple[int, int] | None = None,
        before_run: Callable[[], None] | None = None,
    ) -> list[list[np.ndarray]]:
        """Outputs per image, in order, of one ``session.run`` over ``images`` at input ``size`` (width, height;
        None: the manifest's). Every pixel buffer is zeroed before this returns. A model whose batch dim is
        fixed at 1 runs the images one by one.
        """
        if not self.batches or len(images) == 1:
            return [self.infer(image, before_run if i == 0 else None) for i, image in enumerate(images)]
        pre = self.preprocess
        spec = pre.spec
        if size is not None and size != (spec.width, spec.height):
            raise ValueError(f"input size {size} is not this detector's {spec.width}x{spec.height}")
        batch = self._batch_input((spec.width, spec.height), len(images))
        t0 = time.perf_counter()
        try:
            for i, image in enumerate(images):
                pre(image, out=batch.slot(i))
            feed = {self.input_name: batch.feed(len(images))}
            t1 = time.perf_counter()
            self.preprocess_s += t1 - t0
            if before_run is not None:
                before_run()
                t1 = time.perf_counter()
            outputs = self.session.run(self.output_names, feed)
            self.inference_s += time.perf_counter() - t1
            return split_outputs(outputs, len(images))
        finally:
            batch.scrub(len(images))
            pre.scrub()

    def _batch_input(self, size: tuple[int, int], n: int) -> BatchInput:
        """The batch input of this size, grown (once, to the largest batch asked) when ``n`` does not fit."""
        batch = self._batch_inputs.get(size)
        if batch is None or batch.capacity < n:
            batch = self._batch_inputs[size] = BatchInput(n, size[1], size[0])  # the old one is zero: scrubbed
        return batch

    def postprocess(self, outputs: list[np.ndarray], frame_shape: tuple[int, ...]) -> Detections:
        t0 = time.perf_counter()
        try:
            return self.decoder_for(frame_shape)(outputs)
        finally:
            self.postprocess_s += time.perf_counter() - t0

    def decoder_for(self, frame_shape: tuple[int, ...]) -> BoxDecoder:
        """Everything needed to decode this model's outputs for a frame of ``frame_shape`` (h, w, ...): numbers
        only, frozen, so decoding can run in any thread. One per frame size, kept (a few sizes at most)."""
        h, w = frame_shape[:2]
        decoder = self._decoders.get((h, w))
        if decoder is None:
            scale, offset = self.preprocess.mapping(h, w)
            decoder = BoxDecoder(self.decoder, scale, offset, (w, h), self.thresholds)
            if len(self._decoders) < 16:  # bounded: frame sizes change rarely (a reconnect, a new stream)
                self._decoders[(h, w)] = decoder
        return decoder

    def __call__(self, frame: npt.NDArray[np.uint8]) -> Detections:
        shape = frame.shape
        return self.postprocess(self.infer(frame), shape)


def _check_input_shape(got: list, spec: InputSpec, path: Path) -> None:
    """[batch, 3, height, width]: batch 1 or free; height and width as the manifest says, or free if it says
    that any multiple works (a free dim is a name or None in onnxruntime's shape)."""
    want = [1, 3, spec.height, spec.width]
    free = [isinstance(d, str) or d is None for d in got]
    fits = len(got) == 4 and got[1] == 3 and (free[0] or got[0] == 1)
    for i in (2, 3):
        fits = fits and (got[i] == want[i] or (free[i] and spec.multiple is not None))
    if not fits:
        raise ModelError(f"{path}: input shape is {got}, the manifest says {want} (wrong model for this entry?)")
    if spec.multiple is not None and (spec.width % spec.multiple or spec.height % spec.multiple):
        raise ModelError(f"{path}: manifest input {spec.width}x{spec.height} is not a multiple of {spec.multiple}")


def load_detector(
    model: str | None = None,
    settings: SessionSettings = SessionSettings(),
    thresholds: Thresholds = Thresholds(),
    models_directory: Path | None = None,
) -> PersonDetector:
    """Resolve a manifest name, verify the file's sha256, and build a warmed-up detector."""
    name, entry, path = resolve(model, models_directory)
    data = read_verified(path, entry)
    return PersonDetector(name, entry, path, data, settings, thresholds)
