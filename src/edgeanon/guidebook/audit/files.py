"""Durable file I/O for the log: whole writes, directory fsync, and finding lines from the end of a large file."""

from __future__ import annotations

import os
from pathlib import Path

_BLOCK = 65536


def fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def rfind_newline(fd: int, before: int) -> int:
    """Offset of the last ``\\n`` strictly before ``before``, or -1."""
    end = before
    while end > 0:
        start = max(0, end - _BLOCK)
        i = os.pread(fd, end - start, start).rfind(b"\n")
        if i >= 0:
            return start + i
        end = start
    return -1


def count_newlines(fd: int, upto: int) -> int:
    n, off = 0, 0
    while off < upto:
        chunk = os.pread(fd, min(_BLOCK, upto - off), off)
        if not chunk:
            break
        n += chunk.count(b"\n")
        off += len(chunk)
    return n
