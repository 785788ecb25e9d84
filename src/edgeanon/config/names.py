"""Names and limits shared by the config and the code that reads it, with no model attached.

Outputs and web code may import this module (never the schema), so a label pattern or a day name has one home.
"""

from __future__ import annotations

import ipaddress

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"  # camera, zone, line and site names: they become label values
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PBKDF2_MIN_ITERATIONS = 100_000  # below this a stolen config's hashes fall to a GPU in hours


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost; an empty host, 0.0.0.0 or :: bind every interface."""
    h = host.strip().strip("[]").lower()
    if h == "localhost" or h.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False
