"""The prior notice (事前告知): what a store posts at its entrance and on the web before anyone is filmed.

Source: METI/MIC "カメラ画像利活用ガイドブック ver3.0" (2022-03-30), phase 事前告知時 (rule R7-notice). The notice
names the operator and the accountable person, the purposes, what is captured and how the images are handled, what
is kept and for how long, third-party provision, operating hours and the inquiry contact.

Everything is generated from the config alone: the same facts (``_facts``) feed a Japanese and an English document
(``_doc_ja`` / ``_doc_en``, written as a store would write each language, not translated word by word), and one small
document model is rendered either as a standalone HTML page or as wrapped plain text. In HTML every config-derived
string is escaped; links are made only for validated contacts and http(s) notice URLs.
"""

from __future__ import annotations

import html
import re
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from edgeanon.config.names import DAYS
from edgeanon.config.schema import Config
from edgeanon.counting.bins import AGE_BANDS, GENDERS
from edgeanon.guidebook import policy

NOTICE_CONTENT_TYPE = {"html": "text/html; charset=utf-8", "txt": "text/plain; charset=utf-8"}
TEXT_WIDTH = 72  # display columns; a Japanese character takes two

# ---------------------------------------------------------------- what is kept


@dataclass(frozen=True, slots=True)
class Kept:
    """One kind of aggregate the site keeps: a policy output (or the queue pair), where it comes from."""

    # camera_occupancy, zone_occupancy, site_occupancy, line_crossings, zone_dwell, heatmap, queue, attributes;
    # from movement_aggregates: zone_movement, line_groups
    output: str
    purpose: str  # the declared purpose that allows it
    names: tuple[str, ...]  # cameras, zones or lines it is counted over (config names)
    grids: tuple[str, ...] = ()  # heatmap only: distinct "rows×cols" grids
    estimate: tuple[str, ...] = ()  # attributes only: policy.ATTRIBUTE_ESTIMATES listed in attributes.estimate


def kept_aggregates(cfg: Config) -> list[Kept]:
    """The aggregates the config can produce: an output allowed by a declared purpose over configured geometry.

    This mirrors ``policy.PURPOSES`` and the config's purpose checks: camera occupancy for every camera and zone
    occupancy for every zone (occupancy), site occupancy from the entrance lines (occupancy), crossings per line
    (flow), dwell per zone (dwell), the coarse grid per heatmap camera (heatmap), queue length and wait per queue
    zone (queue), and estimated age band and gender per zone and line (attributes, counted as a person leaves a
    zone or crosses a line). The movement statistics flow adds are in ``movement_aggregates``. A declared purpose
    with no entry in either is declared but unused.
    """
    have = cfg.purpose_ids
    zones = _names([(c.id, z.name) for c in cfg.cameras for z in c.zones])
    queue_zones = _names([(c.id, z.name) for c in cfg.cameras for z in c.zones if z.queue])
    lines = _names([(c.id, ln.name) for c in cfg.cameras for ln in c.lines])
    out: list[Kept] = []
    if "occupancy" in have:
        out.append(Kept("camera_occupancy", "occupancy", tuple(c.id for c in cfg.cameras)))
        if zones:
            out.append(Kept("zone_occupancy", "occupancy", zones))
        if cfg.entrances:
            out.append(Kept("site_occupancy", "occupancy", _names([(e.camera, e.line) for e in cfg.entrances])))
    if "flow" in have and lines:
        out.append(Kept("line_crossings", "flow", lines))
    if "dwell" in have and zones:
        out.append(Kept("zone_dwell", "dwell", zones))
    heat = [c for c in cfg.cameras if c.heatmap is not None]
    if "heatmap" in have and heat:
        grids = tuple(dict.fromkeys(f"{c.heatmap.rows}×{c.heatmap.cols}" for c in heat if c.heatmap))
        out.append(Kept("heatmap", "heatmap", tuple(c.id for c in heat), grids))
    if "queue" in have and queue_zones:
        out.append(Kept("queue", "queue", queue_zones))
    places = _names(
        [(c.id, p) for c in cfg.cameras for p in (*(z.name for z in c.zones), *(ln.name for ln in c.lines))]
    )
    estimate = estimated_attributes(cfg)
    if estimate and places:
        out.append(Kept("attributes", "attributes", places, estimate=estimate))
    return out


def movement_aggregates(cfg: Config) -> list[Kept]:
    """The movement statistics the purpose ``flow`` adds, from track motion alone (no extra model): heading and
    speed band per zone visit (every zone), group size per crossing group (every line), suppressed
    like every attribute breakdown (``aggregate.suppress``)."""
    if "flow" not in cfg.purpose_ids:
        return []
    out: list[Kept] = []
    zones = _names([(c.id, z.name) for c in cfg.cameras for z in c.zones])
    lines = _names([(c.id, ln.name) for c in cfg.cameras for ln in c.lines])
    if zones:
        out.append(Kept("zone_movement", "flow", zones))
    if lines:
        out.append(Kept("line_groups", "flow", lines))
    return out


