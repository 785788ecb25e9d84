"""Names, limits and value checks shared by the config and the code that reads it, with no model attached.

Outputs and web code may import this module (never the schema), so a label pattern, a day name or the push URL
check has one home.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

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


def check_url(url: str) -> str:
    """An http(s) gateway URL without credentials in it (they would end up in logs and process listings)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"push url must be http:// or https:// followed by a host, not {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("put push credentials in username/password, not in the URL")
    if parts.query or parts.fragment:
        raise ValueError("push url must not have a query or fragment")
    return url.rstrip("/")
