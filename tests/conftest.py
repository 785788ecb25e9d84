"""Shared fixtures: real models and real media from tests/data, loaded once per session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"
CLIP = DATA / "vtest-0-249.avi"
STILLS = DATA / "stills"
LABELS = DATA / "labels"


@pytest.fixture(scope="session")
def fp32_detector():
    from edgeanon.detector import SessionSettings, load_detector

    return load_detector("nanodet-416-coco", SessionSettings(threads=2))


@pytest.fixture(scope="session")
def int8_detector():
    from edgeanon.detector import SessionSettings, load_detector

    return load_detector("nanodet-416-coco-int8", SessionSettings(threads=2))


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