def estimated_attributes(cfg: Config) -> tuple[str, ...]:
    """What the attribute stage estimates (in ``policy.ATTRIBUTE_ESTIMATES`` order): empty unless the purpose
    ``attributes`` is declared and ``attributes.estimate`` lists something (the config requires both together)."""
    attrs = getattr(cfg, "attributes", None)
    if attrs is None or "attributes" not in cfg.purpose_ids:
        return ()
    wanted = set(getattr(attrs, "estimate", ()) or ())
    return tuple(a for a in policy.ATTRIBUTE_ESTIMATES if a in wanted)


# The order of "what is kept" in the notice: each movement statistic next to the count it refines.
_KEPT_ORDER = (
    "camera_occupancy",
    "zone_occupancy",
    "site_occupancy",
    "line_crossings",
    "line_groups",
    "zone_dwell",
    "zone_movement",
    "heatmap",
    "queue",
    "attributes",
)


def _names(pairs: list[tuple[str, str]]) -> tuple[str, ...]:
    """Display names: the bare name, or ``camera/name`` when the same name is used on two cameras."""
    count: dict[str, int] = {}
    for _, n in dict.fromkeys(pairs):
        count[n] = count.get(n, 0) + 1
    return tuple(dict.fromkeys(n if count[n] == 1 else f"{c}/{n}" for c, n in pairs))


# ---------------------------------------------------------------- facts shared by both languages


@dataclass(frozen=True, slots=True)
class _Purpose:
    id: str
    description: str
    justification: str


@dataclass(frozen=True, slots=True)
class _Facts:
    operator: str
    accountable: str
    contact: str
    contact_kind: Literal["email", "phone", "url"]
    notice_url: str | None
    purposes: tuple[_Purpose, ...]
    cameras: tuple[str, ...]
    kept: tuple[Kept, ...]
    bucket_seconds: int
    k: int
    retention_days: int
    third_party: bool
    recipients: tuple[str, ...]
    hours: tuple[tuple[tuple[str, ...], str, str], ...] | None  # (days, open, close); None: no schedule
    estimate: tuple[str, ...]  # estimated attributes (age_band, gender); empty: none
    installer_until: str | None  # local "YYYY-MM-DD HH:MM" while /setup's installer mode is on; None: off

    @property
    def attributes(self) -> bool:
        return bool(self.estimate)


def _facts(cfg: Config, lang: str) -> _Facts:
    op = cfg.operator
    contact = op.contact.strip()
    if "@" in contact and not contact.lower().startswith(("http://", "https://")):
        kind: Literal["email", "phone", "url"] = "email"
    elif contact.lower().startswith(("http://", "https://")):
        kind = "url"
    else:
        kind = "phone"
    idx = 1 if lang == "ja" else 0
    purposes = tuple(
        _Purpose(
            p.id,
            policy.PURPOSE_DESCRIPTIONS[p.id][idx],
            p.justification_in(lang).strip(),
        )
        for p in cfg.purposes
    )
    hours = None
    if cfg.schedule is not None:
        hours = tuple((tuple(h.days), h.open, h.close) for h in cfg.schedule.hours)
    kept = sorted([*kept_aggregates(cfg), *movement_aggregates(cfg)], key=lambda k: _KEPT_ORDER.index(k.output))
    return _Facts(
        operator=op.name.strip(),
        accountable=op.accountable.strip(),
        contact=contact,
        contact_kind=kind,
        notice_url=(op.notice_url or "").strip() or None,
        purposes=purposes,
        cameras=tuple(c.id for c in cfg.cameras),
        kept=tuple(kept),
        bucket_seconds=cfg.aggregation.bucket_seconds,
        k=cfg.privacy.k,
        retention_days=cfg.retention.aggregates_days,
        third_party=cfg.privacy.third_party.provided,
        recipients=tuple(r.strip() for r in cfg.privacy.third_party.recipients),
        hours=hours,
        estimate=estimated_attributes(cfg),
        installer_until=installer_until(cfg),
    )


def installer_until(cfg: Config, now: float | None = None) -> str | None:
    """When the installer mode (``http.setup_until``) ends, in local time, if it is on now; else None."""
    until = cfg.setup_until_ts()
    if until is None or until <= (time.time() if now is None else now):
        return None
    return datetime.fromtimestamp(until, ZoneInfo(cfg.aggregation.timezone)).strftime("%Y-%m-%d %H:%M")


# ---------------------------------------------------------------- a tiny document model


@dataclass(frozen=True, slots=True)
class _Link:
    text: str
    href: str


Inline = tuple[str | _Link, ...]


@dataclass(frozen=True, slots=True)
class _Para:
    parts: Inline


@dataclass(frozen=True, slots=True)
class _Entry:
    head: Inline
    body: Inline = ()


@dataclass(frozen=True, slots=True)
class _List:
    entries: tuple[_Entry, ...]
    ordered: bool = False


