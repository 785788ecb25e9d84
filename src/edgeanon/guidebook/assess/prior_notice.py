"""事前告知時 (prior notice): the notice is published on the web, and third-party provision names its recipients."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from edgeanon.config.schema import Config
from edgeanon.guidebook.assess.item import Item
from edgeanon.guidebook.assess.network import local_only

_VAGUE_RECIPIENT = re.compile(
    r"^(partners?|our partners|affiliates?|group compan(y|ies)|third[ -]part(y|ies)|others?|vendors?|various|"
    r"service providers?|関係会社|グループ会社|提携先|協力会社|第三者|その他|取引先)$",
    re.IGNORECASE,
)


def check_prior_notice(cfg: Config) -> list[Item]:
    return [_published(cfg), _third_party(cfg)]


def _published(cfg: Config) -> Item:
    url = (cfg.operator.notice_url or "").strip()
    title = "Notice published on the web"
    if not url:
        return Item(
            "notice",
            "notice.url",
            title,
            "warn",
            "operator.notice_url is not set: the guidebook asks for the notice on signage at the site and on the "
            "web. Publish `edgeanon notice` output (or the device's /notice) and set its address.",
        )
    if not re.match(r"https?://", url, re.IGNORECASE):
        return Item("notice", "notice.url", title, "warn", f"{url!r} is not an http(s) address.")
    if local_only(urlsplit(url).hostname or ""):
        return Item(
            "notice",
            "notice.url",
            title,
            "warn",
            f"{url} is not reachable by the public ({urlsplit(url).hostname!r} is local). Publish the notice on a "
            "public site.",
        )
    return Item(
        "notice",
        "notice.url",
        title,
        "pass",
        f"{url}. Also post the same notice (edgeanon notice --format txt/html) at the entrance, before the "
        "filmed area.",
    )


def _third_party(cfg: Config) -> Item:
    tp = cfg.privacy.third_party
    title = "Third-party provision stated, recipients named"
    if not tp.provided:
        return Item(
            "notice",
            "notice.third-party",
            title,
            "pass",
            "privacy.third_party.provided is false; the notice "
            "states that neither images nor counts go to third parties.",
        )
    recipients = [r.strip() for r in tp.recipients]
    vague = [r for r in recipients if len(r) < 2 or _VAGUE_RECIPIENT.match(r)]
    if not recipients or vague:
        return Item(
            "notice",
            "notice.third-party",
            title,
            "warn",
            f"recipients {vague or recipients!r} are not named: give each recipient's name so people know "
            "who receives the counts.",
        )
    return Item(
        "notice",
        "notice.third-party",
        title,
        "pass",
        f"aggregates only, to: {', '.join(recipients)}; the notice names them.",
    )
