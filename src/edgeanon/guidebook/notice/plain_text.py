"""The notice as plain text for signage and terminals, wrapped to ``TEXT_WIDTH`` display columns."""

from __future__ import annotations

from edgeanon.guidebook.notice.document import Block, Doc, Fields, Inline, Link, Para
from edgeanon.guidebook.notice.texts import Texts
from edgeanon.guidebook.notice.wrap import width, wrap

TEXT_WIDTH = 72  # display columns; a Japanese character takes two


def _inline(parts: Inline) -> str:
    return "".join(p.text if isinstance(p, Link) else p for p in parts)


def _block(b: Block, indent: str, t: Texts) -> list[str]:
    w = TEXT_WIDTH
    if isinstance(b, Para):
        return wrap(_inline(b.parts), w, indent, indent)
    out: list[str] = []
    if isinstance(b, Fields):
        for k, v in b.rows:
            out += wrap(_inline(v), w, f"{indent}{k}{t.txt_field_sep}", indent + "  ")
        return out
    for i, e in enumerate(b.entries, 1):
        bullet = f"{i}. " if b.ordered else t.txt_bullet
        hang = indent + " " * width(bullet)
        out += wrap(_inline(e.head), w, indent + bullet, hang)
        if e.body:
            out += wrap(_inline(e.body), w, hang, hang)
    return out


def render_text(doc: Doc, t: Texts) -> str:
    """``doc`` as text, with the typography of ``t`` (the language ``doc`` is written in)."""
    out = [doc.title, "=" * width(doc.title), ""]
    for p in doc.lead:
        out += [*_block(p, "", t), ""]
    for s in doc.sections:
        out.append(t.txt_heading.format(title=s.title))
        if t.txt_underline:
            out.append("-" * width(s.title))
        for i, b in enumerate(s.blocks):
            if i and isinstance(b, Para):
                out.append("")
            out += _block(b, "  ", t)
        out.append("")
    out.append("-" * TEXT_WIDTH)
    for p in doc.footer:
        out += _block(p, "", t)
    return "\n".join(out) + "\n"