@dataclass(frozen=True, slots=True)
class _Fields:
    rows: tuple[tuple[str, Inline], ...]


_Block = _Para | _List | _Fields


@dataclass(frozen=True, slots=True)
class _Section:
    title: str
    blocks: tuple[_Block, ...]


@dataclass(frozen=True, slots=True)
class _Doc:
    lang: str
    title: str
    lead: tuple[_Para, ...]
    sections: tuple[_Section, ...]
    footer: tuple[_Para, ...]


def _p(*parts: str | _Link) -> _Para:
    return _Para(tuple(parts))


def _contact_link(f: _Facts) -> _Link:
    if f.contact_kind == "email":
        return _Link(f.contact, "mailto:" + f.contact)
    if f.contact_kind == "phone":
        return _Link(f.contact, "tel:" + re.sub(r"[^0-9+]", "", f.contact))
    return _Link(f.contact, f.contact)


def _url_part(url: str) -> str | _Link:
    """Only an http(s) URL becomes a link (never javascript: or data:); anything else stays text."""
    return _Link(url, url) if re.fullmatch(r"https?://[^\s\"'<>]+", url, re.IGNORECASE) else url


def _day_runs(days: tuple[str, ...]) -> list[list[str]]:
    idx = sorted({DAYS.index(d) for d in days})
    runs: list[list[int]] = []
    for i in idx:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return [[DAYS[i] for i in run] for run in runs]


# ---------------------------------------------------------------- Japanese


_DAY_JA = dict(zip(DAYS, "月火水木金土日", strict=True))
_INTRO_JA = {
    "occupancy": "店内の混雑状況の把握",
    "flow": "来店者数の計測",
    "dwell": "売場での滞在時間の把握",
    "heatmap": "売場の利用状況の把握",
    "queue": "レジ待ち状況の把握",
    "attributes": "来店者の{what}の統計的な把握",
}


