"""``/setup`` for installers, on only in installer mode: each camera's zones, lines and exclusion areas over the
latest frame's person outlines, on a blank canvas of the frame's size, so geometry can be placed by watching
where people walk. No camera image is ever shown: there is none (frames are zeroed after inference).
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Iterable
from zoneinfo import ZoneInfo

from edgeanon.outputs.live import CameraStatus
from edgeanon.web.camera_svg import camera_svg
from edgeanon.web.live_boxes import Boxes
from edgeanon.web.page import camera_state, esc, page
from edgeanon.web.site import SiteView

SETUP_REFRESH_S = 2

# Refreshes the drawings in place (so the cursor read-out stays), and shows the cursor in frame pixels and
# normalised coordinates: what an installer types into the config.
SETUP_SCRIPT = (
    "(()=>{const P=document.getElementById('pos');"
    "function hook(){document.querySelectorAll('svg[data-camera]').forEach(s=>{s.onmousemove=e=>{"
    "const p=new DOMPoint(e.clientX,e.clientY).matrixTransform(s.getScreenCTM().inverse());"
    "const w=+s.dataset.w,h=+s.dataset.h;P.textContent=s.dataset.camera+': x '+Math.round(p.x)+', y '+"
    "Math.round(p.y)+' px = normalised ['+(p.x/w).toFixed(3)+', '+(p.y/h).toFixed(3)+']';};});}"
    "async function tick(){try{const r=await fetch(location.pathname,{cache:'no-store',credentials:'same-origin'});"
    "if(r.ok){const d=new DOMParser().parseFromString(await r.text(),'text/html');const n=d.getElementById('cams');"
    "if(n){document.getElementById('cams').replaceWith(n);hook();B.dataset.refreshed=+(B.dataset.refreshed||0)+1;}}}"
    f"catch(e){{}}setTimeout(tick,{SETUP_REFRESH_S * 1000});}}const B=document.body;B.dataset.live='on';hook();"
    f"setTimeout(tick,{SETUP_REFRESH_S * 1000});}})();"
)
SETUP_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'; "
    f"script-src 'sha256-{base64.b64encode(hashlib.sha256(SETUP_SCRIPT.encode()).digest()).decode()}'"
)


class InstallerMode:
    """Whether ``/setup`` is on: only from a config's ``http.setup_until`` until that time passes.

    ``active()`` is asked on every request, so the page turns itself off at the deadline even if nobody notices;
    ``expired_now()`` is true exactly once, when the supervisor first sees the deadline pass (to audit it).
    """

    def __init__(self, until: float | None, clock: Callable[[], float] = time.time) -> None:
        self.until = until
        self._clock = clock
        self._announced = until is None or clock() >= until

    def active(self) -> bool:
        return self.until is not None and self._clock() < self.until

    def expired_now(self) -> bool:
        if self._announced or self.active():
            return False
        self._announced = True
        return True


class SetupPage:
    """``/setup``: geometry and live outlines per camera, refreshed every couple of seconds."""

    def __init__(self, site: SiteView, statuses: Callable[[], Iterable[CameraStatus]], boxes: Boxes) -> None:
        self.site = site
        self._statuses = statuses
        self._boxes = boxes

    def render(self) -> str:
        statuses = {s.camera: s for s in self._statuses()}
        body = [
            '<p class="muted">Person outlines are the latest frame\'s tracked people, drawn on a blank canvas of the '
            "frame's size. Move the cursor over a canvas to read coordinates for the config. "
            "Outlines are never stored, logged or exported.</p>",
            '<p id="pos" class="muted">cursor: –</p><div id="cams">',
        ]
        for cam in self.site.cameras:
            s = statuses.get(cam.id)
            cls, label = camera_state(s, ZoneInfo(self.site.timezone))
            size = s.frame_size if s is not None else None
            head = f'<h2>{esc(cam.id)}<span class="state {cls}">{esc(label)}</span>'
            if size is None:
                body.append(
                    f'<section class="cam" data-camera="{esc(cam.id)}">{head}</h2><p class="muted">Waiting for the '
                    "first frame: the frame size is not known yet.</p></section>"
                )
                continue
            boxes = self._boxes(cam.id) if s is not None and s.up else None
            svg, n = camera_svg(cam, size, boxes, s.region if s is not None else None)
            body.append(
                f'<section class="cam" data-camera="{esc(cam.id)}">{head}'
                f'<span class="muted"> {size[0]}×{size[1]} px · <span data-people="{esc(cam.id)}">{n}</span> '
                f"people outlined</span></h2>{svg}</section>"
            )
        body.append("</div>")
        header = (
            "<h1>Setup: zones, lines and live outlines</h1><p>for installers · no camera image is ever shown, "
            f"only outlines · refreshes every {SETUP_REFRESH_S} s · installer mode until "
            f"{esc(self.site.setup_until)}, then this page is off</p>"
        )
        head = f'<noscript><meta http-equiv="refresh" content="{SETUP_REFRESH_S}"></noscript>'
        return page("edgeanon setup", header, "".join(body), head, f"<script>{SETUP_SCRIPT}</script>", setup=True)
