"""Read-only access to image and video files for the offline commands (detect, bench)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from edgeanon.errors import SourceError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"}


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def read_image(path: Path) -> npt.NDArray[np.uint8]:
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise SourceError(f"{path}: not a readable image")
    return img


def iter_video(path: Path, max_frames: int | None = None) -> Iterator[tuple[int, npt.NDArray[np.uint8]]]:
    """Yield (index, frame); the frame buffer is reused by the decoder, so callers must not keep it."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    frame: npt.NDArray[np.uint8] | None = None
    try:
        if not cap.isOpened():
            raise SourceError(f"{path}: cannot open as a video (unsupported or corrupt)")
        index = 0
        while max_frames is None or index < max_frames:
            ok, frame = cap.read(frame)
            if not ok:
                break
            yield index, frame
            index += 1
        if index == 0:
            raise SourceError(f"{path}: no decodable frames (corrupt or truncated video?)")
    finally:
        cap.release()
        if frame is not None:
            frame.fill(0)  # the reused decode buffer held the last frame's pixels


def video_info(path: Path) -> tuple[float, int]:
    """(fps, frame count) as the container states them; either may be 0 when unknown."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        return float(cap.get(cv2.CAP_PROP_FPS) or 0.0), int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        cap.release()