def _join_ja(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return "、".join(items[:-1]) + "および" + items[-1]


def _names_ja(names: tuple[str, ...]) -> str:
    return "、".join(names)


def _duration_ja(s: int) -> str:
    if s % 3600 == 0:
        return f"{s // 3600}時間"
    if s % 60 == 0:
        return f"{s // 60}分"
    return f"{s}秒"


def _days_ja(days: tuple[str, ...]) -> str:
    if set(days) == set(DAYS):
        return "毎日"
    parts = []
    for run in _day_runs(days):
        if len(run) >= 3:
            parts.append(f"{_DAY_JA[run[0]]}〜{_DAY_JA[run[-1]]}")
        else:
            parts.extend(_DAY_JA[d] for d in run)
    return "・".join(parts) + ("曜日" if len(parts) == 1 and len(parts[0]) == 1 else "")


def _time_ja(hhmm: str) -> str:
    h, m = hhmm.split(":")
    return f"{int(h)}:{m}"


_KEPT_JA = {
    "camera_occupancy": "各カメラの撮影範囲内の人数（カメラ：{names}）",
    "zone_occupancy": "エリアごとの人数（エリア：{names}）",
    "site_occupancy": "店内の人数（出入口を通過した人数から算出。出入口：{names}）",
    "line_crossings": "計測ラインを通過した人数（入る方向・出る方向別。ライン：{names}）",
    "zone_dwell": "エリアごとの滞在時間の分布（何分程度滞在した人が何人いたか。エリアを出た人が{k}人未満の期間は"
    "記録しません。エリア：{names}）",
    "heatmap": "売場を粗い区画（{grids}）に分けた、区画ごとの人数（{k}人未満の区画は記録しません。同じ人は区画ごとに"
    "1人と数えます。カメラ：{names}）",
    "queue": "レジ待ちの人数と推定待ち時間（待ち時間は、待ち終えた人が{k}人未満のときは出しません。エリア：{names}）",
    "line_groups": "計測ラインを一緒に通過したグループの数（1人・2人・3人・4人以上の人数別。{k}件未満の区分があるとき、"
    "または通過した人が{k2}人未満のときは、その期間の人数別の数をすべて記録しません。ライン：{names}）",
    "zone_movement": "エリア内を移動した方向（8方向）別・速さ（ゆっくり・ふつう・速い）別の人数（{k}人未満の区分が"
    "あるときは、その期間のその内訳をすべて記録しません。エリア：{names}）",
    "attributes": "{what}別の人数（機械による推定値。計測ラインを通過したとき、またはエリアから出たときに数えます。"
    "{k}人未満の区分があるときは、その期間のその場所の内訳をすべて記録しません。場所：{names}）",
}
_AGE_JA = {"<20": "20歳未満", "20s": "20代", "30s": "30代", "40s": "40代", "50s": "50代", "60+": "60歳以上"}
_GENDER_JA = {"female": "女性", "male": "男性"}


def _what_ja(estimate: tuple[str, ...]) -> str:
    """「性別・年代」, 「性別」 or 「年代」: the estimated attributes, in the usual Japanese order."""
    return "・".join(w for a, w in (("gender", "性別"), ("age_band", "年代")) if a in estimate)


def _estimated_ja(a: str) -> str:
    if a == "age_band":
        bands = "、".join(_AGE_JA[b] for b in AGE_BANDS)
        return f"年代：{bands}の{len(AGE_BANDS)}区分（10歳きざみより細かくは推定しません）"
    return f"性別：{'・'.join(_GENDER_JA[g] for g in GENDERS)}の{len(GENDERS)}区分"


def _kept_ja(k: Kept, f: _Facts) -> str:
    return _KEPT_JA[k.output].format(
        names=_names_ja(k.names), grids="、".join(k.grids), k=f.k, k2=2 * f.k, what=_what_ja(k.estimate)
    )


def _attributes_ja(f: _Facts) -> tuple[_Block, ...]:
    """What the notice must say when age band or gender is estimated (purpose ``attributes``)."""
    what = _what_ja(f.estimate)
    return (
        _p(
            f"カメラ画像から{what}を機械により推定し、統計情報としてのみ保持します。顔画像や特徴量は保存しません。"
            "推定するのは次の項目だけです。"
        ),
        _List(tuple(_Entry((_estimated_ja(a),)) for a in f.estimate)),
        _p(
            "推定は店内の機器の中で行い、推定に使ったカメラ画像と顔の部分の画像は、推定後ただちに消去します。"
            "個人を識別するための顔の特徴量は算出しません。"
        ),
        _p(
            f"推定結果は{_duration_ja(f.bucket_seconds)}ごとに{what}の区分ごとの人数として集計し、この集計値だけを"
            f"保持します（{f.k}人未満の区分があるときは、その期間のその場所の内訳をすべて記録しません）。お一人お一人の"
            "推定結果を記録することはなく、特定の個人を"
            "識別することもありません。"
        ),
        _p(
            "推定は機械によるもので、誤りを含むことがあります。推定結果によって、お客様への対応を変えることはありません。"
        ),
    )


def _doc_ja(f: _Facts) -> _Doc:
    intro = _join_ja([_INTRO_JA[p.id].format(what=_what_ja(f.estimate)) for p in f.purposes])
    lead = (
        _p(
            f"{f.operator}では、{intro}を目的として、カメラを設置しています。カメラの映像は店内の機器の中で"
            + (f"人数を数え、{_what_ja(f.estimate)}を推定するため" if f.attributes else "人数を数えるため")
            + "だけに解析し、解析後ただちに破棄します。映像を録画したり、外部へ送信したりすることはありません。"
        ),
    )
    sections = [
        _Section("カメラの設置者", (_Fields((("設置・運営者", (f.operator,)), ("管理責任者", (f.accountable,)))),)),
        _Section(
            "利用目的",
            (
                _p("カメラ画像は、次の目的に限って利用します。これ以外の目的に利用することはありません。"),
                _List(tuple(_Entry((p.description,), (p.justification,)) for p in f.purposes), ordered=True),
            ),
        ),
    ]
    refrain = [
        "特定の個人を識別すること（顔認証・顔識別を含みます）",
        "顔などの特徴量データ（目・鼻・口の位置関係などを数値化したもの）の作成・保存",
        "人種・信条・障害・健康状態などの配慮を要する情報の推定",
        "再来店の判別や、複数のカメラをまたいだ同一人物の追跡",
    ]
    if not f.attributes:
        refrain.insert(3, "性別・年齢などの属性の推定")
    else:
        refrain[3:3] = [f"{w}の推定" for a, w in (("gender", "性別"), ("age_band", "年齢")) if a not in f.estimate]
    captured: list[_Block] = [
        _p(
            f"店内に設置したカメラ（計{len(f.cameras)}台：{_names_ja(f.cameras)}）で、撮影範囲に入った方の姿を"
            "撮影します。"
        ),
        _p(
            "映像は店内の機器の中でその場で解析し、"
            + (f"人の位置の検出と{_what_ja(f.estimate)}の推定を終えた" if f.attributes else "人の位置を検出した")
            + "直後に消去します。映像の復号処理は最新の1コマだけを、次のコマに置き換わるまで機器のメモリ上に"
            "保持します。映像を録画・保存することはなく、インターネットなどを通じて外部へ送信することも"
            "ありません。"
        ),
        _p("解析にあたって、次のことは一切行いません。"),
        _List(tuple(_Entry((t,)) for t in refrain)),
        _p(
            "人数を数えるため、画面内の人に一時的な番号を付けますが、この番号は機器のメモリ上でのみ使い、"
            "画面から外れるとすぐに消去します。保存や外部への送信はしません。"
        ),
    ]
    if f.installer_until is not None:
        captured.append(
            _p(
                f"現在、設置作業のための設置者モードが有効です（{f.installer_until}まで）。このモードでは、設置担当者が"
                "機器の設定画面で、画面内の人の位置を最新の枠線（映像ではありません）として確認できます。"
                "枠線は保存・送信しません。期限を過ぎると自動的に無効になります。"
            )
        )
    if f.attributes:
        captured[2:2] = _attributes_ja(f)
    sections.append(_Section("取得する情報", tuple(captured)))
    sections.append(
        _Section(
            "保存する情報と保存期間",
            (
                _p(
                    f"保存するのは、{_duration_ja(f.bucket_seconds)}ごとにまとめた次の集計値（人数などの数値）"
                    "だけです。カメラ画像は保存しません。"
                ),
                _List(tuple(_Entry((_kept_ja(k, f),)) for k in f.kept)),
                _p(
                    f"集計値の保存期間は{f.retention_days}日間で、期間を過ぎたものは自動的に削除します。"
                    "集計値から個人を識別することはできません。"
                ),
            ),
        )
    )
    if f.third_party:
        third: tuple[_Block, ...] = (
            _p(
                "カメラ画像を第三者に提供することはありません。個人を識別できない集計値に限り、次の提供先に提供します。"
            ),
            _List(tuple(_Entry((r,)) for r in f.recipients)),
        )
    else:
        third = (_p("カメラ画像および集計値を第三者に提供することはありません。"),)
    sections.append(_Section("第三者提供", third))
    if f.hours is not None:
        sections.append(
            _Section(
                "稼働時間",
                (
                    _p("カメラは次の時間帯のみ稼働します。それ以外の時間は停止しており、撮影は行いません。"),
                    _List(
                        tuple(_Entry((f"{_days_ja(days)}　{_time_ja(o)}〜{_time_ja(c)}",)) for days, o, c in f.hours)
                    ),
                ),
            )
        )
    else:
        sections.append(_Section("稼働時間", (_p("カメラは終日（24時間）稼働しています。"),)))
    label = {"email": "メールアドレス", "phone": "電話番号", "url": "お問い合わせページ"}[f.contact_kind]
    contact: list[_Block] = [
        _p("カメラ画像の利用に関するご質問・ご意見は、下記の窓口までお問い合わせください。"),
        _Fields((("窓口", (f"{f.operator}（管理責任者：{f.accountable}）",)), (label, (_contact_link(f),)))),
    ]
    if f.notice_url:
        contact.append(_p("この掲示の内容は、次のウェブページでもご覧いただけます：", _url_part(f.notice_url)))
    sections.append(_Section("お問い合わせ", tuple(contact)))
    footer = (_p("本掲示は、経済産業省・総務省「カメラ画像利活用ガイドブック ver3.0」を参考に作成しています。"),)
    return _Doc("ja", "カメラ画像の利用について", lead, tuple(sections), footer)


# ---------------------------------------------------------------- English


_DAY_EN = dict(zip(DAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))
_INTRO_EN = {
    "occupancy": "see how busy the store is",
    "flow": "count visitors",
    "dwell": "see how long people stay in each area",
    "heatmap": "see which parts of the floor are used",
    "queue": "keep checkout queues short",
    "attributes": "estimate the {what} of visitors, as statistics only",
}


def _join_en(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _period_en(s: int) -> str:
    """After "per": "hour", "5 minutes", "90 seconds"."""
    for unit, n in (("hour", 3600), ("minute", 60)):
        if s % n == 0:
            return unit if s == n else f"{s // n} {unit}s"
    return f"{s} seconds"


def _days_en(days: tuple[str, ...]) -> str:
    if set(days) == set(DAYS):
        return "Every day"
    parts = []
    for run in _day_runs(days):
        if len(run) >= 3:
            parts.append(f"{_DAY_EN[run[0]]}–{_DAY_EN[run[-1]]}")
        else:
            parts.extend(_DAY_EN[d] for d in run)
    return ", ".join(parts)


_KEPT_EN = {
    "camera_occupancy": "People in view of each camera (cameras: {names})",
    "zone_occupancy": "People in each area (areas: {names})",
    "site_occupancy": "People in the store, worked out from the counts at the entrances (entrances: {names})",
    "line_crossings": "People crossing each counting line, by direction in or out (lines: {names})",
    "zone_dwell": "Time spent in each area, as a distribution: how many people stayed about how long; not recorded "
    "for a period in which fewer than {k} people left the area (areas: {names})",
    "heatmap": "People on each cell of a coarse floor grid ({grids}); cells with fewer than {k} people are not "
    "recorded; each person counts once per cell (cameras: {names})",
    "queue": "People waiting at the checkout and the estimated waiting time; the waiting time is not given when "
    "fewer than {k} people finished waiting (areas: {names})",
    "line_groups": "Groups of people crossing a counting line together, by group size (1, 2, 3, 4 or more); if a "
    "size was counted fewer than {k} times, or fewer than {k2} people crossed, no size is recorded for that "
    "period (lines: {names})",
    "zone_movement": "People moving through each area, by direction (8 directions) and by speed (slow, normal, fast); "
    "if a count is below {k}, none of that breakdown is recorded for that period (areas: {names})",
    "attributes": "People by machine-estimated {what}, counted when they cross a counting line or leave an area; "
    "if a count is below {k}, none of the breakdown at that place is recorded for that period (places: {names})",
}
_AGE_EN = {"<20": "under 20", "20s": "20s", "30s": "30s", "40s": "40s", "50s": "50s", "60+": "60 and over"}


def _what_en(estimate: tuple[str, ...]) -> str:
    """ "gender and age group", "gender" or "age group"."""
    return " and ".join(w for a, w in (("gender", "gender"), ("age_band", "age group")) if a in estimate)


def _estimated_en(a: str) -> str:
    if a == "age_band":
        bands = ", ".join(_AGE_EN[b] for b in AGE_BANDS)
        return f"Age group: {bands} ({len(AGE_BANDS)} groups, never finer than ten years)"
    return f"Gender: {' or '.join(GENDERS)}"


def _kept_en(k: Kept, f: _Facts) -> str:
    return _KEPT_EN[k.output].format(
        names=", ".join(k.names), grids=", ".join(k.grids), k=f.k, k2=2 * f.k, what=_what_en(k.estimate)
    )


def _attributes_en(f: _Facts) -> tuple[_Block, ...]:
    """What the notice must say when age band or gender is estimated (purpose ``attributes``)."""
    what = _what_en(f.estimate)
    return (
        _p(
            f"A machine estimates each person's {what} from the camera image, and the results are kept only as "
            "statistics. No face images or face feature data are kept. Only the following are estimated:"
        ),
        _List(tuple(_Entry((_estimated_en(a),)) for a in f.estimate)),
        _p(
            "The estimate is made on the device in the store. The image and the face crops used for it are erased "
            "immediately afterwards. No facial feature data for identifying anyone is computed."
        ),
        _p(
            f"Only statistics are kept: how many people fell into each group, per {_period_en(f.bucket_seconds)} "
            f"(if a group has fewer than {f.k} people, none of the groups at that place is recorded for that period). "
            "No one's individual estimate is recorded, and "
            "no one is identified."
        ),
        _p("These are machine estimates and can be wrong. They are never used to treat anyone differently."),
    )


def _doc_en(f: _Facts) -> _Doc:
    intro = _join_en([_INTRO_EN[p.id].format(what=_what_en(f.estimate)) for p in f.purposes])
    lead = (
        _p(
            f"{f.operator} uses cameras in this store to {intro}. "
            "The images are analysed on a device in the store only to count people"
            + (f" and estimate their {_what_en(f.estimate)}" if f.attributes else "")
            + ", and are discarded immediately after analysis. They are never recorded and never sent anywhere."
        ),
    )
    sections = [
        _Section(
            "Who operates the cameras",
            (_Fields((("Operator", (f.operator,)), ("Person in charge", (f.accountable,)))),),
        ),
        _Section(
            "Purposes",
            (
                _p("Camera images are used only for the following purposes, and for nothing else."),
                _List(tuple(_Entry((p.description,), (p.justification,)) for p in f.purposes), ordered=True),
            ),
        ),
    ]
    refrain = [
        "identify anyone (there is no face recognition of any kind)",
        "compute or keep feature data, such as the relative positions of eyes, nose and mouth",
        "estimate sensitive information such as race, beliefs, disability or health",
        "recognise returning visitors or follow a person from one camera to another",
    ]
    if not f.attributes:
        refrain.insert(3, "estimate attributes such as gender or age")
    else:
        refrain[3:3] = [f"estimate {w}" for a, w in (("gender", "gender"), ("age_band", "age")) if a not in f.estimate]
    captured: list[_Block] = [
        _p(
            f"The cameras in this store ({len(f.cameras)} in total: {', '.join(f.cameras)}) capture images of people "
            "within their view."
        ),
        _p(
            "Each image is analysed on a device in the store to find where people are"
            + (f" and to estimate their {_what_en(f.estimate)}" if f.attributes else "")
            + ", and is erased immediately after that analysis. The video decoder holds only the latest image, in "
            "the device's memory, until the next one replaces it. Images are never recorded or stored, and never "
            "sent over the internet or anywhere else."
        ),
        _p("The analysis does not:"),
        _List(tuple(_Entry((t,)) for t in refrain)),
        _p(
            "To count people, the device gives each person on screen a temporary number. It exists only in the "
            "device's memory, is erased as soon as the person leaves the view, and is never stored or sent."
        ),
    ]
    if f.installer_until is not None:
        captured.append(
            _p(
                f"An installer mode is active until {f.installer_until}: the device's setup page shows installers "
                "live outlines of where people are (outlines, never images), to place counting zones and lines. The "
                "outlines are never stored or sent. The mode turns itself off at that time."
            )
        )
    if f.attributes:
        captured[2:2] = _attributes_en(f)
    sections.append(_Section("What is captured", tuple(captured)))
    sections.append(
        _Section(
            "What is kept and for how long",
            (
                _p(
                    f"Only the following counts are kept, each summarised per {_period_en(f.bucket_seconds)}. "
                    "Camera images are not kept."
                ),
                _List(tuple(_Entry((_kept_en(k, f),)) for k in f.kept)),
                _p(
                    f"The counts are kept for {f.retention_days} days and then deleted automatically. "
                    "No one can be identified from them."
                ),
            ),
        )
    )
    if f.third_party:
        third: tuple[_Block, ...] = (
            _p(
                "Camera images are never given to anyone. Only aggregate counts, from which no one can be "
                "identified, are provided to:"
            ),
            _List(tuple(_Entry((r,)) for r in f.recipients)),
        )
    else:
        third = (_p("Neither camera images nor counts are provided to any third party."),)
    sections.append(_Section("Third parties", third))
    if f.hours is not None:
        sections.append(
            _Section(
                "Operating hours",
                (
                    _p("The cameras run only at these times. Outside them they are switched off and capture nothing."),
                    _List(tuple(_Entry((f"{_days_en(days)} {o}–{c}",)) for days, o, c in f.hours)),
                ),
            )
        )
    else:
        sections.append(_Section("Operating hours", (_p("The cameras run all day (24 hours)."),)))
    label = {"email": "Email", "phone": "Phone", "url": "Contact page"}[f.contact_kind]
    contact: list[_Block] = [
        _p("For questions or comments about our use of camera images, please contact:"),
        _Fields((("Contact", (f"{f.operator} ({f.accountable})",)), (label, (_contact_link(f),)))),
    ]
    if f.notice_url:
        contact.append(_p("This notice is also published at ", _url_part(f.notice_url)))
    sections.append(_Section("Contact", tuple(contact)))
    footer = (
        _p(
            "This notice was prepared with reference to the Camera Image Utilization Guidebook ver3.0 of Japan's "
            "Ministry of Economy, Trade and Industry and Ministry of Internal Affairs and Communications."
        ),
    )
    return _Doc("en", "About our use of camera images", lead, tuple(sections), footer)


# ---------------------------------------------------------------- HTML

_CSS = """\
body{margin:0;background:#fff;color:#222;line-height:1.7;
font-family:system-ui,-apple-system,"Hiragino Sans","Hiragino Kaku Gothic ProN","Noto Sans JP",Meiryo,sans-serif}
main{max-width:42em;margin:0 auto;padding:1.5em 1em 3em}
nav.lang{text-align:right}
h1{font-size:1.6em;line-height:1.3;border-bottom:3px solid #222;padding-bottom:.3em}
h2{font-size:1.15em;border-left:6px solid #246;padding-left:.5em;margin-top:1.8em}
.lead{font-size:1.05em}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}
dt{font-weight:bold}dd{margin:0;overflow-wrap:anywhere}
li{margin:.3em 0}.head{font-weight:bold;display:block}.body{display:block}
a{color:#024;overflow-wrap:anywhere}
footer{margin-top:2.5em;font-size:.85em;color:#555}
"""


def _esc(s: str) -> str:
    return html.escape(s, quote=True)


def _inline_html(parts: Inline) -> str:
    return "".join(f'<a href="{_esc(p.href)}">{_esc(p.text)}</a>' if isinstance(p, _Link) else _esc(p) for p in parts)


def _block_html(b: _Block) -> str:
    if isinstance(b, _Para):
        return f"<p>{_inline_html(b.parts)}</p>"
    if isinstance(b, _Fields):
        rows = "".join(f"<dt>{_esc(k)}</dt><dd>{_inline_html(v)}</dd>" for k, v in b.rows)
        return f"<dl>{rows}</dl>"
    tag = "ol" if b.ordered else "ul"
    items = []
    for e in b.entries:
        if e.body:
            items.append(
                f'<li><span class="head">{_inline_html(e.head)}</span>'
                f'<span class="body">{_inline_html(e.body)}</span></li>'
            )
        else:
            items.append(f"<li>{_inline_html(e.head)}</li>")
    return f"<{tag}>\n" + "\n".join(items) + f"\n</{tag}>"


_LANG_NAMES = {"ja": "日本語", "en": "English"}


def _html(doc: _Doc, operator: str, other: tuple[str, str] | None = None) -> str:
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{doc.lang}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(doc.title)} | {_esc(operator)}</title>",
        f"<style>\n{_CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
    ]
    if other is not None:  # (language code, href) of the same notice in the other language
        code, href = other
        out.append(
            f'<nav class="lang"><a href="{_esc(href)}" hreflang="{code}" lang="{code}">{_LANG_NAMES[code]}</a></nav>'
        )
    out += [f"<h1>{_esc(doc.title)}</h1>"]
    out += [f'<p class="lead">{_inline_html(p.parts)}</p>' for p in doc.lead]
    for s in doc.sections:
        out.append("<section>")
        out.append(f"<h2>{_esc(s.title)}</h2>")
        out += [_block_html(b) for b in s.blocks]
        out.append("</section>")
    out.append("<footer>")
    out += [_block_html(p) for p in doc.footer]
    out += ["</footer>", "</main>", "</body>", "</html>", ""]
    return "\n".join(out)


