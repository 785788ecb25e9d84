"""Where things are: the checkout, the bundled test media and labels, the shipped default config."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
CLIP = DATA / "vtest-0-249.avi"
STILLS = DATA / "stills"
LABELS = DATA / "labels"
DEFAULT_CONFIG = ROOT / "configs" / "default.yaml"
