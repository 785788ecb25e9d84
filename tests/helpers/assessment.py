"""A small site on which every check of `edgeanon assess` passes, and the same site with a few keys changed:
the starting point of every assessment case."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from edgeanon.config.loader import parse_config
from edgeanon.config.schema import Config
from edgeanon.guidebook.assess.item import Item

DROP = object()  # an override value that removes the key

# A small site on which every check passes: the starting point of every case below.
BASE: dict[str, Any] = {
    "operator": {
        "name": "Sakura Mart K.K.",
        "accountable": "Store manager, Ebisu branch",
        "contact": "privacy@sakura-mart.example",
        "notice_url": "https://sakura-mart.example/camera-notice",
    },
    "purposes": [
        {"id": "occupancy", "justification": "Keep the number of customers within the fire-safety limit of 80."},
        {"id": "flow", "justification": "Count visitors entering and leaving per hour to plan staff shifts."},
    ],
    "retention": {"aggregates_days": 90},
    "privacy": {"k": 5},
    "schedule": {
        "hours": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "open": "10:00", "close": "20:00"}]
    },
    "cameras": [
        {
            "id": "door",
            "source": {"kind": "device", "index": 0},
            "fps": 10,
            "lines": [{"name": "door", "a": [0.1, 0.7], "b": [0.9, 0.7], "normalized": True}],
            "zones": [{"name": "floor", "polygon": [[0, 0], [1, 0], [1, 0.6]], "normalized": True}],
        }
    ],
    "entrances": [{"camera": "door", "line": "door"}],
    "aggregation": {"bucket_seconds": 300},
    "http": {"host": "127.0.0.1", "port": 9108},
}


def merge(base: Any, over: Any) -> Any:
    if not isinstance(over, dict) or not isinstance(base, dict):
        return copy.deepcopy(over)
    out = copy.deepcopy(base)
    for k, v in over.items():
        if v is DROP:
            out.pop(k, None)
        else:
            out[k] = merge(out.get(k), v)
    return out


def build(over: dict[str, Any] | None = None) -> Config:
    """The base site with ``over`` merged in, written out as YAML and loaded like a real config file."""
    return parse_config(yaml.safe_dump(merge(BASE, over or {}), allow_unicode=True, sort_keys=False))


def by_id(items: list[Item]) -> dict[str, Item]:
    return {i.id: i for i in items}


def not_passing(items: list[Item]) -> dict[str, str]:
    return {i.id: i.status for i in items if i.status != "pass"}