# ---------------------------------------------------------------- plain text

# Characters a line must not start with / end with (a small 禁則 set), so 、。）」 never begin a line.
_NO_START = set(
    "、。，．,.)）]］｝」』】〕〉》〟’”!！?？:：;；ー々ゝゞ・〜…ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ"
)
_NO_END = set("(（[［｛「『【〔〈《〝‘“")


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _atoms(text: str) -> list[tuple[str, str]]:
    """Unbreakable units, each with the space before it ("", " " or an ideographic space): ASCII/Latin words stay
    whole, wide characters may break between each other, and closing/opening punctuation sticks to its neighbour."""
    atoms: list[tuple[str, str]] = []
    space = ""
    prev_narrow = False
    for t in re.findall(r"\s+|[^\s]", text):
        if t.isspace():
            space, prev_narrow = ("\u3000" if "\u3000" in t else " "), False
            continue
        wide = _width(t) == 2
        if atoms and not space and (t in _NO_START or atoms[-1][0][-1] in _NO_END or (prev_narrow and not wide)):
            atoms[-1] = (atoms[-1][0] + t, atoms[-1][1])
        else:
            atoms.append((t, space))
        space, prev_narrow = "", not wide
    return atoms


def _wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    """Greedy fill to ``width`` display columns; the break drops the space at it. A too-long atom overflows."""
    lines: list[str] = []
    line, used, empty = first, _width(first), True
    for atom, space in _atoms(text):
        sep = "" if empty else space
        if not empty and used + _width(sep + atom) > width:
            lines.append(line)
            line, used, empty, sep = rest, _width(rest), True, ""
        line += sep + atom
        used += _width(sep + atom)
        empty = False
    lines.append(line)
    return [ln.rstrip() for ln in lines]


