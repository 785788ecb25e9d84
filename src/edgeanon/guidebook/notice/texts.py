"""What a language must supply to fill the notice's one skeleton: its prose, its templates and its few rules.

Each language (``texts_ja``, ``texts_en``) is one ``Texts`` value. Templates are ``str.format`` strings whose
fields are named in the comment beside each; a pair ``(plain, with_attributes)`` is chosen by whether age band or
gender is estimated. The skeleton (``skeleton``) decides the order of the sections and which facts each shows; a
language decides only how to say them, so the Japanese and English notices cannot drift apart in what they state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from edgeanon.config.names import DAYS


@dataclass(frozen=True, slots=True)
class Texts:
    code: str  # "ja" or "en": the justification shown (``Purpose.justification_in``) and the html lang
    name: str  # the language's own name, on the link from the notice in the other language
    title: str
    list_sep: str  # between names of cameras, zones, lines, grids
    join: Callable[[list[str]], str]  # "a, b and c": purposes in the lead
    period: Callable[[int], str]  # a bucket length in seconds, as the words after "per" / before 「ごと」
    days: Callable[[tuple[str, ...]], str]  # a set of schedule days ("mon".."sun")
    clock: Callable[[str], str]  # a schedule time "HH:MM"
    # lead
    intros: Mapping[str, str]  # purpose id -> phrase for the lead; {what}
    lead: str  # {operator} {intro} {analysis}
    lead_analysis: tuple[str, str]  # {what}
    # who operates the cameras
    operator_title: str
    operator_labels: tuple[str, str]  # operator, accountable person
    # purposes
    descriptions: Mapping[str, str]  # purpose id -> what it is for (from ``policy.PURPOSE_DESCRIPTIONS``)
    purposes_title: str
    purposes_intro: str
    # what is captured
    captured_title: str
    cameras: str  # {n} {names}
    analysis: str  # {analysis}
    analysis_attributes: tuple[str, str]  # {what}
    refrain_intro: str
    refrain: tuple[str, ...]  # what is never done; the attribute line goes before the last one
    refrain_attributes: str  # when nothing is estimated
    refrain_one: str  # {what}: one attribute that is not estimated while another is
    refrain_words: Mapping[str, str]  # estimate -> word in ``refrain_one``
    temporary_ids: str
    installer: str  # {until}
    # what is estimated (purpose ``attributes``)
    what_words: Mapping[str, str]  # estimate -> word, in the language's usual order
    what_sep: str
    attr_intro: str  # {what}
    attr_device: str
    attr_stats: str  # {period} {what} {k}
    attr_caveat: str
    ages: Mapping[str, str]  # ``bins.AGE_BANDS`` -> label
    age_sep: str
    estimated_age: str  # {bands} {n}
    genders: Mapping[str, str]  # ``bins.GENDERS`` -> label
    gender_sep: str
    estimated_gender: str  # {genders} {n}
    # what is kept
    kept_title: str
    kept_intro: str  # {period}
    kept: Mapping[str, str]  # ``content.Kept.output`` -> {names} {grids} {k} {k2} {what}
    retention: str  # {days}
    # third parties
    third_title: str
    third_provided: str
    third_none: str
    # operating hours
    hours_title: str
    hours_intro: str
    hours_entry: str  # {days} {open} {close}
    hours_all_day: str
    # contact
    contact_title: str
    contact_intro: str
    contact_label: str
    contact_who: str  # {operator} {accountable}
    contact_kinds: Mapping[str, str]  # "email", "phone", "url" -> label
    published: str  # followed by the notice URL
    footer: str
    # plain-text typography
    txt_field_sep: str
    txt_bullet: str
    txt_heading: str  # {title}
    txt_underline: bool  # a line of "-" under each section heading


def day_runs(days: tuple[str, ...]) -> list[list[str]]:
    """The days in week order, grouped into runs of consecutive days (mon-fri, sat, ...)."""
    idx = sorted({DAYS.index(d) for d in days})
    runs: list[list[int]] = []
    for i in idx:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return [[DAYS[i] for i in run] for run in runs]
