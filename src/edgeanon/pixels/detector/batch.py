"""Several frames of one input size in one ``session.run`` (config ``detector.batch``, off by default).

A batch spreads a run's fixed cost (thread wake-ups, small layers that don't fill the cores) over its frames,
but on the shared 2-core Xeon it did not make the pipeline cheaper per frame, and it lengthens the delay
(benchmarks/results/BATCH.md): it is there for machines where it measures faster. The frames are
preprocessed straight into the slots of one preallocated input, so batching copies no pixels.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


class BatchInput:
    """A (capacity, 3, H, W) model input for one input size, reused for every batch of that size.

    It holds (downscaled) pixels of up to ``capacity`` frames while a batch runs: ``scrub`` zeroes it.
    """

    def __init__(self, capacity: int, height: int, width: int) -> None:
        self.array = np.zeros((capacity, 3, height, width), np.float32)

    @property
    def capacity(self) -> int:
        return int(self.array.shape[0])

    def slot(self, i: int) -> npt.NDArray[np.float32]:
        """Where frame ``i`` of the batch is preprocessed to (a view, written in place)."""
        return self.array[i]

    def feed(self, n: int):  # -> onnxruntime.OrtValue
        """The first ``n`` slots for ``session.run``. A leading slice of a C-contiguous array is contiguous, and
        an ``OrtValue`` made from it borrows its memory (documented, no copy), whatever ``n`` is."""
        import onnxruntime as ort

        return ort.OrtValue.ortvalue_from_numpy(self.array[:n])

    def scrub(self, n: int | None = None) -> None:
        """Zero the first ``n`` slots (all: None); only those were written since the last scrub."""
        self.array[:n].fill(0)


def accepts_batches(input_shape: list) -> bool:
    """Whether the model's batch dim is free (a name or None in onnxruntime's shape); a fixed 1 means one frame
    per run."""
    return isinstance(input_shape[0], str) or input_shape[0] is None


def split_outputs(outputs: list[np.ndarray], n: int) -> list[list[np.ndarray]]:
    """Per-frame outputs of a batched run: views ``[i:i+1]`` of each output, so decoders see batch 1 as before."""
    return [[o[i : i + 1] for o in outputs] for i in range(n)]
