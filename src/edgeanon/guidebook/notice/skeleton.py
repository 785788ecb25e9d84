"""The one skeleton of the notice: the order of its sections and which facts each shows, for every language.

The guidebook's 事前告知 items, in order: who operates the cameras, the purposes, what is captured and how images
are handled, what is kept and for how long, third-party provision, operating hours and the inquiry contact. The
words come from a ``Texts``; nothing here is language-specific.
"""

from __future__ import annotations

import re

from edgeanon.counting.bins import AGE_BANDS, GENDERS
from edgeanon.guidebook.notice.content import Facts, Kept
from edgeanon.guidebook.notice.document import Block, Doc, Entry, Fields, Link, List, Section, bullets, para
from edgeanon.guidebook.notice.texts import Texts


def build(f: Facts, t: Texts) -> Doc:
    """The notice for ``f`` in the language of ``t``."""
    what = _what(t, f.estimate)
    intro = t.join([t.intros[pid].format(what=what) for pid, _ in f.purposes])
    lead = para(t.lead.format(operator=f.operator, intro=intro, analysis=_pick(t.lead_analysis, f, what)))
    sections = (
        _operator(f, t),
        _purposes(f, t),
        _captured(f, t, what),
        _kept(f, t),
        _third_party(f, t),
        _hours(f, t),
        _contact(f, t),
    )
    return Doc(t.code, t.title, (lead,), sections, (para(t.footer),))


def _pick(pair: tuple[str, str], f: Facts, what: str) -> str:
    """The plain or the with-attributes variant of a phrase."""
    return pair[f.attributes].format(what=what)


def _what(t: Texts, estimate: tuple[str, ...]) -> str:
    """The estimated attributes in the language's usual order ("gender and age group", 「性別・年代」)."""
    return t.what_sep.join(w for a, w in t.what_words.items() if a in estimate)


def _operator(f: Facts, t: Texts) -> Section:
    operator, accountable = t.operator_labels
    return Section(t.operator_title, (Fields(((operator, (f.operator,)), (accountable, (f.accountable,)))),))


def _purposes(f: Facts, t: Texts) -> Section:
    entries = tuple(Entry((t.descriptions[pid],), (justification,)) for pid, justification in f.purposes)
    return Section(t.purposes_title, (para(t.purposes_intro), List(entries, ordered=True)))


def _captured(f: Facts, t: Texts, what: str) -> Section:
    refrain = list(t.refrain)
    if not f.attributes:
        refrain.insert(3, t.refrain_attributes)
    else:
        refrain[3:3] = [t.refrain_one.format(what=w) for a, w in t.refrain_words.items() if a not in f.estimate]
    blocks: list[Block] = [
        para(t.cameras.format(n=len(f.cameras), names=t.list_sep.join(f.cameras))),
        para(t.analysis.format(analysis=_pick(t.analysis_attributes, f, what))),
        para(t.refrain_intro),
        bullets(refrain),
        para(t.temporary_ids),
    ]
    if f.installer_until is not None:
        blocks.append(para(t.installer.format(until=f.installer_until)))
    if f.attributes:
        blocks[2:2] = _attributes(f, t, what)
    return Section(t.captured_title, tuple(blocks))


def _attributes(f: Facts, t: Texts, what: str) -> tuple[Block, ...]:
    """What the notice must say when age band or gender is estimated (purpose ``attributes``)."""
    return (
        para(t.attr_intro.format(what=what)),
        bullets([_estimated(t, a) for a in f.estimate]),
        para(t.attr_device),
        para(t.attr_stats.format(period=t.period(f.bucket_seconds), what=what, k=f.k)),
        para(t.attr_caveat),
    )


def _estimated(t: Texts, a: str) -> str:
    """One estimated attribute and every bin it can fall into."""
    if a == "age_band":
        bands = t.age_sep.join(t.ages[b] for b in AGE_BANDS)
        return t.estimated_age.format(bands=bands, n=len(AGE_BANDS))
    return t.estimated_gender.format(genders=t.gender_sep.join(t.genders[g] for g in GENDERS), n=len(GENDERS))


def _kept_text(k: Kept, f: Facts, t: Texts) -> str:
    return t.kept[k.output].format(
        names=t.list_sep.join(k.names), grids=t.list_sep.join(k.grids), k=f.k, k2=2 * f.k, what=_what(t, k.estimate)
    )


def _kept(f: Facts, t: Texts) -> Section:
    return Section(
        t.kept_title,
        (
            para(t.kept_intro.format(period=t.period(f.bucket_seconds))),
            bullets([_kept_text(k, f, t) for k in f.kept]),
            para(t.retention.format(days=f.retention_days)),
        ),
    )


def _third_party(f: Facts, t: Texts) -> Section:
    if f.third_party:
        return Section(t.third_title, (para(t.third_provided), bullets(f.recipients)))
    return Section(t.third_title, (para(t.third_none),))


def _hours(f: Facts, t: Texts) -> Section:
    if f.hours is None:
        return Section(t.hours_title, (para(t.hours_all_day),))
    entries = [t.hours_entry.format(days=t.days(d), open=t.clock(o), close=t.clock(c)) for d, o, c in f.hours]
    return Section(t.hours_title, (para(t.hours_intro), bullets(entries)))


def _contact(f: Facts, t: Texts) -> Section:
    who = t.contact_who.format(operator=f.operator, accountable=f.accountable)
    blocks: list[Block] = [
        para(t.contact_intro),
        Fields(((t.contact_label, (who,)), (t.contact_kinds[f.contact_kind], (_contact_link(f),)))),
    ]
    if f.notice_url:
        blocks.append(para(t.published, _url_part(f.notice_url)))
    return Section(t.contact_title, tuple(blocks))


def _contact_link(f: Facts) -> Link:
    if f.contact_kind == "email":
        return Link(f.contact, "mailto:" + f.contact)
    if f.contact_kind == "phone":
        return Link(f.contact, "tel:" + re.sub(r"[^0-9+]", "", f.contact))
    return Link(f.contact, f.contact)


def _url_part(url: str) -> str | Link:
    """Only an http(s) URL becomes a link (never javascript: or data:); anything else stays text."""
    return Link(url, url) if re.fullmatch(r"https?://[^\s\"'<>]+", url, re.IGNORECASE) else url
