"""Line wrapping by display width, for the plain-text notice in Japanese and English alike.

A Japanese character takes two columns; lines break between wide characters or at spaces, never inside a Latin
word, and a small 禁則 set keeps 、。）」 from starting a line and （「 from ending one.
"""

from __future__ import annotations

import re
import unicodedata

# Characters a line must not start with / end with (a small 禁則 set), so 、。）」 never begin a line.
_NO_START = set(
    "、。，．,.)）]］｝」』】〕〉》〟’”!！?？:：;；ー々ゝゞ・〜…ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ"
)
_NO_END = set("(（[［｛「『【〔〈《〝‘“")


def width(s: str) -> int:
    """Display columns: a wide or full-width character takes two."""
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
        wide = width(t) == 2
        if atoms and not space and (t in _NO_START or atoms[-1][0][-1] in _NO_END or (prev_narrow and not wide)):
            atoms[-1] = (atoms[-1][0] + t, atoms[-1][1])
        else:
            atoms.append((t, space))
        space, prev_narrow = "", not wide
    return atoms


def wrap(text: str, columns: int, first: str, rest: str) -> list[str]:
    """Greedy fill to ``columns`` display columns; the break drops the space at it. A too-long atom overflows."""
    lines: list[str] = []
    line, used, empty = first, width(first), True
    for atom, space in _atoms(text):
        sep = "" if empty else space
        if not empty and used + width(sep + atom) > columns:
            lines.append(line)
            line, used, empty, sep = rest, width(rest), True, ""
        line += sep + atom
        used += width(sep + atom)
        empty = False
    lines.append(line)
    return [ln.rstrip() for ln in lines]
