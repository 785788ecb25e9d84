"""The prior notice with attributes: age band and gender estimated by machine, kept only as statistics; movement."""

from __future__ import annotations

import re
import unicodedata

import pytest

from edgeanon.config.loader import parse_config
from edgeanon.config.schema import Config
from edgeanon.counting.bins import AGE_BANDS, GENDERS
from edgeanon.guidebook.notice import texts_en, texts_ja
from edgeanon.guidebook.notice.content import kept_aggregates, movement_aggregates
from edgeanon.guidebook.notice.plain_text import TEXT_WIDTH
from edgeanon.guidebook.notice.render import render_notice
from tests.helpers.notice import CONFIGS, DISCARD, FMTS, LANGS, NO_IDENTIFICATION, check_html, contains

HEAD = """\
operator: {name: Sakura Mart K.K., accountable: Store manager, contact: privacy@sakura-mart.example}
privacy: {k: 7}
aggregation: {bucket_seconds: 900}
purposes:
  - {id: occupancy, justification: Keep the number of customers within the fire-safety limit of 80.}
  - {id: flow, justification: Count visitors entering and leaving per hour to plan staff shifts.}
"""
ATTR_PURPOSE = """\
  - id: attributes
    justification: Count visitors by coarse age group and gender to plan the product range of the store.
"""
CAMERAS = """\
cameras:
  - id: door
    source: {kind: device, index: 0}
    zones:
      - {name: hall, polygon: [[0, 0], [100, 0], [100, 100]]}
    lines:
      - {name: entrance, a: [0.5, 0.1], b: [0.5, 0.9], normalized: true}
"""


def site(estimate: str | None = "[age_band, gender]") -> Config:
    if estimate is None:
        return parse_config(HEAD + CAMERAS)
    return parse_config(HEAD + ATTR_PURPOSE + CAMERAS + f"attributes:\n  estimate: {estimate}\n")


# What the notice must say when age band and gender are estimated (k = 7, 15-minute buckets).
ATTRIBUTES = {
    "ja": (
        "性別・年代を機械により推定し、統計情報としてのみ保持します",
        "顔画像や特徴量は保存しません",
        "推定に使ったカメラ画像と顔の部分の画像は、推定後ただちに消去します",
        "個人を識別するための顔の特徴量は算出しません",
        "15分ごとに性別・年代の区分ごとの人数として集計し、この集計値だけを保持します",
        "この集計値だけを保持します（7人未満の区分があるときは、その期間のその場所の内訳をすべて記録しません）",
        "特定の個人を識別することもありません",
        "推定は機械によるもので、誤りを含むことがあります",
        "推定結果によって、お客様への対応を変えることはありません",
        "年代：20歳未満、20代、30代、40代、50代、60歳以上の6区分",
        "性別：女性・男性の2区分",
        "性別・年代別の人数（機械による推定値",
        "人数を数え、性別・年代を推定するためだけに解析し",
    ),
    "en": (
        "A machine estimates each person's gender and age group from the camera image, and the results are kept only "
        "as statistics",
        "No face images or face feature data are kept",
        "The image and the face crops used for it are erased immediately afterwards",
        "No facial feature data for identifying anyone is computed",
        "Only statistics are kept: how many people fell into each group, per 15 minutes",
        "if a group has fewer than 7 people, none of the groups at that place is recorded for that period",
        "No one's individual estimate is recorded, and no one is identified",
        "These are machine estimates and can be wrong",
        "never used to treat anyone differently",
        "Age group: under 20, 20s, 30s, 40s, 50s, 60 and over",
        "Gender: female or male",
        "People by machine-estimated gender and age group",
        "only to count people and estimate their gender and age group",
    ),
}
NOT_ESTIMATED = {"ja": "性別・年齢などの属性の推定", "en": "estimate attributes such as gender or age"}


@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("lang", LANGS)
def test_notice_says_what_is_estimated_and_kept(lang, fmt):
    out = render_notice(site(), lang, fmt)
    for phrase in (*ATTRIBUTES[lang], *DISCARD[lang], *NO_IDENTIFICATION[lang]):
        assert contains(out, fmt, phrase), phrase
    assert not contains(out, fmt, NOT_ESTIMATED[lang])
    for name in ("hall", "entrance"):
        assert contains(out, fmt, name)


