"""The prior notice (事前告知): generated from the config alone, complete, escaped, in natural Japanese and English."""

from __future__ import annotations

import html
import re
import unicodedata

import pytest

from edgeanon.config.loader import parse_config
from edgeanon.config.schema import Config
from edgeanon.guidebook.notice.content import kept_aggregates
from edgeanon.guidebook.notice.plain_text import TEXT_WIDTH
from edgeanon.guidebook.notice.render import NOTICE_CONTENT_TYPE, render_notice
from tests.helpers.notice import (
    CONFIGS,
    DISCARD,
    FMTS,
    JA_HEADINGS,
    LANGS,
    NO_IDENTIFICATION,
    NO_THIRD_PARTY,
    check_html,
    contains,
)

# ---------------------------------------------------------------- the shipped configs, every language and format


@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_notice_states_everything(name, lang, fmt):
    cfg = CONFIGS[name]
    out = render_notice(cfg, lang, fmt)
    assert contains(out, fmt, cfg.operator.name)
    assert contains(out, fmt, cfg.operator.accountable)
    assert contains(out, fmt, cfg.operator.contact)
    assert cfg.operator.notice_url and contains(out, fmt, cfg.operator.notice_url)
    for p in cfg.purposes:
        assert contains(out, fmt, p.justification), p.id
    days = cfg.retention.aggregates_days
    assert contains(out, fmt, f"{days}日間" if lang == "ja" else f"kept for {days} days")
    for phrase in (*DISCARD[lang], *NO_IDENTIFICATION[lang]):
        assert contains(out, fmt, phrase), phrase
    assert contains(out, fmt, NO_THIRD_PARTY[lang])
    for cam in cfg.cameras:  # what is kept names the configured zones and lines
        assert contains(out, fmt, cam.id)
        for item in (*cam.zones, *cam.lines):
            assert contains(out, fmt, item.name)


@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("lang", LANGS)
def test_purpose_descriptions_come_from_the_policy(lang, fmt):
    from edgeanon.guidebook.policy import PURPOSE_DESCRIPTIONS

    cfg = CONFIGS["store-example"]
    out = render_notice(cfg, lang, fmt)
    for p in cfg.purposes:
        assert contains(out, fmt, PURPOSE_DESCRIPTIONS[p.id][0 if lang == "en" else 1])


@pytest.mark.parametrize("fmt", FMTS)
def test_store_example_opening_hours(fmt):
    cfg = CONFIGS["store-example"]
    ja = render_notice(cfg, "ja", fmt)
    assert contains(ja, fmt, "月〜金　9:45〜21:15")
    assert contains(ja, fmt, "土・日　9:45〜20:15")
    assert contains(ja, fmt, "それ以外の時間は停止しており、撮影は行いません")
    en = render_notice(cfg, "en", fmt)
    assert contains(en, fmt, "Mon–Fri 09:45–21:15")
    assert contains(en, fmt, "Sat, Sun 09:45–20:15")
    assert contains(en, fmt, "Outside them they are switched off and capture nothing")


@pytest.mark.parametrize("fmt", FMTS)
def test_no_schedule_says_all_day(fmt):
    cfg = CONFIGS["default"]
    assert cfg.schedule is None
    assert contains(render_notice(cfg, "ja", fmt), fmt, "終日（24時間）稼働しています")
    assert contains(render_notice(cfg, "en", fmt), fmt, "run all day (24 hours)")


def test_store_example_lists_only_what_is_kept():
    cfg = CONFIGS["store-example"]
    kept = {k.output: k.names for k in kept_aggregates(cfg)}
    assert kept == {
        "camera_occupancy": ("entrance", "checkout"),
        "zone_occupancy": ("queue", "tills"),
        "site_occupancy": ("door",),
        "line_crossings": ("door",),
        "queue": ("queue",),
    }
    ja = render_notice(cfg, "ja", "txt")
    for phrase in ("5分ごとにまとめた", "エリアごとの人数", "計測ラインを通過した人数", "レジ待ちの人数と推定待ち時間"):
        assert contains(ja, "txt", phrase), phrase
    assert "滞在時間の分布" not in ja and "区画" not in ja  # dwell and heatmap are not declared
    en = render_notice(cfg, "en", "txt")
    assert contains(en, "txt", "each summarised per 5 minutes.")
    assert "Time spent" not in en and "grid" not in en


