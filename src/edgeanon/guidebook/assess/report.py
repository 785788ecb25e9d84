"""The checklist as a terminal report or a Markdown document, and the exit code it gives."""

from __future__ import annotations

import textwrap
from typing import Literal

from edgeanon.guidebook.assess.item import PHASES, Item


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
