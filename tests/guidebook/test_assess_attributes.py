"""The planning check with attributes: movement under flow, opt-in age band and gender, and what is refused."""

from __future__ import annotations

from typing import Any

import pytest

from edgeanon.counting.bins import AGE_BANDS, GENDERS
from edgeanon.guidebook import policy
from edgeanon.guidebook.assess.acquisition import MIN_FACE_PX
from edgeanon.guidebook.assess.checklist import assess
from edgeanon.guidebook.assess.item import PHASES
from edgeanon.guidebook.assess.report import exit_code, render
from tests.helpers.assessment import BASE, build, by_id, not_passing

ATTR_PURPOSE = {
    "id": "attributes",
    "justification": "Count visitors by coarse age group and gender to plan the product range of the store.",
}


def with_attributes(estimate: list[str] | None = None, **attributes: Any) -> dict[str, Any]:
    return {
        "purposes": [*BASE["purposes"], ATTR_PURPOSE],
        "attributes": {"estimate": estimate or ["age_band", "gender"], **attributes},
    }


def test_without_attributes_says_none_are_estimated():
    items = by_id(assess(build()))
    item = items["handling.attributes"]
    assert item.status == "pass"
    assert "No age band or gender is estimated" in item.reason and "never loaded" in item.reason
    assert "acquisition.min-face" not in items and "handling.attributes-use" not in items
    assert items["handling.identification"].status == "pass"


def test_attributes_section_without_estimate_estimates_nothing():
    items = by_id(assess(build({"attributes": {"estimate": []}})))
    assert "No age band or gender is estimated" in items["handling.attributes"].reason
    assert "acquisition.min-face" not in items and not_passing(list(items.values())) == {}


def test_with_attributes_only_the_reminder_warns():
    items = assess(build(with_attributes()))
    assert not_passing(items) == {"handling.attributes-use": "warn"}
    assert exit_code(items) == 0  # warnings are advice, not errors
    got = by_id(items)
    assert got["handling.identification"].status == "pass"
    assert got["acquisition.min-face"].status == "pass" and f"{MIN_FACE_PX}" in got["acquisition.min-face"].reason
    use = got["handling.attributes-use"].reason
    for phrase in ("machine estimates", "small faces", "seen from above", "discriminatory treatment", "取扱い時"):
        assert phrase in use, phrase


def test_attributes_item_lists_what_is_estimated_and_what_is_refused():
    reason = by_id(assess(build(with_attributes())))["handling.attributes"].reason
    assert "age band (" + ", ".join(AGE_BANDS) in reason and "gender (" + ", ".join(GENDERS) + ")" in reason
    assert "by machine" in reason and "keypoints cut out" in reason
    for word, rule in policy.FORBIDDEN_PURPOSES.items():
        if rule == "R2-discard":
            continue
        assert rule in reason
        if word != "re_identification":  # shown once, as "reidentification"
            assert word.replace("_", " ") in reason, word
    for word in ("race", "ethnicity", "emotion", "religion", "disability", "health", "identity", "face embeddings"):
        assert word in reason


def test_only_gender():
    items = by_id(assess(build(with_attributes(["gender"]))))
    reason = items["handling.attributes"].reason
    assert "gender (female, male)" in reason and "age band (" not in reason
    assert "gender at its zones and lines" in items["acquisition.output.door"].reason
    assert "age band" not in items["acquisition.output.door"].reason


@pytest.mark.parametrize(("px", "status"), [(12, "warn"), (24, "warn"), (31, "warn"), (32, "pass"), (48, "pass")])
def test_min_face_px(px, status):
    items = assess(build(with_attributes(min_face_px=px)))
    item = by_id(items)["acquisition.min-face"]
    assert item.status == status, item.reason
    assert item.phase == "acquisition"
    assert f"min_face_px is {px}" in item.reason
    if status == "warn":
        assert f">= {MIN_FACE_PX}" in item.reason and "64x64" in item.reason and "face_too_small" in item.reason
    # the face size changes this item only
    assert set(not_passing(items)) - {"acquisition.min-face"} == {"handling.attributes-use"}


