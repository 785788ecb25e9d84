"""The aggregate store: closed time buckets as rows in a local SQLite file, purged after the retention period.

Only aggregates are stored: one number per (bucket, camera, scope, name, metric), every label from the config or
from a fixed list in the code. No track ids, no boxes, nothing per person. Attribute counts (heading, speed band,
group size, age band, gender) are in their own table, one count per (bucket, camera, kind, place, bin), holding
only bins that survived k-suppression.

The file itself (tables, schema versions, upgrades, opening it safely) is ``store_file``; what a bucket
becomes as rows is ``store_rows``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeanon.counting.results import Bucket, LiveCounts
from edgeanon.outputs.store_file import StoreError, open_database, transaction
from edgeanon.outputs.store_rows import MergeRule, attribute_rows, bucket_rows, merge_rule

log = logging.getLogger("edgeanon.store")

PURGE_INTERVAL_S = 3600.0
MAX_BACKLOG = 1440  # buckets kept in memory while a sink's destination fails: a day of 60-s buckets
COLUMNS = ("bucket_start", "bucket_seconds", "camera", "scope", "name", "metric", "value")

ATTRIBUTE_COLUMNS = ("bucket_start", "bucket_seconds", "camera", "kind", "place", "bin", "count")
_UPSERT_ATTRIBUTE = (
    "INSERT INTO attribute_counts (bucket_start, bucket_seconds, camera, kind, place, bin, count) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (bucket_start, camera, kind, place, bin) DO UPDATE SET "
    "bucket_seconds = max(bucket_seconds, excluded.bucket_seconds), count = count + excluded.count"
)

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
        self._conn = open_database(self.path, busy_timeout_s, clock)
        try:
            if purge_on_open:
                self.purge()
        except sqlite3.Error as exc:
            self._conn.close()
            raise StoreError(f"{self.path}: cannot purge the aggregate store: {exc}") from exc
        except BaseException:
            self._conn.close()
            raise

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
        with self._lock, transaction(self._conn) as conn:
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
        with self._lock, transaction(self._conn) as conn:
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
        with self._lock, transaction(self._conn) as conn:
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
