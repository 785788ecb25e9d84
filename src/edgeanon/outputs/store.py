"""The aggregate store: closed time buckets as rows in a local SQLite file, purged after the retention period.

Only aggregates are stored: one number per (bucket, camera, scope, name, metric), every label from the config or
from a fixed list in the code. No track ids, no boxes, nothing per person. Attribute counts (heading, speed band,
group size, age band, gender) are in their own table, one count per (bucket, camera, kind, place, bin), holding
only bins that survived k-suppression.

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
import math
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Literal

from edgeanon.counting.results import DWELL_BUCKETS_S, FATES, Bucket, LiveCounts
from edgeanon.errors import EdgeanonError

log = logging.getLogger("edgeanon.store")

SCHEMA_VERSION = "3"
_UPGRADABLE = ("1", "2")  # older versions that the CREATE statements and _MIGRATE_3 below bring up to date
PURGE_INTERVAL_S = 3600.0
MAX_BACKLOG = 1440  # buckets kept in memory while a sink's destination fails: a day of 60-s buckets
COLUMNS = ("bucket_start", "bucket_seconds", "camera", "scope", "name", "metric", "value")

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
ATTRIBUTE_COLUMNS = ("bucket_start", "bucket_seconds", "camera", "kind", "place", "bin", "count")
_UPSERT_ATTRIBUTE = (
    "INSERT INTO attribute_counts (bucket_start, bucket_seconds, camera, kind, place, bin, count) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (bucket_start, camera, kind, place, bin) DO UPDATE SET "
    "bucket_seconds = max(bucket_seconds, excluded.bucket_seconds), count = count + excluded.count"
)

MergeRule = Literal["add", "max", "replace"]
_MERGE_SQL: dict[MergeRule, str] = {
    "add": "value + excluded.value",
    "max": "max(value, excluded.value)",
    "replace": "excluded.value",
}
# A key written again means the same bucket continues (the shutdown flush, then the rest after a restart). A
# changed bucket length makes the merged row cover both spans, so it keeps the longer one.
_UPSERT: dict[MergeRule, str] = {
    rule: "INSERT INTO aggregates (bucket_start, bucket_seconds, camera, scope, name, metric, value) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (bucket_start, camera, scope, name, metric) DO UPDATE SET "
    f"bucket_seconds = max(bucket_seconds, excluded.bucket_seconds), value = {expr}"
    for rule, expr in _MERGE_SQL.items()
}

Row = tuple[str, str, str, str, float]  # camera, scope, name, metric, value


class StoreError(EdgeanonError):
    """The aggregate store cannot be opened or used; the message names the file and the reason."""


def merge_rule(metric: str) -> MergeRule:
    """How a value merges into an existing row: counts and sums add, maxima max, point-in-time values replace."""
    if metric in ("queue_wait_s", "occupancy"):  # a wait estimate, the site occupancy at the bucket's end
        return "replace"
    if metric == "occupancy_max":
        return "max"
    return "add"


def _bound_label(bound: float) -> str:
    return "inf" if math.isinf(bound) else (str(int(bound)) if float(bound).is_integer() else str(bound))


DWELL_METRICS = tuple(f"dwell_count_le_{_bound_label(b)}" for b in DWELL_BUCKETS_S)


def attribute_rows(bucket: Bucket) -> list[tuple[str, str, str, str, int]]:
    """(camera, kind, place, bin, count) of the bucket's attribute bins: after suppression, so all >= k."""
    return [
        (cam, kind, place, bin_, int(n))
        for cam, cb in bucket.cameras.items()
        for (kind, place, bin_), n in sorted(cb.attributes.items())
        if n > 0
    ]


