"""Person detector: preprocessing, one onnxruntime run, vectorised decoding and NMS."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edgeanon.counting.detections import Detections
from edgeanon.errors import ModelError
from edgeanon.pixels.detector.batch import BatchInput, accepts_batches, split_outputs
from edgeanon.pixels.detector.decode import BoxDecoder, Thresholds
from edgeanon.pixels.detector.geometry import InputGeometry, input_size, size_problem
from edgeanon.pixels.detector.manifest import InputSpec, ModelEntry, read_verified, resolve
from edgeanon.pixels.detector.nanodet import NanoDetDecoder
from edgeanon.pixels.detector.preprocess import Preprocessor
from edgeanon.pixels.detector.session import SessionSettings, build_session, warm_up
from edgeanon.pixels.detector.yolo import YoloDecoder

log = logging.getLogger("edgeanon")


MAX_SIZES = 8  # input sizes kept at once (a preprocessor and an anchor layout each); cameras rarely differ more


class PersonDetector:
    """Holds one session and, per input size, its preallocated buffers; not thread-safe, use one per worker.

    A model with free input dims (the manifest's ``input.multiple``) runs each camera at its own size
    (``input_size_for``): the first frame at a size builds that size's preprocessor and anchor layout and warms
    the session up at that shape (the first run per shape allocates), so later frames never pay for it.
    """

    def __init__(
        self,
        name: str,
        entry: ModelEntry,
        path: Path,
        model_bytes: bytes,
        settings: SessionSettings = SessionSettings(),
        thresholds: Thresholds = Thresholds(),
        geometry: InputGeometry = InputGeometry(),
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
        problem = size_problem(geometry.input, spec)
        if problem is not None:
            raise ModelError(f"{name}: input size {problem}")
        self.geometry = geometry
        self.resize = geometry.resize or spec.resize
        self.input_name = inputs[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.default_size = (spec.width, spec.height)
        self._sizes: OrderedDict[tuple[int, int], tuple[Preprocessor, NanoDetDecoder | YoloDecoder]] = OrderedDict()
        self._slot(self.default_size)
        self._decoders: dict[tuple, BoxDecoder] = {}
        self.batches = accepts_batches(list(inputs[0].shape))  # False: a fixed batch of 1, one run per frame
        self._batch_inputs: dict[tuple[int, int], BatchInput] = {}  # input size (W, H) -> its batch input
        # Summed seconds per step, read by the benchmark's stage breakdown (a few perf_counter calls per frame).
        self.preprocess_s = 0.0
        self.inference_s = 0.0
        self.postprocess_s = 0.0

    @property
    def threads(self) -> int:
        from edgeanon.pixels.detector.session import physical_cores

        return self.settings.threads or physical_cores()

    @property
    def preprocess(self) -> Preprocessor:
        """The preprocessor at the manifest's size (the one every model runs)."""
        return self._slot(self.default_size)[0]

    def preprocessors(self) -> list[Preprocessor]:
        """Every preprocessor held now, one per input size (each holds pixels only during ``infer``)."""
        return [pre for pre, _ in self._sizes.values()]

    def preprocessor(self, size: tuple[int, int]) -> Preprocessor:
        """The preprocessor for model input ``size`` (W, H), created and warmed up on first use."""
        return self._slot(size)[0]

    def _slot(self, size: tuple[int, int]) -> tuple[Preprocessor, NanoDetDecoder | YoloDecoder]:
        slot = self._sizes.get(size)
        if slot is not None:
            self._sizes.move_to_end(size)
            return slot
        spec = self.entry.input
        if size != (spec.width, spec.height):
            problem = size_problem(f"{size[0]}x{size[1]}", spec)
            if problem is not None:
                raise ModelError(f"{self.path}: {problem}")
        pre = Preprocessor(spec.model_copy(update={"width": size[0], "height": size[1], "resize": self.resize}))
        # The first run at a shape allocates arenas and picks kernels (kept out of timings), and gives the output
        # shapes at this size: a model with free dims declares them symbolic.
        shapes = [o.shape for o in warm_up(self.session, {self.input_name: pre.input})]
        slot = (pre, self._family(shapes, size))
        if len(self._sizes) >= MAX_SIZES:
            old, _ = self._sizes.popitem(last=False)  # least recently used; its buffers are zero between frames
            log.warning("%s: more than %d input sizes in use; dropped %dx%d", self.name, MAX_SIZES, *old)
        self._sizes[size] = slot
        return slot

    def _family(self, shapes: list, size: tuple[int, int]) -> NanoDetDecoder | YoloDecoder:
        entry = self.entry
        if entry.family == "nanodet":
            return NanoDetDecoder(
                shapes,
                size[0],
                size[1],
                len(entry.classes),
                entry.person_class,
                entry.strides or (8, 16, 32),
                entry.reg_max if entry.reg_max is not None else 10,
                where=str(self.path),
            )
        return YoloDecoder(shapes, len(entry.classes), entry.person_class, where=str(self.path))

    def input_size_for(
        self, setting: str | None, region_w: int, region_h: int, frame_w: int | None = None, frame_h: int | None = None
    ) -> tuple[int, int]:
        """The model input (W, H) for a camera's ``setting`` (``cameras[].input``; None: ``detector.input``) and
        a region of ``region_w`` x ``region_h`` pixels of a frame_w x frame_h frame (default: the whole frame)."""
        frame = (frame_w, frame_h) if frame_w and frame_h else None
        return input_size(region_w, region_h, setting or self.geometry.input, self.entry.input, frame)

    def _size_of(self, image_shape: tuple[int, ...], size: tuple[int, int] | None) -> tuple[int, int]:
        if size is not None:
            return size
        h, w = image_shape[:2]
        return self.input_size_for(None, w, h)

    def infer(
        self,
        image: npt.NDArray[np.uint8],
        size: tuple[int, int] | None = None,
        before_run: Callable[[], None] | None = None,
    ) -> list[np.ndarray]:
        """Preprocess ``image`` (a frame, or a view of a region of one: read in place, never copied) at model
        input ``size`` (W, H; None: ``detector.input`` for this image) and run; the pixel buffers are zeroed
        before this returns.

        ``before_run`` is called between preprocessing and ``session.run`` (the runner hands the previous
        frame's results on there, so their Python work overlaps the run, which holds no GIL).
        """
        pre = self._slot(self._size_of(image.shape, size))[0]
        t0 = time.perf_counter()
        try:
            feed = {self.input_name: pre(image)}
            t1 = time.perf_counter()
            self.preprocess_s += t1 - t0
            if before_run is not None:
                before_run()
                t1 = time.perf_counter()
            out = self.session.run(self.output_names, feed)
            self.inference_s += time.perf_counter() - t1
            return out
        finally:
            pre.scrub()

    def infer_batch(
        self,
        images: Sequence[npt.NDArray[np.uint8]],
        size: tuple[int, int] | None = None,
        before_run: Callable[[], None] | None = None,
    ) -> list[list[np.ndarray]]:
        """Outputs per image, in order, of one ``session.run`` over ``images`` (frames, or views of regions of
        frames) at one model input ``size`` (W, H; None: ``detector.input`` for the first image). Every pixel
        buffer is zeroed before this returns. A model whose batch dim is fixed at 1 runs them one by one.
        """
        size = self._size_of(images[0].shape, size)
        if not self.batches or len(images) == 1:
            return [self.infer(image, size, before_run if i == 0 else None) for i, image in enumerate(images)]
        pre = self._slot(size)[0]
        batch = self._batch_input(size, len(images))
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
            for old in [s for s in self._batch_inputs if s not in self._sizes]:  # bounded like the sizes
                del self._batch_inputs[old]  # zero, as every batch input between runs
            batch = self._batch_inputs[size] = BatchInput(n, size[1], size[0])
        return batch

    def postprocess(
        self, outputs: list[np.ndarray], image_shape: tuple[int, ...], size: tuple[int, int] | None = None
    ) -> Detections:
        t0 = time.perf_counter()
        try:
            return self.decoder_for(image_shape, size)(outputs)
        finally:
            self.postprocess_s += time.perf_counter() - t0

    def decoder_for(
        self,
        image_shape: tuple[int, ...],
        size: tuple[int, int] | None = None,
        origin: tuple[int, int] = (0, 0),
        frame_shape: tuple[int, ...] | None = None,
    ) -> BoxDecoder:
        """Everything needed to decode this model's outputs at input ``size`` (None: as ``infer``) for an image
        of ``image_shape`` (h, w, ...) whose top-left pixel is at ``origin`` (x, y) of a frame of ``frame_shape``
        (default: the image is the frame). Boxes come out in frame pixels, clipped to the image's rectangle.
        Numbers only, frozen, so decoding can run in any thread; kept per image, size and origin (a few)."""
        h, w = image_shape[:2]
        size = self._size_of(image_shape, size)
        fh, fw = frame_shape[:2] if frame_shape is not None else (h + origin[1], w + origin[0])
        key = (h, w, size, origin, fh, fw)
        decoder = self._decoders.get(key)
        if decoder is None:
            pre, family = self._slot(size)
            scale, offset = pre.mapping(h, w)
            image = None if (origin, (fw, fh)) == ((0, 0), (w, h)) else (w, h)
            decoder = BoxDecoder(family, scale, offset, (fw, fh), self.thresholds, tuple(origin), image)  # type: ignore[arg-type]
            if len(self._decoders) < 32:  # bounded: sizes and regions change rarely (a reconnect, a new stream)
                self._decoders[key] = decoder
        return decoder

    def __call__(self, image: npt.NDArray[np.uint8], size: tuple[int, int] | None = None) -> Detections:
        """People in ``image`` (a whole frame) at input ``size`` (None: ``detector.input``, auto by default)."""
        shape = image.shape
        size = self._size_of(shape, size)
        return self.postprocess(self.infer(image, size), shape, size)


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
    geometry: InputGeometry = InputGeometry(),
) -> PersonDetector:
    """Resolve a manifest name, verify the file's sha256, and build a warmed-up detector."""
    name, entry, path = resolve(model, models_directory)
    data = read_verified(path, entry)
    return PersonDetector(name, entry, path, data, settings, thresholds, geometry)
