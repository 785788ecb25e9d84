"""The aggregate store's SQLite file: its tables, its schema versions and their upgrade, and opening it safely.

Schema versions (``meta.schema_version``; CHANGELOG.md lists every change of meaning):

- 1: the aggregates table only.
- 2: adds ``attribute_counts``.
- 3: heatmap cells count people (distinct tracks per cell per bucket), not person-frames; attribute families
  are withheld whole when a bin is below k; dwell histograms of fewer than k visits are withheld;
  ``heatmap_suppressed_cells`` and ``<kind>_suppressed_bins`` are no longer written.

A file of an older version is upgraded in place when opened, in the same transaction as the schema check:
heatmap rows of the old meaning are renamed ``cell_<r>_<c>_person_frames`` (so no old value is read as
people), attribute rows of every (bucket, camera, kind) in which the old rule dropped a bin are deleted
(under the new rule the whole family would have been withheld; a gender family goes with its age family and
back), and ``meta.upgraded_to_3`` records when. A file from a newer version is refused.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from edgeanon.errors import EdgeanonError

log = logging.getLogger("edgeanon.store")

SCHEMA_VERSION = "3"
_UPGRADABLE = ("1", "2")  # older versions that the CREATE statements and _MIGRATE_3 below bring up to date

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    """CREATE TABLE IF NOT EXISTS aggregates (
    bucket_start INTEGER NOT NULL,                      -- Unix seconds (UTC), aligned to bucket_seconds
    bucket_seconds INTEGER NOT NULL CHECK (bucket_seconds > 0),
    camera TEXT NOT NULL,                               -- camera name from the config; '' for the site
    scope TEXT NOT NULL CHECK (scope IN ('camera', 'zone', 'line', 'site')),
    name TEXT NOT NULL,                                 -- zone or line name from the config; '' otherwise
    metric TEXT NOT NULL,                               -- from the fixed list in bucket_rows()
    value REAL NOT NULL,
    PRIMARY KEY (bucket_start, camera, scope, name, metric)
) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS attribute_counts (
    bucket_start INTEGER NOT NULL,                      -- Unix seconds (UTC), aligned to bucket_seconds
    bucket_seconds INTEGER NOT NULL CHECK (bucket_seconds > 0),
    camera TEXT NOT NULL,                               -- camera name from the config
    kind TEXT NOT NULL,                                 -- a key of attributes.bins.KINDS
    place TEXT NOT NULL,                                -- zone or line name from the config
    bin TEXT NOT NULL,                                  -- one of attributes.bins.KINDS[kind]
    count INTEGER NOT NULL CHECK (count > 0),           -- only families whose every bin is >= privacy.k
    PRIMARY KEY (bucket_start, camera, kind, place, bin)
) WITHOUT ROWID""",
)
# Version 1/2 -> 3 (see the module docstring). Kinds whose totals are equal (age_band, gender) go together.
_MIGRATE_3 = (
    "UPDATE aggregates SET metric = metric || '_person_frames' WHERE scope = 'camera' AND metric GLOB 'cell_*' "
    "AND metric NOT GLOB '*_person_frames'",
    """DELETE FROM attribute_counts WHERE EXISTS (
    SELECT 1 FROM aggregates a WHERE a.bucket_start = attribute_counts.bucket_start
    AND a.camera = attribute_counts.camera AND a.scope = 'camera' AND a.value > 0
    AND (a.metric = attribute_counts.kind || '_suppressed_bins'
         OR (attribute_counts.kind IN ('age_band', 'gender')
             AND a.metric IN ('age_band_suppressed_bins', 'gender_suppressed_bins'))))""",
)


class StoreError(EdgeanonError):
    """The aggregate store cannot be opened or used; the message names the file and the reason."""


def open_database(path: Path, busy_timeout_s: float, clock: Callable[[], float]) -> sqlite3.Connection:
    """Open (or create) the store at ``path`` with its schema current; a ``StoreError`` names what went wrong."""
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise _fail(path, f"{parent} is not a directory")
    if not parent.exists():
        try:  # only the directory the config names: a typo must not grow a tree elsewhere
            parent.mkdir(mode=0o750)
        except OSError as exc:
            raise _fail(path, f"cannot create directory {parent}: {_os_reason(exc, parent)}") from None
    _private_files(path)
    try:
        conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise _fail(path, _sqlite_reason(exc, parent)) from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise _fail(path, f"the file system does not support write-ahead logging (journal mode {mode})")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA secure_delete = ON")  # purged rows are overwritten, not left in free pages
        with transaction(conn):  # a real write: a read-only location fails here, at start-up
            _ensure_schema(conn, path, clock)
    except StoreError:
        conn.close()
        raise
    except sqlite3.Error as exc:
        conn.close()
        raise _fail(path, _sqlite_reason(exc, parent)) from None
    return conn


def _fail(path: Path, reason: str) -> StoreError:
    return StoreError(f"{path}: cannot open the aggregate store: {reason}")


def _ensure_schema(conn: sqlite3.Connection, path: Path, clock: Callable[[], float]) -> None:
    """Create missing tables, upgrade an older version in place, refuse a newer one; inside the caller's
    transaction, so a file is never left half-upgraded."""
    for statement in _SCHEMA:  # not executescript(): it commits, and this must be one transaction
        conn.execute(statement)
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is not None and row[0] != SCHEMA_VERSION and row[0] not in _UPGRADABLE:
        raise _fail(path, f"schema version {row[0]} is not supported (expected {SCHEMA_VERSION})")
    if row is not None and row[0] != SCHEMA_VERSION:
        for statement in _MIGRATE_3:
            conn.execute(statement)
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('upgraded_to_3', ?)",
            (f"{int(clock())} from version {row[0]}",),
        )
        log.info(
            "aggregate store %s: schema upgraded from version %s to %s (see CHANGELOG.md)",
            path,
            row[0],
            SCHEMA_VERSION,
        )
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?), ('last_opened', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (SCHEMA_VERSION, str(int(clock()))),
    )


def _private_files(path: Path) -> None:
    """Make the store and its ``-wal`` and ``-shm`` files mode 0600 whatever the umask, like the audit log.

    SQLite creates the WAL and shared-memory files with the main file's permissions, so creating the main file
    0600 first covers all three; files left by an older version are tightened here too.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return  # sqlite3.connect reports the real problem (a read-only directory, a missing parent)
    try:
        with suppress(OSError):  # not the owner (an export by another user): leave the mode to the owner
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm"):
        with suppress(OSError):
            os.chmod(f"{path}{suffix}", 0o600)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE takes the write lock up front, so a busy database fails here, not halfway through."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite may already have rolled back (e.g. on a full disk)
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


def _os_reason(exc: OSError, where: Path) -> str:
    return _readonly(where) or (exc.strerror or str(exc)).lower()


def _sqlite_reason(exc: sqlite3.Error, where: Path) -> str:
    return _readonly(where) or str(exc)


def _readonly(where: Path) -> str | None:
    """SQLite says only 'unable to open database file'; name the usual cause on a device."""
    for p in (where, *where.parents):
        if p.exists():
            try:
                return "read-only file system" if os.statvfs(p).f_flag & os.ST_RDONLY else None
            except OSError:
                return None
    return None
