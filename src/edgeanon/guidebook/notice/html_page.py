"""The notice as a standalone HTML page: no scripts, no external assets, every config-derived string escaped."""

from __future__ import annotations

import html

from edgeanon.guidebook.notice.document import Block, Doc, Fields, Inline, Link, Para

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


def _inline(parts: Inline) -> str:
    return "".join(f'<a href="{_esc(p.href)}">{_esc(p.text)}</a>' if isinstance(p, Link) else _esc(p) for p in parts)


def _block(b: Block) -> str:
    if isinstance(b, Para):
        return f"<p>{_inline(b.parts)}</p>"
    if isinstance(b, Fields):
        rows = "".join(f"<dt>{_esc(k)}</dt><dd>{_inline(v)}</dd>" for k, v in b.rows)
        return f"<dl>{rows}</dl>"
    tag = "ol" if b.ordered else "ul"
    items = []
    for e in b.entries:
        if e.body:
            items.append(
                f'<li><span class="head">{_inline(e.head)}</span><span class="body">{_inline(e.body)}</span></li>'
            )
        else:
            items.append(f"<li>{_inline(e.head)}</li>")
    return f"<{tag}>\n" + "\n".join(items) + f"\n</{tag}>"


def render_html(doc: Doc, operator: str, other: tuple[str, str, str] | None = None) -> str:
    """``doc`` as a page titled with ``operator``; ``other`` is (language code, href, the language's own name) of the
    same notice in the other language, linked at the top."""
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
    if other is not None:
        code, href, name = other
        out.append(f'<nav class="lang"><a href="{_esc(href)}" hreflang="{code}" lang="{code}">{name}</a></nav>')
    out += [f"<h1>{_esc(doc.title)}</h1>"]
    out += [f'<p class="lead">{_inline(p.parts)}</p>' for p in doc.lead]
    for s in doc.sections:
        out.append("<section>")
        out.append(f"<h2>{_esc(s.title)}</h2>")
        out += [_block(b) for b in s.blocks]
        out.append("</section>")
    out.append("<footer>")
    out += [_block(p) for p in doc.footer]
    out += ["</footer>", "</main>", "</body>", "</html>", ""]
    return "\n".join(out)
