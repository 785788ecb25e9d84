"""Rule (issue 14): ``outputs/`` imports only counting's result and bin types, ``guidebook.policy`` and
``config.names``, besides its own modules and the ground floor (errors, resources, logs, ``__version__``)."""

from __future__ import annotations

from tests.helpers.import_rules import GROUND_FLOOR, folder_violations, violations

RULE = {
    "edgeanon.counting.results": None,
    "edgeanon.counting.bins": None,
    "edgeanon.guidebook.policy": None,
    "edgeanon.config.names": None,
    "edgeanon.outputs.": None,
    **GROUND_FLOOR,
}


def test_outputs_import_only_results_bins_policy_and_names():
    assert folder_violations("outputs", RULE) == []


def test_the_rule_flags_what_it_forbids_also_inside_functions():
    source = (
        "from edgeanon import __version__\n"
        "from edgeanon.counting.results import Bucket, FrameResult\n"
        "from edgeanon.counting.bins import KINDS\n"
        "from edgeanon.outputs.store_rows import bucket_rows\n"
        "from edgeanon.guidebook import policy\n"
        "from edgeanon.config.schema import Config\n"  # line 6: the config models
        "def f():\n"
        "    from edgeanon.counting.aggregate import suppress\n"  # line 8: not a result type
        "    import edgeanon.web.server\n"  # line 9
        "    from edgeanon import logs, cli\n"  # line 10: cli is not ground floor
    )
    found = violations(source, "edgeanon.outputs.example", RULE)
    assert [v.split(" ")[0] for v in found] == [
        "edgeanon.outputs.example:6",
        "edgeanon.outputs.example:8",
        "edgeanon.outputs.example:9",
        "edgeanon.outputs.example:10",
    ]
    assert violations("from .store import AggregateStore\nfrom ..run import service\n", "edgeanon.outputs.x", RULE) == [
        "edgeanon.outputs.x:2 imports edgeanon.run (service)"
    ]
