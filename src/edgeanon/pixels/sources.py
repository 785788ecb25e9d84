"""Opening a camera source: the OpenCV backend with its open and read timeouts, and the back-off between tries."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2

from edgeanon.config.cameras import Camera
from edgeanon.config.sources import DeviceSource, FileSource, UrlSource

Source = DeviceSource | FileSource | UrlSource
FIRST_BACKOFF_S = 0.25


def open_source(source: Source, cam: Camera) -> cv2.VideoCapture:
    """Open ``source``; network and file sources get the camera's open and read timeouts, so no call hangs."""
    if isinstance(source, DeviceSource):
        return cv2.VideoCapture(source.index, cv2.CAP_V4L2)
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(cam.open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(cam.read_timeout_s * 1000),
    ]
    target = source.open_url() if isinstance(source, UrlSource) else str(resolve_file(source))
    return cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)


def resolve_file(source: FileSource) -> Path:
    from edgeanon.resources import sample_clip

    return Path(source.path).expanduser() if source.path else sample_clip()


def describe_source(source: Source) -> str:
    """Loggable description: never includes credentials."""
    if isinstance(source, DeviceSource):
        return f"device {source.index}"
    if isinstance(source, FileSource):
        return f"file {resolve_file(source)}"
    return f"url {source.url}"


class Backoff:
    """Waits between tries to (re)open a source: doubling up to ``max_s``, afresh after a session that worked."""

    def __init__(self, max_s: float) -> None:
        self._first = min(FIRST_BACKOFF_S, max_s)
        self._max = max_s
        self.delay = self._first

    def wait(self, stop: threading.Event) -> bool:
        """Wait the current delay, then double it; True if ``stop`` was set meanwhile (the delay then stays)."""
        if stop.wait(self.delay):
            return True
        self.delay = min(self.delay * 2, self._max)
        return False

    def reset(self) -> None:
        self.delay = self._first
