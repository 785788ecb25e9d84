"""The planning check (企画時のリスク分析): a pass/warn/fail checklist computed from the config alone.

Source: METI/MIC "カメラ画像利活用ガイドブック ver3.0" (2022-03-30). The checks follow the guidebook's phases; the
config loader already refuses what the policy forbids (see ``policy.RULES``), so what is left here is judgement:
is the purpose specific, the capture proportionate, the notice complete, the device safe to expose.

| id                            | phase       | what it checks                                                    |
|-------------------------------|-------------|-------------------------------------------------------------------|
| planning.operator             | 企画時      | an operator and an accountable person/role, not placeholders      |
| planning.contact              | 企画時      | exactly one inquiry contact, well-formed                          |
| planning.justification.<p>    | 企画時      | each justification is specific (``justification_problem``)        |
| planning.purpose-used.<p>     | 企画時      | each declared purpose is used by a camera/zone/line/heatmap       |
| notice.url                    | 事前告知時  | the notice is published on a reachable web address                |
| notice.third-party            | 事前告知時  | third-party provision is stated and recipients are named          |
| acquisition.raw-frames        | 取得時      | raw frames kept: 0 (always passes; frames are zeroed after use)   |
| acquisition.schedule          | 取得時      | cameras run only in opening hours, not all day                    |
| acquisition.fps.<camera>      | 取得時      | analysis rate at most ``FPS_PROPORTIONATE`` fps                   |
| acquisition.output.<camera>   | 取得時      | every camera produces an aggregate some purpose needs             |
| acquisition.min-face          | 取得時      | with attributes: ``attributes.min_face_px`` at least ``MIN_FACE_PX`` |
| handling.identification       | 取扱い時    | no identification, feature data or sensitive attributes           |
| handling.attributes           | 取扱い時    | what is estimated (movement; opt-in age band, gender), what not   |
| handling.attributes-use       | 取扱い時    | with attributes: machine estimates, no discriminatory treatment   |
| handling.small-cells          | 取扱い時    | bucket length and k protect small cells (heatmap/attribute bins)  |
| management.retention          | 管理時      | aggregate retention proportionate to the purposes                 |
| management.endpoint-auth      | 管理時      | no network-reachable endpoint without authentication (fail)       |
| management.endpoint-tls       | 管理時      | TLS when the endpoint is reachable from the network               |
| management.credentials        | 管理時      | stream credentials in the config: file permissions, placeholders  |
| management.cleartext-passwords| 管理時      | no password in clear beyond loopback: http camera, MQTT, push    |

``http.auth`` and ``http.tls`` are read with ``getattr``: absent, ``None``, ``False`` or ``enabled: false`` all mean
"not configured", so this module works before and after those settings exist.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
import textwrap
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from edgeanon.config.names import DAYS, is_loopback
from edgeanon.config.schema import Config
from edgeanon.counting.bins import AGE_BANDS, GENDERS, GROUP_SIZES, HEADINGS, SPEED_BANDS
from edgeanon.guidebook import policy
from edgeanon.guidebook.notice.content import (
    estimated_attributes,
    installer_until,
    kept_aggregates,
    movement_aggregates,
)

Status = Literal["pass", "warn", "fail"]

PHASES: dict[str, str] = {
    "planning": "Planning (企画時)",
    "notice": "Prior notice (事前告知時)",
    "acquisition": "Acquisition (取得時)",
    "handling": "Handling (取扱い時)",
    "management": "Management (管理時)",
}

# ---------------------------------------------------------------- thresholds (each explained where it is used)

JUSTIFICATION_MIN_WIDTH = 25  # display columns: an ASCII character is 1, a Japanese character 2 (≈ 13 characters)
JUSTIFICATION_MIN_WORDS = 3  # distinct specific English words (not stop words, not generic business words)
JUSTIFICATION_MIN_CJK = 4  # kanji/katakana/latin characters left once generic terms and kana are removed
FPS_PROPORTIONATE = 15.0  # counting walking people needs no more (people move ~1.4 m/s; 10 fps is plenty for lines)
RETENTION_OPERATIONAL_DAYS = 180  # occupancy/flow/queue only: live decisions and hour/weekday planning
RETENTION_LAYOUT_DAYS = 366  # with dwell or heatmap: compare a floor layout with the same season last year
K_MIN = 3  # below this a published cell or bin can be one or two people
K_SHORT_BUCKET = 5  # with buckets shorter than SHORT_BUCKET_SECONDS, binned outputs want at least this k
SHORT_BUCKET_SECONDS = 300
# The age and gender models take 64x64 crops and were trained on roughly frontal faces of about that size; below
# ~32 px a face is upscaled from too few pixels and the estimate is unreliable (BlazeFace itself finds faces down
# to about 16 px, 1/16 of its 256 input, at best).
MIN_FACE_PX = 32


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_STOP = _wordset(
    "a an the to for of and or in on at by with our we us is are be been this that these those it its as from so "
    "more most all any some such into per can will would should when where which who what how than then there "
    "their them they you your"
)
_GENERIC_EN = _wordset(
    "business businesses purpose purposes improve improves improved improvement improvements improving service "
    "services quality analytic analytics analysis analyse analyze analysing analyzing marketing security operation "
    "operations operational customer customers experience experiences data statistic statistics statistical various "
    "general other others etc efficiency efficient optimise optimize optimisation optimization insight insights "
    "management research better use uses usage understand understanding value enhance enhancement "
    "performance monitor monitoring"
)
_GENERIC_JA = (
    "顧客満足度",
    "顧客満足",
    "サービス向上",
    "マーケティング",
    "サービス",
    "満足度",
    "お客様",
    "効率化",
    "最適化",
    "向上",
    "改善",
    "業務",
    "効率",
    "品質",
    "分析",
    "統計",
    "活用",
    "利用",
    "目的",
    "運営",
    "管理",
    "各種",
    "様々",
    "その他",
    "等",
)
_OPEN_ENDED = re.compile(
    r"\betc\b|\band so on\b|\bother purposes\b|\bamong others\b|\band more\b|その他|などの目的|等の目的|等のため",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(
    r"\b(todo|tbd|fixme|xxx+|change[ -]?me|placeholder|your (company|name|store|shop)|demo|n/?a)\b"
    r"|no real operator|whoever|未定|要変更",
    re.IGNORECASE,
)
_VAGUE_RECIPIENT = re.compile(
    r"^(partners?|our partners|affiliates?|group compan(y|ies)|third[ -]part(y|ies)|others?|vendors?|various|"
    r"service providers?|関係会社|グループ会社|提携先|協力会社|第三者|その他|取引先)$",
    re.IGNORECASE,
)
_WEAK_PASSWORDS = _wordset(
    "change-me changeme change_me password passw0rd admin root secret default pass 1234 12345 123456 12345678 "
    "camera test"
)


@dataclass(frozen=True, slots=True)
class Item:
    """One checklist line. ``phase`` is a key of ``PHASES``; ``id`` is stable (``phase.check[.subject]``)."""

    phase: str
    id: str
    title: str
    status: Status
    reason: str


# ---------------------------------------------------------------- heuristics


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _is_cjk(c: str) -> bool:
    return unicodedata.east_asian_width(c) in "WF"


def justification_problem(text: str) -> str | None:
    """Why a purpose's justification is too vague for a person to predict the use, or None when it is fine.

    Heuristic (the guidebook asks that the purpose be specific enough that people can reasonably predict how their
    image is used; a justification is shown in the notice next to the purpose):

    1. Too short: under ``JUSTIFICATION_MIN_WIDTH`` display columns (25; a Japanese character counts 2, so about
       13 Japanese characters). "staff the floor" or 「混雑把握のため」 say too little.
    2. Open-ended: "etc.", "and so on", "other purposes", 「その他」, 「などの目的」 leave the use open.
    3. Generic words only. English: fewer than ``JUSTIFICATION_MIN_WORDS`` distinct words that are neither stop
       words nor generic business words ("improve", "service", "marketing", "analytics", "customer experience",
       ...). Japanese (any wide character present): remove generic terms (サービス向上, マーケティング, 分析, 改善,
       業務, ...) and all hiragana and punctuation; fewer than ``JUSTIFICATION_MIN_CJK`` characters left means
       nothing concrete was said.

    It is a heuristic: it catches boilerplate, it cannot judge legitimacy. A warning is a prompt to rewrite.
    """
    t = " ".join(text.split())
    if _width(t) < JUSTIFICATION_MIN_WIDTH:
        return (
            f"only {len(t)} characters: say what decision the counts support and why a camera is needed "
            f"(at least ~{JUSTIFICATION_MIN_WIDTH} columns; a Japanese character counts 2)"
        )
    m = _OPEN_ENDED.search(t)
    if m:
        return f"open-ended ({m.group(0)!r}): list every use instead, so people can predict what is done"
    if any(_is_cjk(c) for c in t):
        rest = t
        for g in _GENERIC_JA:
            rest = rest.replace(g, "")
        concrete = [c for c in rest if unicodedata.category(c)[0] in "LN" and not ("\u3041" <= c <= "\u309f")]
        if len(concrete) < JUSTIFICATION_MIN_CJK:
            return "only generic terms (サービス向上・分析・改善 …): say concretely what the counts are used for"
        return None
    words = {w.removesuffix("s") if len(w) > 3 else w for w in re.findall(r"[a-z]+", t.lower())}
    specific = {
        w for w in words if len(w) > 1 and w not in _STOP and w not in _GENERIC_EN and w + "s" not in _GENERIC_EN
    }
    if len(specific) < JUSTIFICATION_MIN_WORDS:
        return (
            "only generic words (improve, service, marketing, analytics …): say concretely what decision the "
            "counts support"
        )
    return None


def _configured(section: Any) -> bool:
    """A future optional section (``http.auth``, ``http.tls``): absent, None, False, empty or disabled = off."""
    if section is None or section is False:
        return False
    if isinstance(section, dict):
        return bool(section) and section.get("enabled", True) is not False
    return getattr(section, "enabled", True) is not False


def _local_only(host: str) -> bool:
    """A host the public cannot reach: loopback, private, link-local, unspecified, .local names."""
    h = host.strip().strip("[]").lower()
    if is_loopback(h) or h.endswith((".local", ".internal", ".lan")) or ("." not in h and ":" not in h):
        return True
    try:
        ip = ipaddress.ip_address(h)
    except ValueError:
        return False
    return ip.is_private or ip.is_link_local or ip.is_unspecified or ip.is_reserved


# ---------------------------------------------------------------- the checks, by phase


def _planning(cfg: Config) -> list[Item]:
    op = cfg.operator
    items: list[Item] = []
    problems = []
    for field, value in (("name", op.name), ("accountable", op.accountable)):
        if not value.strip():
            problems.append(f"operator.{field} is empty")
        elif _PLACEHOLDER.search(value):
            problems.append(f"operator.{field} {value!r} looks like a placeholder")
    if op.accountable.strip().casefold() == op.name.strip().casefold():
        problems.append("operator.accountable repeats the company name: name the accountable person or role")
    items.append(
        Item(
            "planning",
            "planning.operator",
            "Accountable operator named",
            "warn" if problems else "pass",
            "; ".join(problems)
            if problems
            else f"{op.name.strip()}; accountable: {op.accountable.strip()}. The guidebook asks for one operator "
            "who answers for the cameras.",
        )
    )
    items.append(_contact(op.contact))
    for p in cfg.purposes:
        problem = next((q for q in map(justification_problem, p.justifications) if q), None)
        items.append(
            Item(
                "planning",
                f"planning.justification.{p.id}",
                f"Purpose '{p.id}' justified specifically",
                "warn" if problem else "pass",
                problem
                or "specific enough for a person to predict the use (length, no open-ended or generic-only wording).",
            )
        )
    kept = [*kept_aggregates(cfg), *movement_aggregates(cfg)]
    for pid in (p.id for p in cfg.purposes):
        outputs = [k for k in kept if k.purpose == pid]
        if outputs:
            desc = "; ".join(f"{k.output} over {', '.join(k.names)}" for k in outputs)
            items.append(
                Item("planning", f"planning.purpose-used.{pid}", f"Purpose '{pid}' used", "pass", f"produces {desc}.")
            )
        else:
            need = {
                "flow": "line or zone on some camera",
                "dwell": "zone on some camera",
                "heatmap": "heatmap on some camera",
                "queue": "zone with queue: true",
                "occupancy": "camera",
                # age band and gender are counted only as a person crosses a line or leaves a zone
                "attributes": "zone or line on some camera",
            }.get(pid, "zone or line on some camera")
            items.append(
                Item(
                    "planning",
                    f"planning.purpose-used.{pid}",
                    f"Purpose '{pid}' used",
                    "warn",
                    f"declared but unused: no {need} produces it. Remove the purpose (the notice would announce a use "
                    "that does not happen) or configure what it needs.",
                )
            )
    return items


def _contact(contact: str) -> Item:
    status, reason = _contact_status(contact.strip())
    return Item("planning", "planning.contact", "One well-formed inquiry contact", status, reason)


def _contact_status(c: str) -> tuple[Status, str]:
    if not c:
        return "fail", "operator.contact is empty."
    if re.search(r"[,;、]|\s/\s|\s(or|and)\s|\s・\s", c) or c.count("@") > 1 or c.count("://") > 1:
        return "warn", (
            f"{c!r} looks like several contacts: the guidebook asks for one point of contact; name one and route "
            "inquiries internally."
        )
    if c.lower().startswith(("http://", "https://")):
        host = urlsplit(c).hostname or ""
        problem = (
            f"the public cannot reach {host!r}"
            if not host or _local_only(host)
            else "plain http: an inquiry form should use https, so what people send stays private"
            if c.lower().startswith("http://")
            else None
        )
        kind = "contact page"
    elif "@" in c:
        ok = re.fullmatch(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)*\.[A-Za-z]{2,}", c)
        problem, kind = (None if ok else "not a well-formed email address"), "email"
    else:
        ok = re.fullmatch(r"\+?[0-9][0-9 ()-]*", c) and 10 <= len(re.sub(r"\D", "", c)) <= 15
        problem = None if ok else "not a well-formed phone number (10-15 digits, e.g. 03-1234-5678 or +81 3 1234 5678)"
        kind = "phone"
    return ("warn", f"{c!r}: {problem}.") if problem else ("pass", f"{kind} {c}; one point of contact.")


def _notice(cfg: Config) -> list[Item]:
    items = []
    url = (cfg.operator.notice_url or "").strip()
    title = "Notice published on the web"
    if not url:
        items.append(
            Item(
                "notice",
                "notice.url",
                title,
                "warn",
                "operator.notice_url is not set: the guidebook asks for the notice on signage at the site and on the "
                "web. Publish `edgeanon notice` output (or the device's /notice) and set its address.",
            )
        )
    elif not re.match(r"https?://", url, re.IGNORECASE):
        items.append(Item("notice", "notice.url", title, "warn", f"{url!r} is not an http(s) address."))
    elif _local_only(urlsplit(url).hostname or ""):
        items.append(
            Item(
                "notice",
                "notice.url",
                title,
                "warn",
                f"{url} is not reachable by the public ({urlsplit(url).hostname!r} is local). Publish the notice on a "
                "public site.",
            )
        )
    else:
        items.append(
            Item(
                "notice",
                "notice.url",
                title,
                "pass",
                f"{url}. Also post the same notice (edgeanon notice --format txt/html) at the entrance, before the "
                "filmed area.",
            )
        )
    tp = cfg.privacy.third_party
    title = "Third-party provision stated, recipients named"
    if not tp.provided:
        items.append(
            Item(
                "notice",
                "notice.third-party",
                title,
                "pass",
                "privacy.third_party.provided is false; the notice "
                "states that neither images nor counts go to third parties.",
            )
        )
    else:
        recipients = [r.strip() for r in tp.recipients]
        vague = [r for r in recipients if len(r) < 2 or _VAGUE_RECIPIENT.match(r)]
        if not recipients or vague:
            items.append(
                Item(
                    "notice",
                    "notice.third-party",
                    title,
                    "warn",
                    f"recipients {vague or recipients!r} are not named: give each recipient's name so people know "
                    "who receives the counts.",
                )
            )
        else:
            items.append(
                Item(
                    "notice",
                    "notice.third-party",
                    title,
                    "pass",
                    f"aggregates only, to: {', '.join(recipients)}; the notice names them.",
                )
            )
    return items


def _acquisition(cfg: Config) -> list[Item]:
    items = [
        Item(
            "acquisition",
            "acquisition.raw-frames",
            "Raw frames kept: 0",
            "pass",
            f"retention.raw_frames_seconds is {cfg.retention.raw_frames_seconds} (any other value is refused at load, "
            "rule R2-discard). Every frame buffer, including frames dropped or skipped by pacing, is zeroed in place "
            "right after inference; nothing encodes or writes pixels.",
        )
    ]
    title = "Cameras run only when needed"
    if cfg.schedule is None:
        items.append(
            Item(
                "acquisition",
                "acquisition.schedule",
                title,
                "warn",
                "no schedule: the cameras film all day, also when the store is closed and no count is needed. Add "
                "schedule.hours (outside them the cameras are not opened) to film only what the purpose needs.",
            )
        )
    else:
        minutes = {d: 0 for d in DAYS}
        for h in cfg.schedule.hours:
            span = _minutes(h.close) - _minutes(h.open)
            for d in h.days:
                minutes[d] += span
        if all(m >= 24 * 60 for m in minutes.values()):
            items.append(
                Item(
                    "acquisition",
                    "acquisition.schedule",
                    title,
                    "warn",
                    "the schedule covers every hour of every day: that is filming all day. Limit it to opening hours.",
                )
            )
        else:
            hours = "; ".join(f"{','.join(h.days)} {h.open}-{h.close}" for h in cfg.schedule.hours)
            items.append(
                Item(
                    "acquisition",
                    "acquisition.schedule",
                    title,
                    "pass",
                    f"cameras are opened only {hours} ({cfg.aggregation.timezone}).",
                )
            )
    for cam in cfg.cameras:
        if cam.fps > FPS_PROPORTIONATE:
            items.append(
                Item(
                    "acquisition",
                    f"acquisition.fps.{cam.id}",
                    f"Frame rate of '{cam.id}' proportionate",
                    "warn",
                    f"{cam.fps:g} fps: counting people needs no more than {FPS_PROPORTIONATE:g} (people walk ~1.4 m/s; "
                    "10 fps is plenty for lines, 5 for queues). A higher rate captures more images of each person for "
                    "no gain.",
                )
            )
        else:
            items.append(
                Item(
                    "acquisition",
                    f"acquisition.fps.{cam.id}",
                    f"Frame rate of '{cam.id}' proportionate",
                    "pass",
                    f"{cam.fps:g} fps (at most {FPS_PROPORTIONATE:g}).",
                )
            )
    have = cfg.purpose_ids
    estimate = estimated_attributes(cfg)
    for cam in cfg.cameras:
        uses = []
        if "occupancy" in have:
            uses.append("camera occupancy")
        if cam.zones and have & {"occupancy", "dwell", "queue"}:
            uses.append("zones" + (" (with heading and speed band)" if "flow" in have else ""))
        if cam.lines and "flow" in have:
            uses.append("lines (with group size)")
        if cam.heatmap is not None and "heatmap" in have:
            uses.append("heatmap")
        if estimate and (cam.zones or cam.lines):
            uses.append(f"{' and '.join(_ESTIMATE_NAMES[a] for a in estimate)} at its zones and lines")
        items.append(
            Item(
                "acquisition",
                f"acquisition.output.{cam.id}",
                f"Camera '{cam.id}' serves a purpose",
                "pass" if uses else "warn",
                f"feeds {', '.join(uses)}."
                if uses
                else "films but produces no aggregate any declared purpose uses: "
                "remove the camera or give it zones/lines.",
            )
        )
    min_face = _min_face(cfg)
    if min_face is not None:
        items.append(min_face)
    return items


_ESTIMATE_NAMES = {"age_band": "age band", "gender": "gender"}


def _min_face(cfg: Config) -> Item | None:
    """With age band or gender estimated: is ``attributes.min_face_px`` large enough for a meaningful estimate?"""
    if not estimated_attributes(cfg) or cfg.attributes is None:
        return None
    px = cfg.attributes.min_face_px
    title = "Faces too small to estimate are skipped"
    if px < MIN_FACE_PX:
        return Item(
            "acquisition",
            "acquisition.min-face",
            title,
            "warn",
            f"attributes.min_face_px is {px}: below {MIN_FACE_PX} px the age and gender models get a face upscaled "
            "from too few pixels (they take 64x64 crops and were trained on roughly frontal faces of about that "
            "size), so the estimate is little better than a guess, yet it is counted like any other. Use "
            f"min_face_px >= {MIN_FACE_PX}: smaller faces are then skipped and counted as face_too_small or "
            "person_too_small in edgeanon_attribute_faces_total.",
        )
    return Item(
        "acquisition",
        "acquisition.min-face",
        title,
        "pass",
        f"attributes.min_face_px is {px} (at least {MIN_FACE_PX}, what the 64x64 age and gender models need): smaller "
        "faces, and person boxes whose head region is smaller, are skipped and counted in "
        "edgeanon_attribute_faces_total (face_too_small, person_too_small). On a high or ceiling camera expect "
        "mostly skips: check those counts before relying on the estimates.",
    )


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def _refused() -> str:
    """The refused attributes and purposes, grouped by the rule that refuses them (from ``policy``)."""
    by_rule: dict[str, dict[str, str]] = {}
    for word, rule in policy.FORBIDDEN_PURPOSES.items():
        if rule != "R2-discard":  # recording and keep_frames: not attributes, covered by acquisition.raw-frames
            by_rule.setdefault(rule, {}).setdefault(word.replace("_", ""), word.replace("_", " "))
    return "; ".join(f"{', '.join(words.values())} ({rule})" for rule, words in sorted(by_rule.items()))


def _handling(cfg: Config) -> list[Item]:
    estimate = estimated_attributes(cfg)
    attrs_on = bool(estimate)
    items = [
        Item(
            "handling",
            "handling.identification",
            "No identification, feature data or sensitive attributes",
            "pass",
            "refused at load: identification, face recognition and re-identification (R3), face features and "
            "embeddings (R4), race, ethnicity, religion, disability, health and emotion (R5). Tracker IDs stay in "
            "memory and are never exported.",
        )
    ]
    flow = "flow" in cfg.purpose_ids
    movement = (
        f"Under flow, from track motion alone (no extra model): heading ({len(HEADINGS)} screen directions) and "
        f"speed band ({', '.join(SPEED_BANDS)}) per zone visit, group size ({', '.join(GROUP_SIZES)}) per line "
        "crossing. "
        if flow
        else ""
    )
    refused = f"Refused at load, with the rule quoted: {_refused()}."
    if attrs_on:
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
    items.append(Item("handling", "handling.attributes", "Only coarse, non-identifying attributes", "pass", reason))
    if attrs_on:
        items.append(
            Item(
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
        )
    k = cfg.privacy.k
    bucket = cfg.aggregation.bucket_seconds
    heat = "heatmap" in cfg.purpose_ids and any(c.heatmap is not None for c in cfg.cameras)
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
    items.append(Item("handling", "handling.small-cells", title, status, reason))
    return items


def _management(cfg: Config, path: str | Path | None) -> list[Item]:
    items = []
    days = cfg.retention.aggregates_days
    purposes = cfg.purpose_ids
    operational = purposes <= {"occupancy", "flow", "queue"}
    limit = RETENTION_OPERATIONAL_DAYS if operational else RETENTION_LAYOUT_DAYS
    why = (
        "occupancy, flow and queue counts serve live staffing and safety decisions and hour-of-day / weekday "
        "planning, for which about two seasons of weekly patterns are enough"
        if operational
        else "dwell and heatmap compare floor layouts"
        + (", and age band and gender statistics the product range," if "attributes" in purposes else "")
        + " across seasons, which needs at most a year to compare with the same season last year"
    )
    items.append(
        Item(
            "management",
            "management.retention",
            "Aggregate retention proportionate to the purposes",
            "warn" if days > limit else "pass",
            (
                f"{days} days is more than the {limit} days these purposes need: {why}. Shorten "
                "retention.aggregates_days, or keep long-term trends as coarser summaries and say why in the "
                "justification."
                if days > limit
                else f"{days} days, within {limit}: {why}. The aggregate store deletes anything older."
            ),
        )
    )
    host = cfg.http.host
    loop = is_loopback(host)
    auth = _configured(getattr(cfg.http, "auth", None))
    tls = _configured(getattr(cfg.http, "tls", None))
    shown = host or "(all interfaces)"
    if loop:
        items.append(
            Item(
                "management",
                "management.endpoint-auth",
                "Endpoints not exposed without authentication",
                "pass",
                f"bound to loopback {shown}: only this device can reach /metrics and the pages"
                + (" (authentication also configured)." if auth else "."),
            )
        )
    elif auth:
        items.append(
            Item(
                "management",
                "management.endpoint-auth",
                "Endpoints not exposed without authentication",
                "pass",
                f"bound to {shown}, reachable from the network, with http.auth configured.",
            )
        )
    else:
        items.append(
            Item(
                "management",
                "management.endpoint-auth",
                "Endpoints not exposed without authentication",
                "fail",
                f"bound to {shown}, reachable from the network, with no http.auth: anyone on the network can read the "
                "aggregates and the status pages. Configure http.auth, or bind to 127.0.0.1 behind an authenticating "
                "reverse proxy.",
            )
        )
    if loop:
        status: Status = "pass"
        reason = "loopback only: traffic never leaves the device, TLS is not needed."
    elif tls:
        status, reason = "pass", f"bound to {shown} with http.tls configured."
    else:
        status = "warn"
        reason = (
            f"bound to {shown} without http.tls: the basic-auth password and the aggregates cross the network in "
            "clear text. Configure http.tls or terminate TLS in a reverse proxy."
        )
    items.append(Item("management", "management.endpoint-tls", "TLS on a network-reachable endpoint", status, reason))
    installer = _installer_mode(cfg)
    if installer is not None:
        items.append(installer)
    items.append(_credentials(cfg, path))
    items.append(_cleartext_passwords(cfg))
    return items


def _installer_mode(cfg: Config) -> Item | None:
    """``http.setup_until``: while it has not passed, /setup shows live outlines of people."""
    if getattr(cfg.http, "setup_until", None) is None:
        return None
    title = "Installer mode (/setup) off in normal operation"
    until = installer_until(cfg)
    if until is None:
        return Item(
            "management", "management.installer-mode", title, "pass", "http.setup_until has passed: /setup is off."
        )
    return Item(
        "management",
        "management.installer-mode",
        title,
        "warn",
        f"installer mode is on until {until}: /setup shows live outlines of people, and the notice says so. Remove "
        "http.setup_until once zones and lines are placed.",
    )


def _cleartext_passwords(cfg: Config) -> Item:
    """One policy for every password edgeanon sends: never in clear text to a host beyond loopback. HTTP basic
    auth without TLS, MQTT without TLS and a push URL over http all send it readable by anyone on the path."""
    title = "No password sent in clear text over the network"
    failed: list[str] = []
    sent = 0
    for cam in cfg.cameras:
        src = cam.source
        if not getattr(src, "has_password", False):
            continue
        sent += 1
        parts = urlsplit(src.url)
        if is_loopback(parts.hostname or ""):
            continue
        if parts.scheme == "http":  # (RTSP cameras normally use digest authentication, which sends no password)
            failed.append(f"camera {cam.id} sends its password over http:// (basic auth without TLS); use https://")
    push = cfg.push
    if push is not None and push.has_password:
        sent += 1
        parts = urlsplit(push.url)
        if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
            failed.append(f"push.url {push.url} sends the basic-auth password over http://; use https://")
    mqtt = getattr(cfg, "mqtt", None)
    if mqtt is not None and mqtt.has_password:
        sent += 1
        if mqtt.tls is None and not is_loopback(mqtt.host):
            failed.append(f"mqtt sends its password to {mqtt.host} without TLS; configure mqtt.tls")
    if failed:
        return Item("management", "management.cleartext-passwords", title, "fail", "; ".join(failed) + ".")
    reason = (
        f"{sent} password(s) configured; each goes over TLS or stays on loopback."
        if sent
        else "no camera, push or MQTT password configured."
    )
    return Item("management", "management.cleartext-passwords", title, "pass", reason)


def _credentials(cfg: Config, path: str | Path | None) -> Item:
    title = "Camera credentials in the config file"
    with_creds = []
    weak = []
    for cam in cfg.cameras:
        user = getattr(cam.source, "username", None)
        pw = getattr(cam.source, "password", None)
        if user or pw is not None:
            with_creds.append(cam.id)
        if pw is not None:
            secret = pw.get_secret_value() if hasattr(pw, "get_secret_value") else str(pw)
            if secret.strip().lower() in _WEAK_PASSWORDS or len(secret) < 8:
                weak.append(cam.id)
    if not with_creds:
        return Item("management", "management.credentials", title, "pass", "no stream credentials in the config.")
    problems = []
    if weak:
        problems.append(
            f"camera(s) {', '.join(weak)} use a placeholder or short password: set a strong, per-camera password on "
            "the camera and here"
        )
    if path is not None:
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except OSError as exc:
            problems.append(f"cannot check the permissions of {path}: {exc.strerror}")
        else:
            if mode & 0o077:
                problems.append(
                    f"{path} is mode {mode:04o}: other users on the device can read the stream passwords; "
                    f"chmod 600 {path} (owned by the service user)"
                )
    else:
        problems.append(
            "the config file holds stream passwords: restrict it to the service user (chmod 600, chown to the "
            "account that runs edgeanon) and keep it out of version control"
        )
    where = f"camera(s) {', '.join(with_creds)} carry credentials"
    if problems:
        return Item("management", "management.credentials", title, "warn", f"{where}; " + "; ".join(problems) + ".")
    return Item(
        "management",
        "management.credentials",
        title,
        "pass",
        f"{where}; {path} is readable only by its owner.",
    )


# ---------------------------------------------------------------- entry points


def assess(cfg: Config, *, path: str | Path | None = None) -> list[Item]:
    """The checklist for ``cfg``, grouped by guidebook phase in ``PHASES`` order.

    ``path`` (optional) is the config file: with it, the credentials check looks at its permissions.
    """
    items = [*_planning(cfg), *_notice(cfg), *_acquisition(cfg), *_handling(cfg), *_management(cfg, path)]
    order = list(PHASES)
    return sorted(items, key=lambda i: order.index(i.phase))  # stable: keeps the order within a phase


def exit_code(items: list[Item]) -> int:
    """1 if any check fails, else 0 (warnings are advice, not errors)."""
    return 1 if any(i.status == "fail" for i in items) else 0


def _summary(items: list[Item]) -> str:
    n = {s: sum(i.status == s for i in items) for s in ("pass", "warn", "fail")}
    return f"{n['pass']} pass, {n['warn']} warn, {n['fail']} fail"


def _md_cell(s: str) -> str:
    return " ".join(s.split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def render(items: list[Item], fmt: Literal["text", "markdown"] = "text") -> str:
    """The checklist as plain text (for a terminal) or a Markdown document (for a review or a ticket)."""
    if fmt not in ("text", "markdown"):
        raise ValueError(f"fmt must be 'text' or 'markdown', not {fmt!r}")
    out: list[str] = []
    if fmt == "markdown":
        out += ["# Camera planning check (カメラ画像利活用ガイドブック ver3.0)", ""]
    for phase, label in PHASES.items():
        group = [i for i in items if i.phase == phase]
        if not group:
            continue
        if fmt == "markdown":
            out += [f"## {label}", "", "| Status | Check | Reason |", "|---|---|---|"]
            out += [f"| **{i.status.upper()}** | `{i.id}` {_md_cell(i.title)} | {_md_cell(i.reason)} |" for i in group]
            out.append("")
        else:
            out.append(label)
            for i in group:
                out.append(f"  [{i.status.upper()}] {i.title}  ({i.id})")
                out += textwrap.wrap(
                    i.reason, 100, initial_indent=" " * 9, subsequent_indent=" " * 9, break_on_hyphens=False
                )
            out.append("")
    out.append(("**Summary:** " if fmt == "markdown" else "Summary: ") + _summary(items))
    return "\n".join(out) + "\n"