@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("lang", LANGS)
def test_absent_without_the_purpose(lang, fmt):
    out = render_notice(site(None), lang, fmt)
    for phrase in ATTRIBUTES[lang]:
        assert not contains(out, fmt, phrase), phrase
    assert contains(out, fmt, NOT_ESTIMATED[lang])
    for word in ("年代", "女性", "機械により") if lang == "ja" else ("age group", "female", "machine"):
        assert word not in out, word


@pytest.mark.parametrize("fmt", FMTS)
def test_only_age_band(fmt):
    cfg = site("[age_band]")
    ja = render_notice(cfg, "ja", fmt)
    assert contains(ja, fmt, "カメラ画像から年代を機械により推定し、統計情報としてのみ保持します")
    assert contains(ja, fmt, "性別の推定")  # still in the list of what is never done
    assert contains(ja, fmt, "来店者の年代の統計的な把握を目的として")
    assert contains(ja, fmt, "人数を数え、年代を推定するためだけに解析し")
    assert "女性" not in ja and "性別・年代を" not in ja and "性別・年代別" not in ja
    en = render_notice(cfg, "en", fmt)
    assert contains(en, fmt, "A machine estimates each person's age group from the camera image")
    assert contains(en, fmt, "estimate gender")
    assert contains(en, fmt, "estimate the age group of visitors, as statistics only")
    assert "female" not in en and "gender and age group" not in en


@pytest.mark.parametrize("fmt", FMTS)
def test_only_gender(fmt):
    cfg = site("[gender]")
    ja = render_notice(cfg, "ja", fmt)
    assert contains(ja, fmt, "カメラ画像から性別を機械により推定し")
    assert contains(ja, fmt, "年齢の推定") and "20代" not in ja
    en = render_notice(cfg, "en", fmt)
    assert contains(en, fmt, "A machine estimates each person's gender from the camera image")
    assert contains(en, fmt, "estimate age") and "20s" not in en


@pytest.mark.parametrize("lang", LANGS)
def test_html_well_formed_and_text_wrapped(lang):
    cfg = site()
    page = render_notice(cfg, lang, "html")
    check_html(page)
    assert page.count("<ul>") == 3  # never done, estimated attributes, what is kept
    txt = render_notice(cfg, lang, "txt")
    assert "<" not in txt.replace("<20", "")
    for line in txt.splitlines():
        width = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
        assert width <= TEXT_WIDTH or len(line.split()) <= 2, line
        assert not line.lstrip().startswith(("、", "。", "）", "」")), f"禁則: {line!r}"


def test_kept_aggregates_with_attributes():
    kept = {k.output: k for k in kept_aggregates(site())}
    assert kept["attributes"].purpose == "attributes"
    assert kept["attributes"].names == ("hall", "entrance")
    assert kept["attributes"].estimate == ("age_band", "gender")
    assert "attributes" not in {k.output for k in kept_aggregates(site(None))}


def test_movement_is_kept_under_flow():
    cfg = CONFIGS["store-example"]
    assert {k.output: k.names for k in movement_aggregates(cfg)} == {
        "zone_movement": ("queue", "tills"),
        "line_groups": ("door",),
    }
    ja = render_notice(cfg, "ja", "txt")
    assert contains(ja, "txt", "計測ラインを一緒に通過したグループの数（1人・2人・3人・4人以上の人数別。5件未満")
    assert contains(ja, "txt", "エリア内を移動した方向（8方向）別・速さ（ゆっくり・ふつう・速い）別の人数（5人未満")
    assert contains(ja, "txt", "または通過した人が10人未満のときは、その期間の人数別の数をすべて記録しません")
    en = render_notice(cfg, "en", "txt")
    assert contains(en, "txt", "Groups of people crossing a counting line together, by group size (1, 2, 3, 4 or more)")
    assert contains(en, "txt", "People moving through each area, by direction (8 directions) and by speed")
    assert contains(en, "txt", "or fewer than 10 people crossed, no size is recorded for that period")
    assert "性別" not in ja.split("【保存する情報と保存期間】")[1]  # no attributes declared there
    no_flow = parse_config(HEAD.split("  - {id: flow", maxsplit=1)[0] + re.sub(r"    lines:\n.*\n", "", CAMERAS))
    assert movement_aggregates(no_flow) == []
    assert "グループ" not in render_notice(no_flow, "ja", "txt")


def test_labels_cover_every_bin():
    assert list(texts_ja.AGES) == list(AGE_BANDS) == list(texts_en.AGES)
    assert list(texts_ja.GENDERS) == list(GENDERS)
