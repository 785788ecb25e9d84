"""The opt-in face attribute stage in the pipeline tests: the default config with the purpose declared, and the
modules that make up the stage (which must not even be imported while it is not declared)."""

from __future__ import annotations

import yaml

from edgeanon.config.loader import parse_config
from tests.helpers.paths import DEFAULT_CONFIG

JUSTIFICATION = "Estimate the age band and gender mix of people passing, kept only as statistics per hour."
STAGE_MODULES = ("edgeanon.pixels.faces.stage", "edgeanon.pixels.faces.detector", "edgeanon.pixels.faces.estimate")


def attribute_config(min_face_px: int = 32, k: int = 1, estimate=("age_band", "gender")):
    """The shipped default config over the clip, read once as fast as possible, with attributes declared."""
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["cameras"][0]["source"].update({"realtime": False, "loop": False})
    data["purposes"].append({"id": "attributes", "justification": JUSTIFICATION})
    data["attributes"] = {"estimate": list(estimate), "min_face_px": min_face_px}
    data["privacy"] = {"k": k}
    return parse_config(yaml.safe_dump(data), "test-config")
