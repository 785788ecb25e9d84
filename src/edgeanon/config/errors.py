"""How a config problem is reported: ``ConfigError``, and the field path a cross-field check carries.

A model validator knows which field is wrong but pydantic locates its error at the model; ``at_field`` puts the
field's path in front of the message, and the loader moves it back into the location (see ``parse_config``).
"""

from __future__ import annotations

import re

from edgeanon.errors import EdgeanonError


class ConfigError(EdgeanonError):
    """A config problem, already formatted as ``file:line: path: message``."""


def at_field(path: tuple[str | int, ...], message: str) -> str:
    """A cross-field error message that carries the path of the field it is about (see ``parse_config``)."""
    return f"[@{'.'.join(map(str, path))}] {message}"


AT_FIELD = re.compile(r"^\[@([^\]]*)\] ")
"""Matches the path tag ``at_field`` puts in front of a message."""
