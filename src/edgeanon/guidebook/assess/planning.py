"""企画時 (planning): an accountable operator, one inquiry contact, specific purposes that are all used."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from edgeanon.config.schema import Config
from edgeanon.guidebook.assess.item import Item, Status
from edgeanon.guidebook.assess.justification import justification_problem
from edgeanon.guidebook.assess.network import local_only
from edgeanon.guidebook.notice.content import kept_aggregates, movement_aggregates

_PLACEHOLDER = re.compile(
    r"\b(todo|tbd|fixme|xxx+|change[ -]?me|placeholder|your (company|name|store|shop)|demo|n/?a)\b"
    r"|no real operator|whoever|未定|要変更",
    re.IGNORECASE,
)

# What a declared purpose needs configured before it produces anything (for the "declared but unused" warning).
_NEEDS = {
    "flow": "line or zone on some camera",
    "dwell": "zone on some camera",
    "heatmap": "heatmap on some camera",
    "queue": "zone with queue: true",
    "occupancy": "camera",
    # age band and gender are counted only as a person crosses a line or leaves a zone
    "attributes": "zone or line on some camera",
}


def check_planning(cfg: Config) -> list[Item]:
    return [_operator(cfg), _contact(cfg.operator.contact), *_justifications(cfg), *_purposes_used(cfg)]


def _operator(cfg: Config) -> Item:
    op = cfg.operator
    problems = []
    for field, value in (("name", op.name), ("accountable", op.accountable)):
        if not value.strip():
            problems.append(f"operator.{field} is empty")
        elif _PLACEHOLDER.search(value):
            problems.append(f"operator.{field} {value!r} looks like a placeholder")
    if op.accountable.strip().casefold() == op.name.strip().casefold():
        problems.append("operator.accountable repeats the company name: name the accountable person or role")
    return Item(
        "planning",
        "planning.operator",
        "Accountable operator named",
        "warn" if problems else "pass",
        "; ".join(problems)
        if problems
        else f"{op.name.strip()}; accountable: {op.accountable.strip()}. The guidebook asks for one operator "
        "who answers for the cameras.",
    )


def _contact(contact: str) -> Item:
    status, reason = _contact_status(contact.strip())
    return Item("planning", "planning.contact", "One well-formed inquiry contact", status, reason)


def _contact_status(c: str) -> tuple[Status, str]:
    if not c:
        return "fail", "operator.contact is empty."
    if re.search(r"[,;、]|\s/\s|\s(or|and)\s|\s・\s", c) or c.count("@") > 1 or c.count("://") > 1:
        return "warn", (
            f"{c!r} looks like several contacts: the guidebook asks for one point of contact; name one and route "
            "inquiries internally."
        )
    if c.lower().startswith(("http://", "https://")):
        host = urlsplit(c).hostname or ""
        problem = (
            f"the public cannot reach {host!r}"
            if not host or local_only(host)
            else "plain http: an inquiry form should use https, so what people send stays private"
            if c.lower().startswith("http://")
            else None
        )
        kind = "contact page"
    elif "@" in c:
        ok = re.fullmatch(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)*\.[A-Za-z]{2,}", c)
        problem, kind = (None if ok else "not a well-formed email address"), "email"
    else:
        ok = re.fullmatch(r"\+?[0-9][0-9 ()-]*", c) and 10 <= len(re.sub(r"\D", "", c)) <= 15
        problem = None if ok else "not a well-formed phone number (10-15 digits, e.g. 03-1234-5678 or +81 3 1234 5678)"
        kind = "phone"
    return ("warn", f"{c!r}: {problem}.") if problem else ("pass", f"{kind} {c}; one point of contact.")


def _justifications(cfg: Config) -> list[Item]:
    items = []
    for p in cfg.purposes:
        problem = next((q for q in map(justification_problem, p.justifications) if q), None)
        items.append(
            Item(
                "planning",
                f"planning.justification.{p.id}",
                f"Purpose '{p.id}' justified specifically",
                "warn" if problem else "pass",
                problem
                or "specific enough for a person to predict the use (length, no open-ended or generic-only wording).",
            )
        )
    return items


def _purposes_used(cfg: Config) -> list[Item]:
    """Each declared purpose produces some aggregate (the same lists the notice announces)."""
    kept = [*kept_aggregates(cfg), *movement_aggregates(cfg)]
    items = []
    for pid in (p.id for p in cfg.purposes):
        outputs = [k for k in kept if k.purpose == pid]
        if outputs:
            desc = "; ".join(f"{k.output} over {', '.join(k.names)}" for k in outputs)
            items.append(
                Item("planning", f"planning.purpose-used.{pid}", f"Purpose '{pid}' used", "pass", f"produces {desc}.")
            )
        else:
            need = _NEEDS.get(pid, "zone or line on some camera")
            items.append(
                Item(
                    "planning",
                    f"planning.purpose-used.{pid}",
                    f"Purpose '{pid}' used",
                    "warn",
                    f"declared but unused: no {need} produces it. Remove the purpose (the notice would announce a use "
                    "that does not happen) or configure what it needs.",
                )
            )
    return items