def _inline_txt(parts: Inline) -> str:
    return "".join(p.text if isinstance(p, _Link) else p for p in parts)


def _block_txt(b: _Block, indent: str, lang: str) -> list[str]:
    w = TEXT_WIDTH
    if isinstance(b, _Para):
        return _wrap(_inline_txt(b.parts), w, indent, indent)
    if isinstance(b, _Fields):
        sep = "：" if lang == "ja" else ": "
        out = []
        for k, v in b.rows:
            out += _wrap(_inline_txt(v), w, f"{indent}{k}{sep}", indent + "  ")
        return out
    out = []
    for i, e in enumerate(b.entries, 1):
        bullet = f"{i}. " if b.ordered else ("・" if lang == "ja" else "- ")
        hang = indent + " " * _width(bullet)
        out += _wrap(_inline_txt(e.head), w, indent + bullet, hang)
        if e.body:
            out += _wrap(_inline_txt(e.body), w, hang, hang)
    return out


def _txt(doc: _Doc) -> str:
    out = [doc.title, "=" * _width(doc.title), ""]
    for p in doc.lead:
        out += [*_block_txt(p, "", doc.lang), ""]
    for s in doc.sections:
        out.append(f"【{s.title}】" if doc.lang == "ja" else s.title)
        if doc.lang != "ja":
            out.append("-" * _width(s.title))
        for i, b in enumerate(s.blocks):
            if i and isinstance(b, _Para):
                out.append("")
            out += _block_txt(b, "  ", doc.lang)
        out.append("")
    out.append("-" * TEXT_WIDTH)
    for p in doc.footer:
        out += _block_txt(p, "", doc.lang)
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- entry point


