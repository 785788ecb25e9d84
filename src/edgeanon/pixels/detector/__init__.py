"""Person detection: frames in, ``Detections`` (numbers) out.

The frame is released after this stage, or, when the attribute stage (``edgeanon.pixels.faces``) is enabled,
after that stage has run on the same frame; nothing after either sees pixels (see DESIGN section 1).
``PersonDetector`` owns the session and the pixel buffers; ``BoxDecoder`` is what decoding needs without them,
so raw outputs can be decoded in the analytics thread.
"""

from edgeanon.pixels.detector.decode import BoxDecoder, Thresholds
from edgeanon.pixels.detector.detector import PersonDetector, load_detector
from edgeanon.pixels.detector.geometry import InputGeometry
from edgeanon.pixels.detector.session import SessionSettings, physical_cores

__all__ = [
    "BoxDecoder",
    "InputGeometry",
    "PersonDetector",
    "SessionSettings",
    "Thresholds",
    "load_detector",
    "physical_cores",
]
