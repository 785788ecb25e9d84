"""取扱い時 (handling): no identification, only coarse attributes, no discriminatory use, small cells suppressed."""

from __future__ import annotations

from edgeanon.config.schema import Config
from edgeanon.counting.bins import AGE_BANDS, GENDERS, GROUP_SIZES, HEADINGS, SPEED_BANDS
from edgeanon.guidebook import policy
from edgeanon.guidebook.assess.item import Item, Status
from edgeanon.guidebook.notice.content import estimated_attributes, movement_aggregates

K_MIN = 3  # below this a published cell or bin can be one or two people
K_SHORT_BUCKET = 5  # with buckets shorter than SHORT_BUCKET_SECONDS, binned outputs want at least this k
SHORT_BUCKET_SECONDS = 300


def check_handling(cfg: Config) -> list[Item]:
    estimate = estimated_attributes(cfg)
    items = [_identification(), _attributes(cfg, estimate)]
    if estimate:
        items.append(_attributes_use())
    items.append(_small_cells(cfg, bool(estimate)))
    return items


def _identification() -> Item:
    return Item(
        "handling",
        "handling.identification",
        "No identification, feature data or sensitive attributes",
        "pass",
        "refused at load: identification, face recognition and re-identification (R3), face features and "
        "embeddings (R4), race, ethnicity, religion, disability, health and emotion (R5). Tracker IDs stay in "
        "memory and are never exported.",
    )


def _refused() -> str:
    """The refused attributes and purposes, grouped by the rule that refuses them (from ``policy``)."""
    by_rule: dict[str, dict[str, str]] = {}
    for word, rule in policy.FORBIDDEN_PURPOSES.items():
        if rule != "R2-discard":  # recording and keep_frames: not attributes, covered by acquisition.raw-frames
            by_rule.setdefault(rule, {}).setdefault(word.replace("_", ""), word.replace("_", " "))
    return "; ".join(f"{', '.join(words.values())} ({rule})" for rule, words in sorted(by_rule.items()))


def _attributes(cfg: Config, estimate: tuple[str, ...]) -> Item:
    """What is estimated: movement bins under flow, age band and gender only when opted in; what is refused."""
    movement = (
        f"Under flow, from track motion alone (no extra model): heading ({len(HEADINGS)} screen directions) and "
        f"speed band ({', '.join(SPEED_BANDS)}) per zone visit, group size ({', '.join(GROUP_SIZES)}) per line "
        "crossing. "
        if policy.allows(cfg.purpose_ids, "zone_heading")
        else ""
    )
    refused = f"Refused at load, with the rule quoted: {_refused()}."
    if estimate:
        what = []
        if "age_band" in estimate:
            what.append(f"age band ({', '.join(AGE_BANDS)}: no finer than 10 years)")
        if "gender" in estimate:
            what.append(f"gender ({', '.join(GENDERS)})")
        reason = (
            f"{movement}Opt-in (purpose attributes): {' and '.join(what)}, estimated by machine on the device from a "
            "face crop that is zeroed at once; no face features are computed, the face detector's graph has its "
            "facial keypoints cut out, and only the bins reach the aggregate, as counts per bucket when a person "
            f"crosses a line or leaves a zone. {refused}"
        )
    else:
        reason = (
            f"{movement}No age band or gender is estimated: the purpose attributes is not declared, so the face and "
            f"attribute models are never loaded. {refused}"
        )
    return Item("handling", "handling.attributes", "Only coarse, non-identifying attributes", "pass", reason)


def _attributes_use() -> Item:
    return Item(
        "handling",
        "handling.attributes-use",
        "Estimated age and gender not used to treat people differently",
        "warn",
        "age band and gender are machine estimates: unreliable on small faces, on faces seen from above "
        "(elevated and ceiling cameras rarely see a face: watch the skip counts in "
        "edgeanon_attribute_faces_total), on profiles, masks and children, and the gender model errs more "
        "on small faces. The guidebook (取扱い時) asks that attribute-based measures do not lead to "
        "discriminatory treatment: use the counts only as statistics (product range, layout, staffing), never "
        "to treat a person or a group differently by gender or age (price, service, security attention), "
        "and write that into the operating rules. This stays a warning: the software cannot check it.",
    )


def _small_cells(cfg: Config, attrs_on: bool) -> Item:
    k = cfg.privacy.k
    bucket = cfg.aggregation.bucket_seconds
    heat = policy.allows(cfg.purpose_ids, "heatmap") and any(c.heatmap is not None for c in cfg.cameras)
    # age band and gender bins describe the person; movement bins (heading, speed, group size) describe motion and
    # are k-suppressed too, but do not by themselves call for longer buckets
    binned = [n for n, on in (("heatmap", heat), ("age band and gender bins", attrs_on)) if on]
    moving = bool(movement_aggregates(cfg))
    title = "Bucket length and k protect small cells"
    if k < K_MIN:
        status: Status = "warn"
        reason = (
            f"privacy.k is {k}: a heatmap cell or attribute bin with {'one person' if k == 1 else 'one or two people'}"
            f" would be published, and someone on the floor at that moment can tell who it was. Use k >= {K_MIN} "
            "(5 is the default)." + ("" if binned else " No binned output is enabled now, but one may be added later.")
        )
    elif binned and bucket < SHORT_BUCKET_SECONDS and k < K_SHORT_BUCKET:
        status = "warn"
        reason = (
            f"{' and '.join(binned)} with {bucket} s buckets and k={k}: in a short bucket a quiet store has only one "
            f"or two people in a cell, so small cells single people out. Use buckets of >= {SHORT_BUCKET_SECONDS} s or "
            f"k >= {K_SHORT_BUCKET}."
        )
    else:
        status = "pass"
        reason = (
            f"{' and '.join(binned)}: {bucket} s buckets with k={k}; cells or bins under k are suppressed."
            if binned
            else f"no heatmap, age band or gender bins; k={k} applies to binned outputs. Plain people counts are not "
            f"suppressed (they say how many, not who), bucket {bucket} s."
        ) + (" Heading, speed band and group size bins under k are suppressed as well." if moving else "")
    return Item("handling", "handling.small-cells", title, status, reason)