def render_notice(
    cfg: Config, lang: Literal["ja", "en"], fmt: Literal["html", "txt"], *, other_lang_href: str | None = None
) -> str:
    """The prior notice (事前告知) for signage and the web, from the config alone.

    ``lang`` is "ja" or "en"; ``fmt`` is "html" (a complete standalone page, every config string escaped, no
    scripts or external assets) or "txt" (plain text wrapped to ``TEXT_WIDTH`` display columns). Serve it with
    ``NOTICE_CONTENT_TYPE[fmt]``. ``other_lang_href`` (html only) is a link to the same notice in the other
    language, with ``{lang}`` standing for its code, e.g. ``"?lang={lang}"`` where the device serves both.
    """
    if lang not in ("ja", "en"):
        raise ValueError(f"lang must be 'ja' or 'en', not {lang!r}")
    if fmt not in NOTICE_CONTENT_TYPE:
        raise ValueError(f"fmt must be 'html' or 'txt', not {fmt!r}")
    facts = _facts(cfg, lang)
    doc = _doc_ja(facts) if lang == "ja" else _doc_en(facts)
    if fmt == "txt":
        return _txt(doc)
    other = "en" if lang == "ja" else "ja"
    link = None if other_lang_href is None else (other, other_lang_href.replace("{lang}", other))
    return _html(doc, facts.operator, link)
