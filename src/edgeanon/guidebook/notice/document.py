"""A tiny document model: what the skeleton builds and the HTML and plain-text renderers read.

Config-derived strings stay plain strings here; escaping is the HTML renderer's job, and a ``Link`` is made only
by the skeleton, for a validated contact or an http(s) notice URL.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Link:
    text: str
    href: str


Inline = tuple[str | Link, ...]


@dataclass(frozen=True, slots=True)
class Para:
    parts: Inline


@dataclass(frozen=True, slots=True)
class Entry:
    head: Inline
    body: Inline = ()


@dataclass(frozen=True, slots=True)
class List:
    entries: tuple[Entry, ...]
    ordered: bool = False


@dataclass(frozen=True, slots=True)
class Fields:
    rows: tuple[tuple[str, Inline], ...]


Block = Para | List | Fields


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class Doc:
    lang: str
    title: str
    lead: tuple[Para, ...]
    sections: tuple[Section, ...]
    footer: tuple[Para, ...]


def para(*parts: str | Link) -> Para:
    return Para(tuple(parts))


def bullets(texts: tuple[str, ...] | list[str]) -> List:
    """An unordered list of plain one-line entries."""
    return List(tuple(Entry((t,)) for t in texts))
