"""Rule (issue 14): ``web/`` imports only counting's result and bin types, ``guidebook.policy`` and
``config.names``, besides its own modules, the ground floor (errors, resources, logs, ``__version__``) and
``outputs.live``: the camera status that capture writes and the pages and health checks read. The config reaches
the pages as ``web.site`` views, built by ``run.views``."""

from __future__ import annotations

from tests.helpers.import_rules import GROUND_FLOOR, folder_violations, violations

RULE = {
    "edgeanon.counting.results": None,
    "edgeanon.counting.bins": None,
    "edgeanon.guidebook.policy": None,
    "edgeanon.config.names": None,
    "edgeanon.outputs.live": None,
    "edgeanon.web.": None,
    **GROUND_FLOOR,
}


def test_web_imports_only_results_bins_policy_names_and_camera_status():
    assert folder_violations("web", RULE) == []


def test_the_rule_flags_the_config_models_and_other_outputs():
    source = (
        "from edgeanon.outputs.live import CameraStatus\n"
        "from edgeanon.web.site import SiteView\n"
        "from edgeanon.config.names import PBKDF2_MIN_ITERATIONS\n"
        "def render():\n"
        "    from edgeanon.config.schema import Camera, Config\n"  # line 5: what pages.py once imported
        "    from edgeanon.outputs.store import AggregateStore\n"  # line 6: only outputs.live is allowed
    )
    found = violations(source, "edgeanon.web.example", RULE)
    assert found == [
        "edgeanon.web.example:5 imports edgeanon.config.schema (Camera, Config)",
        "edgeanon.web.example:6 imports edgeanon.outputs.store (AggregateStore)",
    ]
