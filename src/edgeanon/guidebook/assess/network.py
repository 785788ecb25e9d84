"""Who can reach a host: the public, or only this device and its local network."""

from __future__ import annotations

import ipaddress

from edgeanon.config.names import is_loopback


def local_only(host: str) -> bool:
    """A host the public cannot reach: loopback, private, link-local, unspecified, .local names."""
    h = host.strip().strip("[]").lower()
    if is_loopback(h) or h.endswith((".local", ".internal", ".lan")) or ("." not in h and ":" not in h):
        return True
    try:
        ip = ipaddress.ip_address(h)
    except ValueError:
        return False
    return ip.is_private or ip.is_link_local or ip.is_unspecified or ip.is_reserved
