"""Person detection: frames in, ``Detections`` (numbers) out.

The frame is released after this stage, or, when the attribute stage (``edgeanon.pixels.faces``) is enabled,
after that stage has run on the same frame; nothing after either sees pixels (see DESIGN section 1).
"""

from edgeanon.pixels.detector.detector import PersonDetector, Thresholds, load_detector
from edgeanon.pixels.detector.session import SessionSettings, physical_cores

__all__ = ["PersonDetector", "SessionSettings", "Thresholds", "load_detector", "physical_cores"]