# ---------------------------------------------------------------- HTML


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_html_is_a_standalone_well_formed_page(name, lang):
    page = render_notice(CONFIGS[name], lang, "html")
    assert page.startswith("<!DOCTYPE html>\n")
    c = check_html(page)
    tags = [t for t, _ in c.tags]
    assert tags[:3] == ["html", "head", "meta"]
    assert c.tags[0][1] == {"lang": lang}
    metas = [a for t, a in c.tags if t == "meta"]
    assert {"charset": "utf-8"} in metas
    assert any(a.get("name") == "viewport" for a in metas)
    assert "style" in tags and "title" in tags
    assert not {"script", "link", "img", "iframe", "object"} & set(tags)  # no scripts, no external assets
    for _, attrs in c.tags:
        assert "src" not in attrs and not any(k.startswith("on") for k in attrs)
    hrefs = [a["href"] for t, a in c.tags if t == "a"]
    assert all(h and h.startswith(("mailto:", "tel:", "https://", "http://")) for h in hrefs)


def test_japanese_html_headings():
    c = check_html(render_notice(CONFIGS["store-example"], "ja", "html"))
    assert c.headings[0] == "カメラ画像の利用について"
    for h in JA_HEADINGS:
        assert any(h in x for x in c.headings), h
    assert "稼働時間" in c.headings


def test_english_html_headings():
    c = check_html(render_notice(CONFIGS["store-example"], "en", "html"))
    assert c.headings == [
        "About our use of camera images",
        "Who operates the cameras",
        "Purposes",
        "What is captured",
        "What is kept and for how long",
        "Third parties",
        "Operating hours",
        "Contact",
    ]


MALICIOUS = """\
operator:
  name: "<script>alert(1)</script>"
  accountable: "<b onmouseover=alert(2)>boss</b>"
  contact: "https://evil.example/?q=\\"><script>alert(3)</script>"
  notice_url: "javascript:alert(4)"
purposes:
  - id: occupancy
    justification: "\\"><img src=x onerror=alert(5)> & keep the store under the fire-safety limit"
privacy:
  third_party: {provided: true, recipients: ["<iframe src=//evil.example>"]}
cameras:
  - id: door
    source: {kind: device, index: 0}
"""


@pytest.mark.parametrize("lang", LANGS)
def test_html_escapes_config_strings(lang):
    cfg = parse_config(MALICIOUS)
    page = render_notice(cfg, lang, "html")
    c = check_html(page)
    tags = {t for t, _ in c.tags}
    assert not {"script", "img", "iframe", "b"} & tags
    assert "<script>" not in page and "<img" not in page and "<iframe" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&amp; keep the store" in page
    for t, attrs in c.tags:
        assert not any(k.startswith("on") for k in attrs), (t, attrs)
    hrefs = [a["href"] for t, a in c.tags if t == "a"]
    assert not any(h.lower().startswith("javascript:") for h in hrefs)  # the notice URL stays plain text
    assert "javascript:alert(4)" in html.unescape(page)
    # the text rendering keeps the strings as they are (it is not HTML)
    txt = render_notice(cfg, lang, "txt")
    assert "<script>alert(1)</script>" in txt


# ---------------------------------------------------------------- plain text


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_text_is_plain_and_wrapped(name, lang):
    txt = render_notice(CONFIGS[name], lang, "txt")
    assert not re.search(r"<\s*/?\s*[a-zA-Z!][^>]*>", txt), "no HTML tags in text"
    assert "&lt;" not in txt and "&amp;" not in txt
    assert txt.endswith("\n")
    for line in txt.splitlines():
        width = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
        # only an unbreakable word (a URL, an address) may overflow, and then it is alone on its line
        assert width <= TEXT_WIDTH or len(line.split()) <= 2, line
        assert line == line.rstrip()
        assert not line.lstrip().startswith(("、", "。", "）", "」")), f"禁則: {line!r}"


def test_japanese_text_headings():
    txt = render_notice(CONFIGS["store-example"], "ja", "txt")
    assert txt.splitlines()[0] == "カメラ画像の利用について"
    for h in ("【利用目的】", "【取得する情報】", "【保存する情報と保存期間】", "【第三者提供】", "【お問い合わせ】"):
        assert h in txt, h
    assert "です" in txt and "ます" in txt  # polite style
    assert "である" not in txt and "だ。" not in txt


# ---------------------------------------------------------------- config variations


