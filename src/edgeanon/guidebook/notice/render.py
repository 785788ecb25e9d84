"""The entry point: the prior notice (事前告知) for a config, in a language and a format."""

from __future__ import annotations

from typing import Literal

from edgeanon.config.schema import Config
from edgeanon.guidebook.notice.content import facts
from edgeanon.guidebook.notice.html_page import render_html
from edgeanon.guidebook.notice.plain_text import render_text
from edgeanon.guidebook.notice.skeleton import build
from edgeanon.guidebook.notice.texts import Texts
from edgeanon.guidebook.notice.texts_en import EN
from edgeanon.guidebook.notice.texts_ja import JA

NOTICE_CONTENT_TYPE = {"html": "text/html; charset=utf-8", "txt": "text/plain; charset=utf-8"}
LANGUAGES: dict[str, Texts] = {"ja": JA, "en": EN}


def render_notice(
    cfg: Config, lang: Literal["ja", "en"], fmt: Literal["html", "txt"], *, other_lang_href: str | None = None
) -> str:
    """The prior notice (事前告知) for signage and the web, from the config alone.

    ``lang`` is "ja" or "en"; ``fmt`` is "html" (a complete standalone page, every config string escaped, no
    scripts or external assets) or "txt" (plain text wrapped to ``plain_text.TEXT_WIDTH`` display columns). Serve
    it with ``NOTICE_CONTENT_TYPE[fmt]``. ``other_lang_href`` (html only) is a link to the same notice in the other
    language, with ``{lang}`` standing for its code, e.g. ``"?lang={lang}"`` where the device serves both.
    """
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be 'ja' or 'en', not {lang!r}")
    if fmt not in NOTICE_CONTENT_TYPE:
        raise ValueError(f"fmt must be 'html' or 'txt', not {fmt!r}")
    texts = LANGUAGES[lang]
    f = facts(cfg, lang)
    doc = build(f, texts)
    if fmt == "txt":
        return render_text(doc, texts)
    other = "en" if lang == "ja" else "ja"
    link = None if other_lang_href is None else (other, other_lang_href.replace("{lang}", other), LANGUAGES[other].name)
    return render_html(doc, f.operator, link)
