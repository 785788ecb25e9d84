"""The guidebook's rules as data: which purposes exist, what each allows, and what is refused outright.

Source: METI/MIC "カメラ画像利活用ガイドブック ver3.0" (Camera Image Utilization Guidebook, 2022-03-30).
The config is validated against these tables at load time, and the runner and the aggregation layer
consult them again at run time, so a purpose that is not declared cannot produce a number.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgeanon.errors import EdgeanonError


class PolicyError(EdgeanonError):
    """Something the declared purposes or the guidebook rules do not allow."""


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    phase: str  # guidebook phase: planning, notice, acquisition, handling, management
    text: str


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "R1-purpose",
            "planning / 企画時",
            "Use camera images only for a specific, declared purpose that people can reasonably predict "
            "(利用目的の特定); every analytic must serve a declared purpose.",
        ),
        Rule(
            "R2-discard",
            "acquisition / 取得時",
            "Discard the camera image promptly once what the purpose needs has been extracted; raw frames "
            "are never kept (カメラ画像の速やかな破棄).",
        ),
        Rule(
            "R3-no-identification",
            "handling / 取扱い時",
            "Do not identify individuals: no identification, no face recognition, no re-identification "
            "across visits or cameras (個人の識別を行わない).",
        ),
        Rule(
            "R4-no-feature-data",
            "handling / 取扱い時",
            "Do not compute, keep or export feature data (特徴量データ) such as face features or embeddings: "
            "it can identify a person.",
        ),
        Rule(
            "R5-no-sensitive",
            "handling / 取扱い時",
            "Do not estimate sensitive categories such as race, ethnicity, religion, disability or health, and "
            "take care that attribute-based outputs do not lead to discriminatory treatment (差別的取扱いの防止).",
        ),
        Rule(
            "R6-retention",
            "management / 管理時",
            "Keep aggregates no longer than needed, within the policy maximum, and delete them when the "
            "retention ends (保存期間の設定と削除).",
        ),
        Rule(
            "R7-notice",
            "notice / 事前告知時",
            "Tell people beforehand who operates the cameras, for what, what is kept and for how long, and "
            "whom to contact (事前告知).",
        ),
    )
}

# Purposes that may be declared, and the outputs each one allows.
PURPOSES: dict[str, frozenset[str]] = {
    "occupancy": frozenset({"camera_occupancy", "zone_occupancy", "site_occupancy"}),
    # movement attributes derived from track motion alone (no extra model): heading and speed band per zone
    # visit, group size per line crossing
    "flow": frozenset({"line_crossings", "zone_heading", "zone_speed", "line_group_size"}),
    "dwell": frozenset({"zone_dwell"}),
    "heatmap": frozenset({"heatmap"}),
    "queue": frozenset({"queue_length", "queue_wait"}),
    # opt-in, machine-estimated coarse age band and gender (the guidebook's worked store example); needs a
    # justification and an explicit `attributes.estimate` list in the config
    "attributes": frozenset({"age_band", "gender"}),
}
OUTPUTS: frozenset[str] = frozenset().union(*PURPOSES.values())

PURPOSE_DESCRIPTIONS = {
    "occupancy": (
        "How many people are in the store and in each area right now.",
        "店内および各エリアの現在の人数の把握",
    ),
    "flow": (
        "How many people pass through entrances and aisles, in each direction.",
        "入口・通路を通過する人数（方向別）の計測",
    ),
    "dwell": ("How long people stay in an area, as a distribution.", "エリアごとの滞在時間の分布の把握"),
    "heatmap": ("Which parts of the floor are used, on a coarse grid.", "粗い格子単位での売場の利用状況の把握"),
    "queue": ("How long checkout queues are and how long the wait is.", "レジ待ち行列の長さと待ち時間の推定"),
    "attributes": (
        "Machine estimate of gender and coarse age group, kept only as statistics.",
        "性別・年代の推定（統計情報としてのみ保持）",
    ),
}

# Things a config might ask for and that are refused, each with the rule that forbids it.
FORBIDDEN_PURPOSES: dict[str, str] = {
    "identification": "R3-no-identification",
    "identity": "R3-no-identification",
    "face_recognition": "R3-no-identification",
    "reidentification": "R3-no-identification",
    "re_identification": "R3-no-identification",
    "tracking_across_visits": "R3-no-identification",
    "face_features": "R4-no-feature-data",
    "face_embeddings": "R4-no-feature-data",
    "embeddings": "R4-no-feature-data",
    "face_descriptor": "R4-no-feature-data",
    "race": "R5-no-sensitive",
    "ethnicity": "R5-no-sensitive",
    "religion": "R5-no-sensitive",
    "disability": "R5-no-sensitive",
    "health": "R5-no-sensitive",
    "emotion": "R5-no-sensitive",
    "recording": "R2-discard",
    "keep_frames": "R2-discard",
}

# The only attributes that may be estimated (purpose "attributes"); anything else is refused at load time.
ATTRIBUTE_ESTIMATES: tuple[str, ...] = ("age_band", "gender")

# Attribute kind (a key of attributes.bins.KINDS) -> the output a declared purpose must allow for it.
ATTRIBUTE_OUTPUTS: dict[str, str] = {
    "heading": "zone_heading",
    "speed": "zone_speed",
    "group_size": "line_group_size",
    "age_band": "age_band",
    "gender": "gender",
}

MAX_AGGREGATE_RETENTION_DAYS = 400
MAX_AUDIT_RETENTION_DAYS = 1825


def refusal(rule_id: str, what: str) -> str:
    """A refusal message that quotes the rule, so the operator learns why, not just that."""
    rule = RULES[rule_id]
    return f"refused: {what}. Rule {rule.id} ({rule.phase}): {rule.text}"


def attribute_problem(word: str) -> str | None:
    """Why ``word`` may not be listed in ``attributes.estimate`` (a refusal quoting the rule, or a plain list of
    what is allowed), or None when it is one of ATTRIBUTE_ESTIMATES."""
    key = word.strip().lower().replace("-", "_").replace(" ", "_")
    if key in ATTRIBUTE_ESTIMATES:
        return None
    if key in FORBIDDEN_PURPOSES:
        return refusal(FORBIDDEN_PURPOSES[key], f"estimating {word!r}")
    allowed = ", ".join(ATTRIBUTE_ESTIMATES)
    return f"unknown attribute {word!r}; the only attributes that can be estimated are: {allowed}"


def allowed_outputs(purposes: set[str] | frozenset[str]) -> frozenset[str]:
    return frozenset().union(*(PURPOSES[p] for p in purposes if p in PURPOSES))


def require(purposes: frozenset[str] | set[str], output: str) -> None:
    """Raise unless a declared purpose allows ``output``; the run-time twin of the load-time check."""
    if output not in OUTPUTS:
        raise PolicyError(f"unknown output {output!r}")
    if output not in allowed_outputs(purposes):
        needed = sorted(p for p, outs in PURPOSES.items() if output in outs)
        raise PolicyError(refusal("R1-purpose", f"{output} needs a declared purpose ({' or '.join(needed)})"))


def allows(purposes: set[str] | frozenset[str], output: str) -> bool:
    """Whether a declared purpose allows ``output``: the one question code outside ``policy`` asks of purposes."""
    return output in allowed_outputs(purposes)


def purpose_of(output: str) -> str:
    """The purpose that allows ``output`` (each output belongs to exactly one purpose)."""
    return next(p for p, outs in PURPOSES.items() if output in outs)
