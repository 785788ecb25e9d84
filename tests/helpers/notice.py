"""What every prior notice must say, in each language, and how to read a rendered notice: its words without
markup or line breaks, and its HTML checked for well-formedness."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from edgeanon.config.loader import load_config
from tests.helpers.paths import ROOT

CONFIGS = {name: load_config(ROOT / "configs" / f"{name}.yaml") for name in ("default", "store-example")}
LANGS = ("ja", "en")
FMTS = ("html", "txt")
VOID = {"meta", "br", "hr", "img", "link", "input", "wbr", "source"}
JA_HEADINGS = ("カメラ画像の利用について", "取得する情報", "利用目的", "保存期間", "第三者提供", "お問い合わせ")

# What each language must say, whatever the config.
DISCARD = {
    "ja": (
        "解析後ただちに破棄します",
        "録画・保存することはなく",
        "外部へ送信することもありません",
        "映像の復号処理は最新の1コマだけを、次のコマに置き換わるまで機器のメモリ上に保持します",
    ),
    "en": (
        "discarded immediately after analysis",
        "never recorded and never sent anywhere",
        "The video decoder holds only the latest image, in the device's memory, until the next one replaces it",
    ),
}
NO_IDENTIFICATION = {
    "ja": ("特定の個人を識別すること", "顔認証", "特徴量データ", "人種・信条・障害・健康状態"),
    "en": ("identify anyone", "face recognition", "feature data", "race, beliefs, disability or health"),
}
NO_THIRD_PARTY = {
    "ja": "カメラ画像および集計値を第三者に提供することはありません",
    "en": "Neither camera images nor counts are provided to any third party",
}


def flat(text: str, fmt: str) -> str:
    """The notice's words without markup or wrapping, so a phrase can be found wherever a line broke."""
    if fmt == "html":
        text = html.unescape(re.sub(r"<[^>]+>", "", text))
    return re.sub(r"\s+", "", text)


def contains(text: str, fmt: str, phrase: str) -> bool:
    return re.sub(r"\s+", "", phrase) in flat(text, fmt)


class Checker(HTMLParser):
    """Records the open/close structure; void elements need no end tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.headings: list[str] = []
        self._heading: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("h1", "h2"):
            self._heading = []
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
            return
        self.stack.pop()
        if tag in ("h1", "h2") and self._heading is not None:
            self.headings.append("".join(self._heading))
            self._heading = None

    def handle_data(self, data):
        if self._heading is not None:
            self._heading.append(data)


def check_html(page: str) -> Checker:
    c = Checker()
    c.feed(page)
    c.close()
    assert not c.errors, c.errors
    assert not c.stack, f"unclosed: {c.stack}"
    return c