def config(extra: str = "", purposes: str | None = None, cameras: str | None = None) -> Config:
    return parse_config(
        "operator: {name: Sakura Mart K.K., accountable: Store manager, contact: '+81 3-1234-5678'}\n"
        + (
            purposes
            or "purposes:\n  - {id: occupancy, justification: Keep the store under its fire-safety limit of 80.}\n"
        )
        + (cameras or "cameras:\n  - {id: floor, source: {kind: device, index: 0}}\n")
        + extra
    )


@pytest.mark.parametrize("fmt", FMTS)
def test_third_party_recipients_are_named(fmt):
    cfg = config(
        "privacy:\n  third_party: {provided: true, recipients: [Sakura Holdings K.K., Ebisu Mall Co., Ltd.]}\n"
    )
    ja = render_notice(cfg, "ja", fmt)
    assert contains(ja, fmt, "個人を識別できない集計値に限り、次の提供先に提供します")
    assert contains(ja, fmt, "カメラ画像を第三者に提供することはありません")
    en = render_notice(cfg, "en", fmt)
    assert contains(en, fmt, "Camera images are never given to anyone")
    for r in cfg.privacy.third_party.recipients:
        assert contains(ja, fmt, r) and contains(en, fmt, r)
    assert not contains(ja, fmt, NO_THIRD_PARTY["ja"])


def test_phone_contact_and_no_notice_url():
    cfg = config()
    page = render_notice(cfg, "ja", "html")
    assert '<a href="tel:+81312345678">+81 3-1234-5678</a>' in page
    assert "電話番号" in page
    assert "ウェブページでもご覧いただけます" not in page  # no notice_url: nothing to point at
    assert "This notice is also published" not in render_notice(cfg, "en", "txt")


def test_dwell_and_heatmap_are_described_with_k():
    cfg = config(
        "privacy: {k: 7}\naggregation: {bucket_seconds: 3600}\n",
        purposes="purposes:\n"
        "  - {id: dwell, justification: Compare how long people stay at the new display with the old layout.}\n"
        "  - {id: heatmap, justification: See which aisles are unused so shelves can be moved where they are seen.}\n",
        cameras="cameras:\n"
        "  - id: floor\n    source: {kind: device, index: 0}\n    heatmap: {rows: 4, cols: 6}\n"
        "    zones: [{name: display, polygon: [[0, 0], [100, 0], [100, 100]]}]\n",
    )
    ja = render_notice(cfg, "ja", "txt")
    assert contains(ja, "txt", "エリアごとの滞在時間の分布")
    assert contains(ja, "txt", "エリアを出た人が7人未満の期間は記録しません")
    assert contains(ja, "txt", "同じ人は区画ごとに1人と数えます")
    assert contains(ja, "txt", "売場を粗い区画（4×6）に分けた、区画ごとの人数（7人未満の区画は記録しません")
    assert contains(ja, "txt", "1時間ごとにまとめた")
    assert "各カメラの撮影範囲内の人数" not in ja  # occupancy is not declared
    en = render_notice(cfg, "en", "txt")
    assert contains(en, "txt", "coarse floor grid (4×6); cells with fewer than 7 people are not recorded")
    assert contains(en, "txt", "each person counts once per cell")
    assert contains(en, "txt", "not recorded for a period in which fewer than 7 people left the area")
    assert contains(en, "txt", "each summarised per hour.")


def test_days_are_written_naturally():
    cfg = config(
        "schedule:\n  hours:\n"
        "    - {days: [mon, wed, fri], open: '10:00', close: '19:00'}\n"
        "    - {days: [sun], open: '11:00', close: '17:00'}\n"
        "    - {days: [mon, tue, wed, thu, fri, sat, sun], open: '20:00', close: '21:00'}\n"
    )
    ja = render_notice(cfg, "ja", "txt")
    assert "月・水・金　10:00〜19:00" in ja
    assert "日曜日　11:00〜17:00" in ja
    assert "毎日　20:00〜21:00" in ja
    en = render_notice(cfg, "en", "txt")
    assert "Mon, Wed, Fri 10:00–19:00" in en and "Sun 11:00–17:00" in en and "Every day 20:00–21:00" in en


def test_content_types_and_bad_arguments():
    assert NOTICE_CONTENT_TYPE == {"html": "text/html; charset=utf-8", "txt": "text/plain; charset=utf-8"}
    with pytest.raises(ValueError, match="lang"):
        render_notice(CONFIGS["default"], "fr", "txt")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fmt"):
        render_notice(CONFIGS["default"], "ja", "pdf")  # type: ignore[arg-type]