def bucket_rows(bucket: Bucket) -> list[Row]:
    """Flatten a bucket into store rows. Zeros are written (a measured zero differs from a gap); a missing
    queue wait estimate and an absent heatmap are not."""
    out: list[Row] = []
    for cam, cb in bucket.cameras.items():
        outputs = cb.outputs  # nothing, not even a zero, for an output whose purpose is not declared
        out += [(cam, "camera", "", f"frames_{fate}", cb.frames.get(fate, 0)) for fate in FATES]
        out.append((cam, "camera", "", "down_seconds", round(cb.down_s, 2)))  # failed, not looking: not "nobody came"
        if "camera_occupancy" in outputs:
            out += [
                (cam, "camera", "", "occupancy_sum", cb.occupancy_sum),
                (cam, "camera", "", "occupancy_frames", cb.occupancy_frames),
                (cam, "camera", "", "occupancy_max", cb.occupancy_max),
            ]
        if cb.heatmap is not None:
            rows, cols = cb.heatmap.shape
            # people per cell (0 also for a cell withheld below k: how many were withheld is not published)
            out += [(cam, "camera", "", f"cell_{r}_{c}", cb.heatmap[r, c]) for r in range(rows) for c in range(cols)]
        for zone, zb in cb.zones.items():
            if "zone_occupancy" in outputs:
                out += [
                    (cam, "zone", zone, "occupancy_sum", zb.occupancy_sum),
                    (cam, "zone", zone, "occupancy_frames", zb.occupancy_frames),
                    (cam, "zone", zone, "occupancy_max", zb.occupancy_max),
                ]
            if "zone_dwell" in outputs:
                out += [(cam, "zone", zone, m, n) for m, n in zip(DWELL_METRICS, zb.dwell_counts, strict=True)]
                out.append((cam, "zone", zone, "dwell_sum_s", zb.dwell_sum))
            if zb.queue_wait_s is not None:
                out.append((cam, "zone", zone, "queue_wait_s", zb.queue_wait_s))
        for line, lb in cb.lines.items():
            out += [(cam, "line", line, "in", lb.in_), (cam, "line", line, "out", lb.out)]
        # the attribute bins themselves go to attribute_counts (attribute_rows); how many were withheld is not
        # published (aggregate.suppress says why)
        out += [(cam, "camera", "", f"faces_{outcome}", n) for outcome, n in cb.faces.items()]
    if "site_occupancy" in bucket.outputs:
        out += [
            ("", "site", "", "in", bucket.site_in),
            ("", "site", "", "out", bucket.site_out),
            ("", "site", "", "occupancy", bucket.site_occupancy),
        ]
    return [(c, s, n, m, float(v)) for c, s, n, m, v in out]  # float(): numpy scalars do not bind


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


