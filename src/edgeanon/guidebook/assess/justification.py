"""Is a purpose's justification specific enough for a person to predict the use? A heuristic, not a judge."""

from __future__ import annotations

import re
import unicodedata

JUSTIFICATION_MIN_WIDTH = 25  # display columns: an ASCII character is 1, a Japanese character 2 (≈ 13 characters)
JUSTIFICATION_MIN_WORDS = 3  # distinct specific English words (not stop words, not generic business words)
JUSTIFICATION_MIN_CJK = 4  # kanji/katakana/latin characters left once generic terms and kana are removed


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
