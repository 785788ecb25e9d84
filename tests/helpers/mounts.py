"""Small file systems for the storage fault tests: tmpfs mounts (root needed) and a way to fill one up."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.helpers.ci import IN_CI


class Mounts:
    """Small tmpfs mounts (root needed): ``mount(dir, "size=256k")``; all unmounted by ``close``."""

    def __init__(self) -> None:
        self.mounted: list[Path] = []

    def mount(self, d: Path, options: str) -> Path:
        import pytest

        d.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(d)], check=False, capture_output=True, text=True
        )
        if r.returncode:
            why = f"cannot mount a tmpfs (needs root / CAP_SYS_ADMIN): {r.stderr.strip()}"
            pytest.fail(why) if IN_CI else pytest.skip(why)
        self.mounted.append(d)
        return d

    def close(self) -> None:
        for d in reversed(self.mounted):
            if subprocess.run(["umount", str(d)], check=False, capture_output=True).returncode:
                subprocess.run(["umount", "-l", str(d)], check=False, capture_output=True)
        self.mounted.clear()


def fill(directory: Path) -> Path:
    """Write zeros into ``directory/filler`` until the file system is full (ENOSPC)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for _ in range(1 << 20):  # bounded: 4 GiB at most
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == 28, exc  # ENOSPC
    finally:
        os.close(fd)
    return filler
