"""Person detection: the last stage that sees pixels (see DESIGN: pixels live only up to here)."""

from edgeanon.pixels.detector.detector import PersonDetector, Thresholds, load_detector
from edgeanon.pixels.detector.session import SessionSettings, physical_cores

__all__ = ["PersonDetector", "SessionSettings", "Thresholds", "load_detector", "physical_cores"]
