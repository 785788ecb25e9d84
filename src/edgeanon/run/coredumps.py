"""Keep the process's memory out of core files and out of other users' reach.

OpenCV's FFmpeg decoder holds its own converted copy of the latest frame in native memory until the next frame
replaces it, and the frame pool holds the frame being inferred. A core dump, or a same-user process reading
``/proc/PID/mem``, would copy those pixels out. ``edgeanon run`` therefore calls :func:`forbid_core_dumps` at
start-up, in the process itself, so a bare run and a Docker container are covered as well as the systemd unit
(which also sets ``LimitCORE=0``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import resource
import sys

log = logging.getLogger("edgeanon")

PR_SET_DUMPABLE = 4  # <linux/prctl.h>


def forbid_core_dumps() -> None:
    """Set ``RLIMIT_CORE`` to 0 (soft and hard) and, on Linux, ``PR_SET_DUMPABLE`` to 0.

    Not dumpable means: no core file whatever the limit or ``core_pattern`` pipe says, and ``/proc/PID`` entries
    owned by root, so another process of the same user can neither ptrace this one nor read its memory. A failure
    is logged, never fatal: counting is still correct, only this protection is missing.
    """
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (OSError, ValueError) as exc:
        log.warning("could not set the core-file limit to 0: %s", exc)
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")
    except OSError as exc:
        log.warning("could not mark the process not dumpable: %s", exc)
