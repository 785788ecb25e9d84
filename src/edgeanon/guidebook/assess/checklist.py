"""The whole checklist: every phase's checks, in guidebook order."""

from __future__ import annotations

from pathlib import Path

from edgeanon.config.schema import Config
from edgeanon.guidebook.assess.acquisition import check_acquisition
from edgeanon.guidebook.assess.handling import check_handling
from edgeanon.guidebook.assess.item import PHASES, Item
from edgeanon.guidebook.assess.management import check_management
from edgeanon.guidebook.assess.planning import check_planning
from edgeanon.guidebook.assess.prior_notice import check_prior_notice


def assess(cfg: Config, *, path: str | Path | None = None) -> list[Item]:
    """The checklist for ``cfg``, grouped by guidebook phase in ``PHASES`` order.

    ``path`` (optional) is the config file: with it, the credentials check looks at its permissions.
    """
    items = [
        *check_planning(cfg),
        *check_prior_notice(cfg),
        *check_acquisition(cfg),
        *check_handling(cfg),
        *check_management(cfg, path),
    ]
    order = list(PHASES)
    return sorted(items, key=lambda i: order.index(i.phase))  # stable: keeps the order within a phase