def test_movement_attributes_under_flow():
    items = by_id(assess(build()))
    assert "heading (8 screen directions)" in items["handling.attributes"].reason
    assert "group size (1, 2, 3, 4+)" in items["handling.attributes"].reason
    assert "heading and speed band" in items["acquisition.output.door"].reason
    assert "group size" in items["acquisition.output.door"].reason
    assert "zone_movement over floor" in items["planning.purpose-used.flow"].reason
    assert "line_groups over door" in items["planning.purpose-used.flow"].reason
    assert "Heading, speed band and group size bins" in items["handling.small-cells"].reason


def test_no_movement_without_flow():
    cam = {k: v for k, v in BASE["cameras"][0].items() if k != "lines"}
    items = by_id(assess(build({"purposes": [BASE["purposes"][0]], "cameras": [cam], "entrances": []})))
    assert "heading" not in items["handling.attributes"].reason
    assert "heading" not in items["acquisition.output.door"].reason
    assert "Heading" not in items["handling.small-cells"].reason


def test_flow_on_zones_alone_is_used():
    """Heading and speed band per zone visit are flow outputs: flow with zones and no line is not unused."""
    cam = {k: v for k, v in BASE["cameras"][0].items() if k != "lines"}
    items = by_id(assess(build({"cameras": [cam], "entrances": []})))
    assert items["planning.purpose-used.flow"].status == "pass"
    assert "zone_movement over floor" in items["planning.purpose-used.flow"].reason


def test_attributes_purpose_used_needs_a_place():
    items = by_id(assess(build(with_attributes())))
    assert items["planning.purpose-used.attributes"].status == "pass"
    assert "over floor, door" in items["planning.purpose-used.attributes"].reason
    bare = {"id": "door", "source": {"kind": "device", "index": 0}}
    over = {**with_attributes(), "purposes": [BASE["purposes"][0], ATTR_PURPOSE], "cameras": [bare], "entrances": []}
    item = by_id(assess(build(over)))["planning.purpose-used.attributes"]
    assert item.status == "warn" and "zone or line" in item.reason


@pytest.mark.parametrize(
    ("over", "status"),
    [
        ({"privacy": {"k": 3}, "aggregation": {"bucket_seconds": 60}}, "warn"),
        ({"privacy": {"k": 5}, "aggregation": {"bucket_seconds": 60}}, "pass"),
        ({"privacy": {"k": 3}}, "pass"),
        ({"privacy": {"k": 2}}, "warn"),
    ],
)
def test_small_cells_with_age_and_gender_bins(over, status):
    item = by_id(assess(build({**with_attributes(), **over})))["handling.small-cells"]
    assert item.status == status, item.reason
    assert "age band and gender bins" in item.reason or "attribute bin" in item.reason


def test_retention_reason_mentions_attributes():
    item = by_id(assess(build(with_attributes())))["management.retention"]
    assert item.status == "pass" and "age band and gender statistics" in item.reason


def test_fail_still_means_exit_code_1():
    items = assess(
        build({**with_attributes(min_face_px=16), "http": {"host": "0.0.0.0", "allow_unauthenticated": True}})
    )
    assert exit_code(items) == 1
    assert by_id(items)["acquisition.min-face"].status == "warn"
    assert exit_code([i for i in items if i.status != "fail"]) == 0


def test_phases_ids_and_rendering():
    items = assess(build(with_attributes(min_face_px=20)))
    order = list(PHASES)
    assert [order.index(i.phase) for i in items] == sorted(order.index(i.phase) for i in items)
    assert len({i.id for i in items}) == len(items)
    assert all(i.id.startswith(i.phase + ".") for i in items)
    got = by_id(items)
    assert got["handling.attributes"].phase == got["handling.attributes-use"].phase == "handling"
    text = render(items, "text")
    assert "[WARN] Faces too small to estimate are skipped  (acquisition.min-face)" in text
    assert "(handling.attributes-use)" in text
    md = render(items, "markdown")
    assert "| **WARN** | `handling.attributes-use`" in md and "| **PASS** | `handling.attributes`" in md
