"""Read-only access to image and video files for the offline commands (detect, bench)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from edgeanon.errors import SourceError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"}


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def read_image(path: Path) -> npt.NDArray[np.uint8]:
    """Decode one image; a truncated JPEG is an error, not a half-grey frame with nobody in it.

    libjpeg decodes a cut JPEG with a warning on stderr and fills the missing rows with grey, so counting would
    quietly report fewer people. A complete JPEG ends with the EOI marker (FF D9); some writers pad after it."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if data[:3] == b"\xff\xd8\xff" and not data.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9"):
        raise SourceError(f"{path}: truncated JPEG (no end-of-image marker): the file was cut short")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
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


@contextmanager
def _opened(path: Path) -> Iterator[cv2.VideoCapture]:
    """The container opened for its metadata, released on the way out; a clear error when it will not open."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            raise SourceError(f"{path}: cannot open as a video (unsupported or corrupt)")
        yield cap
    finally:
        cap.release()


def video_info(path: Path) -> tuple[float, int]:
    """(fps, frame count) as the container states them; either may be 0 when unknown."""
    with _opened(path) as cap:
        return float(cap.get(cv2.CAP_PROP_FPS) or 0.0), int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)


def frame_size(path: Path) -> tuple[int, int] | None:
    """(width, height) as the container states it, without decoding a frame; None when it does not say."""
    with _opened(path) as cap:
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
    return (w, h) if w > 0 and h > 0 else None


def read_frame(path: Path, index: int) -> npt.NDArray[np.uint8] | None:
    """Decode the one frame at ``index`` (None when there is none); the caller zeroes it once it is done."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = cap.read()
    finally:
        cap.release()
    return frame if ok else None


def opencv_version() -> str:
    """The OpenCV build that decodes the video here, for reports that name the machine (``edgeanon bench``)."""
    return cv2.__version__
