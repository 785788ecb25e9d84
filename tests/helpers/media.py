"""The bundled media read back: frames decoded from the clip, and the JSON label and reference files."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.paths import CLIP


def read_frames(indices: set[int] | None = None, path: Path = CLIP) -> dict[int, object]:
    """Decode the clip once and keep copies of just the frames asked for (None: all)."""
    import cv2

    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    out = {}
    i = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if indices is None or i in indices:
            out[i] = frame
        i += 1
    cap.release()
    return out


def load_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))
