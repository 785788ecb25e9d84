"""Config and policy for attributes: what may be estimated, what is refused (with the rule), movement settings."""

from __future__ import annotations

import pytest

from edgeanon.config.errors import ConfigError
from edgeanon.config.loader import parse_config
from edgeanon.guidebook import policy
from edgeanon.guidebook.notice.render import render_notice

BASE = """\
operator: {name: Shop K.K., accountable: manager, contact: privacy@shop.example}
purposes:
  - {id: occupancy, justification: staff the floor}
  - {id: flow, justification: count visitors per hour}
  - id: attributes
    justification: Count visitors by coarse age group and gender to plan the product range.
cameras:
  - id: door
    source: {kind: device, index: 0}
    zones:
      - {name: hall, polygon: [[0, 0], [100, 0], [100, 100]]}
    lines:
      - {name: entrance, a: [0.5, 0.1], b: [0.5, 0.9], normalized: true}
"""


def load(text: str):
    return parse_config(text, "site.yaml")


def error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(text)
    return str(info.value)


def test_purposes_and_outputs():
    assert {"zone_heading", "zone_speed", "line_group_size"} <= policy.PURPOSES["flow"]
    assert policy.PURPOSES["attributes"] == {"age_band", "gender"}
    assert policy.PURPOSE_DESCRIPTIONS["attributes"][1] == "性別・年代の推定（統計情報としてのみ保持）"
    assert set(policy.PURPOSES) == set(policy.PURPOSE_DESCRIPTIONS)
    assert set(policy.ATTRIBUTE_OUTPUTS.values()) <= policy.OUTPUTS


def test_good_attribute_config_loads_and_notice_renders():
    cfg = load(BASE + "attributes:\n  estimate: [age_band, Gender]\n  min_face_px: 40\n")
    assert cfg.attributes is not None and cfg.attributes.estimate == ["age_band", "gender"]
    assert cfg.attributes.enabled and cfg.attributes.min_face_px == 40 and cfg.attributes.threads == 1
    for lang in ("ja", "en"):
        assert render_notice(cfg, lang, "txt")


@pytest.mark.parametrize(
    ("word", "rule"),
    [
        ("race", "R5-no-sensitive"),
        ("ethnicity", "R5-no-sensitive"),
        ("emotion", "R5-no-sensitive"),
        ("religion", "R5-no-sensitive"),
        ("disability", "R5-no-sensitive"),
        ("health", "R5-no-sensitive"),
        ("identity", "R3-no-identification"),
        ("identification", "R3-no-identification"),
        ("face_recognition", "R3-no-identification"),
        ("Face-Recognition", "R3-no-identification"),
        ("face_embeddings", "R4-no-feature-data"),
        ("embeddings", "R4-no-feature-data"),
        ("face_features", "R4-no-feature-data"),
    ],
)
def test_forbidden_attributes_are_refused_at_load_with_the_rule(word, rule):
    msg = error(BASE + "attributes:\n  estimate:\n    - gender\n    - " + word + "\n")
    assert msg.startswith("site.yaml:17: attributes.estimate.1: refused: estimating"), msg
    assert f"Rule {rule}" in msg and policy.RULES[rule].text in msg
    assert msg.count("\n") == 0  # one error, one line


def test_forbidden_attribute_is_also_refused_as_a_purpose():
    msg = error(BASE.replace("id: attributes", "id: identity"))
    assert "purposes.2.id: refused" in msg and "R3-no-identification" in msg


def test_unknown_attribute_lists_the_allowed_ones():
    msg = error(BASE + "attributes: {estimate: [age_band, height]}\n")
    assert msg == (
        "site.yaml:14: attributes.estimate.1: unknown attribute 'height'; the only attributes that can be estimated "
        "are: age_band, gender"
    )


def test_attribute_listed_twice():
    assert "attributes.estimate.1: 'gender' is listed twice" in error(
        BASE + "attributes: {estimate: [gender, gender]}\n"
    )


def test_estimate_without_the_purpose_is_refused():
    text = BASE.replace(
        "  - id: attributes\n    justification: Count visitors by coarse age group and gender to plan the product "
        "range.\n",
        "",
    )
    msg = error(text + "attributes:\n  estimate: [gender]\n")
    assert msg.startswith("site.yaml:13: attributes.estimate: refused:") and "R1-purpose" in msg
    assert load(text + "attributes:\n  estimate: []\n").attributes.enabled is False  # nothing estimated: fine


def test_the_purpose_needs_an_estimate_list_and_a_real_justification():
    msg = error(BASE)
    assert msg.startswith("site.yaml:5: purposes.2.id: refused:") and "attributes.estimate" in msg
    short = BASE.replace("Count visitors by coarse age group and gender to plan the product range.", "marketing")
    msg = error(short + "attributes: {estimate: [gender]}\n")
    assert msg.startswith("site.yaml:6: purposes.2.justification: refused:") and "R1-purpose" in msg


def test_place_names_must_be_unique_with_attributes():
    text = BASE.replace("name: entrance", "name: hall") + "attributes: {estimate: [gender]}\n"
    assert "cameras.0.lines.0.name: 'hall' names both a zone and a line" in error(text)


@pytest.mark.parametrize(
    ("movement", "line", "field", "message"),
    [
        ("{min_face_px: 3}", 12, "cameras.0.movement.min_face_px", "Extra inputs"),
        ("{px_per_metre: 0}", 12, "cameras.0.movement.px_per_metre", "greater than 0"),
        ("{slow_below_mps: 2.0}", 12, "cameras.0.movement.fast_above_mps", "greater than slow_below_mps"),
        ("{group_window_s: .nan}", 12, "cameras.0.movement.group_window_s", "finite"),
    ],
)
def test_movement_settings_errors_name_file_line_field(movement, line, field, message):
    text = (
        BASE.replace("    lines:\n", f"    movement: {movement}\n    lines:\n") + "attributes: {estimate: [gender]}\n"
    )
    msg = error(text)
    assert msg.startswith(f"site.yaml:{line}: {field}: "), msg
    assert message in msg


def test_movement_needs_flow_and_defaults_are_general():
    text = (
        "operator: {name: S, accountable: m, contact: a@b.example}\npurposes:\n  - {id: occupancy, justification: j}\n"
        "cameras:\n  - id: c\n    source: {kind: device, index: 0}\n    movement: {px_per_metre: 50}\n"
    )
    msg = error(text)
    assert msg.startswith("site.yaml:7: cameras.0.movement: refused:") and "'flow'" in msg
    cfg = load(BASE.replace("    lines:\n", "    movement: {}\n    lines:\n") + "attributes: {estimate: [gender]}\n")
    mv = cfg.cameras[0].movement
    assert (mv.px_per_metre, mv.slow_below_mps, mv.fast_above_mps, mv.group_window_s, mv.group_distance_m) == (
        None,
        0.5,
        1.8,
        2.0,
        1.5,
    )


@pytest.mark.parametrize(
    ("section", "field", "message"),
    [
        ("{estimate: [gender], min_face_px: 8}", "attributes.min_face_px", "greater than or equal to 12"),
        ("{estimate: [gender], face_score: 1.5}", "attributes.face_score", "less than 1"),
        ("{estimate: [gender], threads: 0}", "attributes.threads", "greater than or equal to 1"),
        ("{estimate: [gender], keep_crops: true}", "attributes.keep_crops", "Extra inputs"),
    ],
)
def test_attribute_settings_errors(section, field, message):
    msg = error(BASE + f"attributes: {section}\n")
    assert msg.startswith(f"site.yaml:14: {field}: ") and message in msg
