"""`edgeanon hash-password`: a staff password read where no one else sees it (prompted twice on a terminal, else
the first line of stdin) and printed only as its PBKDF2 hash, for http.auth.users[].password_hash. The password
never goes into the config, the shell history or the log."""

from __future__ import annotations

import getpass
import sys

from edgeanon.errors import EdgeanonError
from edgeanon.web.server import PBKDF2_ITERATIONS, hash_password

MIN_PASSWORD_CHARS = 8  # shorter ones are hashed anyway, with a warning: the operator decides


def print_password_hash(iterations: int | None = None) -> int:
    """Read the password, print its hash with ``iterations`` (default: the current PBKDF2 standard); the exit code."""
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise EdgeanonError("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise EdgeanonError("empty password")
    if len(password) < MIN_PASSWORD_CHARS:
        print(
            f"edgeanon: warning: the password has only {len(password)} characters; use at least "
            f"{MIN_PASSWORD_CHARS} (a long passphrase is better: anyone on the network can try passwords)",
            file=sys.stderr,
        )
    try:
        print(hash_password(password, iterations or PBKDF2_ITERATIONS))
    except ValueError as exc:
        raise EdgeanonError(str(exc)) from None
    return 0