class AggregateStore:
    """SQLite in WAL mode with ``synchronous=FULL``: every commit is fsynced before ``write_bucket`` returns.

    Power-loss guarantee: a bucket whose write returned survives power loss (if the device honours fsync);
    one cut off mid-write is lost whole, never half-written (each bucket is one transaction). WAL mode adds
    ``<store>-wal`` and ``<store>-shm`` beside the file. Thread-safe: one connection behind a lock.
    Retention is enforced here: rows older than ``retention_days`` are deleted at start-up and hourly
    (``maybe_purge``), and ``on_purge(count, cutoff)`` is called after each purge so the audit log records it.
    """

    def __init__(
        self,
        path: Path,
        *,
        retention_days: int,
        clock: Callable[[], float] = time.time,
        on_purge: Callable[[int, float], None] | None = None,
        busy_timeout_s: float = 5.0,
        purge_on_open: bool = True,
    ) -> None:
        if retention_days < 1:
            raise ValueError(f"retention_days must be at least 1, got {retention_days}")
        self.path = Path(path)
        self.retention_days = retention_days
        self.last_purge: float | None = None
        self._clock = clock
        self._on_purge = on_purge
        self._lock = threading.Lock()
        self._conn = self._open(busy_timeout_s)
        try:
            if purge_on_open:
                self.purge()
        except sqlite3.Error as exc:
            self._conn.close()
            raise StoreError(f"{self.path}: cannot purge the aggregate store: {exc}") from exc
        except BaseException:
            self._conn.close()
            raise

    def _fail(self, reason: str) -> StoreError:
        return StoreError(f"{self.path}: cannot open the aggregate store: {reason}")

    def _open(self, busy_timeout_s: float) -> sqlite3.Connection:
        parent = self.path.parent
        if parent.exists() and not parent.is_dir():
            raise self._fail(f"{parent} is not a directory")
        if not parent.exists():
            try:  # only the directory the config names: a typo must not grow a tree elsewhere
                parent.mkdir(mode=0o750)
            except OSError as exc:
                raise self._fail(f"cannot create directory {parent}: {_os_reason(exc, parent)}") from None
        _private_files(self.path)
        try:
            conn = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise self._fail(_sqlite_reason(exc, parent)) from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise self._fail(f"the file system does not support write-ahead logging (journal mode {mode})")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA secure_delete = ON")  # purged rows are overwritten, not left in free pages
            with _transaction(conn):  # a real write: a read-only location fails here, at start-up
                for statement in _SCHEMA:  # not executescript(): it commits, and this must be one transaction
                    conn.execute(statement)
                row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                if row is not None and row[0] != SCHEMA_VERSION and row[0] not in _UPGRADABLE:
                    raise self._fail(f"schema version {row[0]} is not supported (expected {SCHEMA_VERSION})")
                if row is not None and row[0] != SCHEMA_VERSION:
                    for statement in _MIGRATE_3:
                        conn.execute(statement)
                    conn.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES ('upgraded_to_3', ?)",
                        (f"{int(self._clock())} from version {row[0]}",),
                    )
                    log.info(
                        "aggregate store %s: schema upgraded from version %s to %s (see CHANGELOG.md)",
                        self.path,
                        row[0],
                        SCHEMA_VERSION,
                    )
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?), ('last_opened', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (SCHEMA_VERSION, str(int(self._clock()))),
                )
        except StoreError:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            raise self._fail(_sqlite_reason(exc, parent)) from None
        return conn

    def write_bucket(self, bucket: Bucket) -> int:
        """Write one bucket in one transaction and return the number of rows; merge into rows already there.

        Merging makes a bucket that arrives in parts (the partial flush at shutdown, then the rest after a
        restart) add up to the whole. It is not idempotent: writing the same Bucket object twice counts it
        twice. The Aggregator never publishes a bucket twice (its flush starts a fresh one).
        """
        rows = bucket_rows(bucket)
        attrs = [(bucket.start, bucket.length, *a) for a in attribute_rows(bucket)]  # counts add, like "add"
        by_rule: dict[MergeRule, list[tuple[Any, ...]]] = {"add": [], "max": [], "replace": []}
        for cam, scope, name, metric, value in rows:
            by_rule[merge_rule(metric)].append((bucket.start, bucket.length, cam, scope, name, metric, value))
        with self._lock, _transaction(self._conn) as conn:
            for rule, params in by_rule.items():
                if params:
                    conn.executemany(_UPSERT[rule], params)
            if attrs:
                conn.executemany(_UPSERT_ATTRIBUTE, attrs)
        return len(rows) + len(attrs)

    def purge(self) -> int:
        """Delete rows whose bucket ended before now minus the retention; return how many."""
        now = self._clock()
        cutoff = now - self.retention_days * 86400
        with self._lock, _transaction(self._conn) as conn:
            count = sum(
                conn.execute(
                    f"DELETE FROM {table} WHERE bucket_start < ? AND bucket_start + bucket_seconds < ?",
                    (cutoff, cutoff),  # the first term lets SQLite use the primary key
                ).rowcount
                for table in ("aggregates", "attribute_counts")
            )
        self.last_purge = now
        if self._on_purge is not None:
            self._on_purge(count, cutoff)  # after the commit: deleting matters more than recording it
        return count

    def maybe_purge(self) -> int | None:
        """Purge if an hour has passed since the last purge (or the clock went back); None if not due."""
        now = self._clock()
        if self.last_purge is not None and 0 <= now - self.last_purge < PURGE_INTERVAL_S:
            return None
        return self.purge()

    def rows(
        self,
        since: float | None = None,
        until: float | None = None,
        camera: str | None = None,
        *,
        attributes: bool = False,
    ) -> list[dict]:
        """Rows of buckets starting in [since, until), optionally of one camera (site rows have camera '').

        With ``attributes`` the attribute counts follow, in the same columns: scope ``attribute``, name the
        zone or line, metric ``<kind>=<bin>`` (e.g. ``heading=ne``, ``age_band=<20``), value the count."""
        where, params = [], []
        for clause, value in (("bucket_start >= ?", since), ("bucket_start < ?", until), ("camera = ?", camera)):
            if value is not None:
                where.append(clause)
                params.append(value)
        cond = f" WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT {', '.join(COLUMNS)} FROM aggregates{cond} ORDER BY bucket_start, camera, scope, name, metric"
        with self._lock:
            out = [dict(zip(COLUMNS, r, strict=True)) for r in self._conn.execute(sql, params)]
            if attributes:
                sql = (
                    f"SELECT {', '.join(ATTRIBUTE_COLUMNS)} FROM attribute_counts{cond} "
                    "ORDER BY bucket_start, camera, kind, place, bin"
                )
                out += [
                    {
                        "bucket_start": start,
                        "bucket_seconds": seconds,
                        "camera": cam,
                        "scope": "attribute",
                        "name": place,
                        "metric": f"{kind}={bin_}",
                        "value": count,
                    }
                    for start, seconds, cam, kind, place, bin_, count in self._conn.execute(sql, params)
                ]
            return out

    def claim_site(self, site: str, allow_mixed: bool = False) -> str | None:
        """Record ``site`` as the store's site, or check it against the one recorded; returns the recorded one.

        Two configs writing into one store would merge their rows without a trace, so another site's store is
        refused unless ``allow_mixed`` (``storage.allow_mixed_sites``); the first site recorded stays."""
        with self._lock, _transaction(self._conn) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'site'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta (key, value) VALUES ('site', ?)", (site,))
                return None
        if row[0] != site and not allow_mixed:
            raise StoreError(
                f"{self.path}: this store holds the counts of site {row[0]!r}, and this config is site {site!r}; "
                "use another storage.directory, or set storage.allow_mixed_sites: true to mix them"
            )
        return str(row[0])

    def cameras(self) -> list[str]:
        """The camera ids that have rows (not the site's '')."""
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT DISTINCT camera FROM aggregates WHERE camera != ''")]

    def close(self) -> None:
        """Close the connection; SQLite checkpoints the WAL into the main file on the last close."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> AggregateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
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


class StoreSink:
    """Writes each bucket to the store. A failed write (disk full, database locked) must not stop counting:
    the bucket waits in a bounded in-memory backlog and is retried, oldest first, before the next write.

    ``errors``, ``backlog_len`` and ``dropped_buckets`` are there for metrics. ``close`` makes a last attempt
    at the backlog and then closes the store.
    """

    name = "store"

    def __init__(self, store: AggregateStore, max_backlog: int = MAX_BACKLOG) -> None:
        if max_backlog < 1:
            raise ValueError(f"max_backlog must be at least 1, got {max_backlog}")
        self.store = store
        self.max_backlog = max_backlog
        self.errors = 0
        self.dropped_buckets = 0
        self._backlog: deque[Bucket] = deque()
        self._lock = threading.Lock()  # buckets can be published from a worker and from the supervisor

    @property
    def backlog_len(self) -> int:
        return len(self._backlog)

    def on_frame(self, live: LiveCounts) -> None:
        pass

    def on_bucket(self, bucket: Bucket) -> None:
        with self._lock:
            self._backlog.append(bucket)
            while len(self._backlog) > self.max_backlog:
                self._backlog.popleft()
                self.dropped_buckets += 1
            self._drain()
            try:
                self.store.maybe_purge()
            except sqlite3.OperationalError as exc:  # retried with the next bucket: last_purge is unchanged
                self.errors += 1
                log.warning("aggregate store purge failed (%s); retrying with the next bucket", exc)

    def _drain(self) -> bool:
        waiting = len(self._backlog)
        while self._backlog:
            try:
                self.store.write_bucket(self._backlog[0])
            except sqlite3.OperationalError as exc:
                self.errors += 1
                log.warning(
                    "aggregate store write failed (%s); %d bucket(s) kept in memory for retry, %d dropped so far",
                    exc,
                    len(self._backlog),
                    self.dropped_buckets,
                )
                return False
            except Exception:  # not transient (a bug): retrying would block every later bucket
                self._backlog.popleft()
                self.dropped_buckets += 1
                raise
            self._backlog.popleft()
        if waiting > 1:
            log.info("aggregate store recovered: wrote %d bucket(s) from the backlog", waiting)
        return True

    def close(self) -> None:
        with self._lock:
            if self._backlog and not self._drain():
                log.error("aggregate store: %d bucket(s) could not be written and are lost", len(self._backlog))
                self.dropped_buckets += len(self._backlog)
                self._backlog.clear()
            self.store.close()
