"""Purposes are interpreted only by ``policy``: notice and assess ask it what a set of purposes allows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edgeanon.guidebook import policy
from edgeanon.guidebook.assess import planning
from edgeanon.guidebook.notice.texts_en import EN
from edgeanon.guidebook.notice.texts_ja import JA

GUIDEBOOK = Path(__file__).resolve().parents[2] / "src" / "edgeanon" / "guidebook"
PURPOSE_IDS = "|".join(map(re.escape, policy.PURPOSES))


@pytest.mark.parametrize("path", sorted(p for p in GUIDEBOOK.rglob("*.py") if p.name != "policy.py"), ids=str)
def test_purposes_are_read_only_through_policy(path):
    text = path.read_text(encoding="utf-8")
    # every use of the declared purposes goes straight into a policy function
    for line in text.splitlines():
        assert "purpose_ids" not in line or "policy." in line, line
    # no purpose id tested as a string against a set of purposes
    assert not re.search(rf"""["']({PURPOSE_IDS})["']\s+(not\s+)?in\s+\w*purpose""", text)
    assert not re.search(rf"""purpose\w*\s*(==|!=|<=|>=)\s*\{{?["']({PURPOSE_IDS})["']""", text)


def test_per_purpose_tables_cover_every_purpose():
    for table in (EN.intros, JA.intros, EN.descriptions, JA.descriptions, planning._NEEDS):
        assert set(table) == set(policy.PURPOSES)


def test_allows_and_purpose_of():
    assert policy.allows({"flow"}, "zone_heading") and not policy.allows({"occupancy"}, "zone_heading")
    for purpose, outputs in policy.PURPOSES.items():
        assert all(policy.purpose_of(o) == purpose for o in outputs)
