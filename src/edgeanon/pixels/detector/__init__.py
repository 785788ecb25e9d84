"""Person detection: a model's frame in, person boxes (numbers) out (see DESIGN: pixels live only in pixels/).

``PersonDetector`` owns the session and the pixel buffers; ``BoxDecoder`` is what decoding needs without them.
"""

from edgeanon.pixels.detector.decode import BoxDecoder, Thresholds
from edgeanon.pixels.detector.detector import PersonDetector, load_detector
from edgeanon.pixels.detector.session import SessionSettings, physical_cores

__all__ = ["BoxDecoder", "PersonDetector", "SessionSettings", "Thresholds", "load_detector", "physical_cores"]
