"""The frame every page shares: header, inline CSS, the footer's promise and links, and a camera's state label.

Pages are self-contained: inline CSS and SVG, no external asset (the CSP in ``server`` enforces it).
"""

from __future__ import annotations

import html
from datetime import datetime
from zoneinfo import ZoneInfo

from edgeanon.outputs.live import CameraStatus

NO_IMAGE_LINE = "This page never shows camera images."
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")

_CSS = """
body{font:15px/1.4 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#222}
header{background:#263238;color:#fff;padding:10px 20px}header h1{font-size:19px;margin:0}
header p{margin:2px 0 0;font-size:13px;color:#cfd8dc}main{padding:12px 20px;max-width:1100px}
section.cam{background:#fff;border-radius:6px;padding:10px 16px;margin:0 0 14px;box-shadow:0 1px 2px #0002}
h2{font-size:17px;margin:4px 0 8px}.state{font-size:12px;padding:2px 8px;border-radius:9px;margin-left:8px;color:#fff}
.up{background:#2e7d32}.down{background:#c62828}.closed,.finished{background:#757575}
table{border-collapse:collapse;margin:4px 16px 8px 0;display:inline-table;vertical-align:top}
th,td{padding:3px 10px;border-bottom:1px solid #e0e0e0;text-align:left}td.num{text-align:right;font-size:18px}
.muted{color:#666;font-size:13px}footer{padding:8px 20px 20px;font-size:13px;color:#555}
.warn{color:#8a1c1c;background:#fde8e8;padding:6px 8px;border-radius:4px}
.noimg{font-weight:600}svg text{font-family:system-ui,sans-serif}.alert{color:#b71c1c;font-weight:600;font-size:13px}
"""


def esc(s: object) -> str:
    """Every text and attribute value on a page goes through here."""
    return html.escape(str(s), quote=True)


def page(title: str, header: str, body: str, head_extra: str = "", tail: str = "", setup: bool = False) -> str:
    """``setup``: link /setup, which exists only while the installer mode is on."""
    setup_link = '<a href="/setup">setup</a> · ' if setup else ""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">{head_extra}'
        f"<style>{_CSS}</style></head><body><header>{header}</header><main>{body}</main>{tail}"
        f'<footer><p class="noimg">{NO_IMAGE_LINE}</p>'
        f'<p><a href="/">status</a> · {setup_link}<a href="/notice">notice (お知らせ)</a> · '
        '<a href="/metrics">metrics</a></p></footer></body></html>\n'
    )


def camera_state(s: CameraStatus | None, tz: ZoneInfo | None = None) -> tuple[str, str]:
    """(css class, label) of a camera."""
    if s is None:
        return "down", "unknown"
    if s.up:
        return "up", "up"
    if s.finished:
        return "finished", "finished"
    if s.closed:
        return "closed", "closed (outside opening hours)"
    if s.down and s.down_since is not None:
        return "down", f"DOWN since {datetime.fromtimestamp(s.down_since, tz):%Y-%m-%d %H:%M:%S%z}"
    return "down", "down"
