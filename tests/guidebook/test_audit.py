"""The hash-chained audit log: chaining, reopen, tamper detection, crash recovery, purge, threads, errors."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import stat
import threading
from pathlib import Path

import numpy as np
import pytest

from edgeanon.errors import AuditError, EdgeanonError
from edgeanon.guidebook.audit import writer
from edgeanon.guidebook.audit.chain import format_verify, verify
from edgeanon.guidebook.audit.records import GENESIS, record_hash
from edgeanon.guidebook.audit.writer import AuditLog

DAY = 86400.0
T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def make_log(path: Path, n: int, *, clock: Clock | None = None, step: float = 1.0, retention_days: int = 30) -> str:
    """Write n records, one every `step` seconds, and return the head."""
    clock = clock or Clock()
    with AuditLog(path, retention_days=retention_days, clock=clock) as log:
        for i in range(n):
            log.record("purge", table="buckets", rows=i, cutoff="2023-01-01T00:00:00.000Z")
            clock.t += step
        return log.head()


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))


def rewrite(rec: dict) -> bytes:
    """A forger's line: any content, with a correctly recomputed self-hash."""
    rec = dict(rec)
    rec["hash"] = record_hash(rec)
    return (json.dumps(rec, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


# --- chaining -------------------------------------------------------------------------------------------------


def test_chain_of_many_records_verifies_and_links(tmp_path):
    path = tmp_path / "audit.jsonl"
    head = make_log(path, 200)
    ok, msg, n = verify(path)
    assert (ok, n) == (True, 200), msg
    recs = [json.loads(x) for x in lines_of(path)]
    assert [r["seq"] for r in recs] == list(range(1, 201))
    assert recs[0]["prev"] == GENESIS
    for a, b in itertools.pairwise(recs):
        assert b["prev"] == a["hash"]
    assert recs[-1]["hash"] == head
    assert head in msg
    assert verify(path, expected_head=head)[0]


def test_record_format_hash_and_timestamp(tmp_path):
    path = tmp_path / "a" / "b" / "audit.jsonl"  # parent directories are created
    with AuditLog(path, retention_days=30, clock=Clock(T0 + 0.25)) as log:
        rec = log.record("start", version="0.1.0", config_sha256="ab" * 32, model_sha256="cd" * 32, purposes=["p1"])
    line = lines_of(path)[0]
    assert json.loads(line) == rec
    assert list(rec) == ["seq", "ts", "event", "version", "config_sha256", "model_sha256", "purposes", "prev", "hash"]
    assert rec["ts"] == "2023-11-14T22:13:20.250Z"
    body = {k: v for k, v in rec.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert rec["hash"] == hashlib.sha256(canonical).hexdigest()
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_non_ascii_fields_are_hashed_as_utf8(tmp_path):
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, retention_days=30) as log:
        log.record("refusal", reason="顔特徴量は保持しない", rule="R3-identify")
    assert "顔特徴量".encode() in path.read_bytes()  # ensure_ascii=False
    assert verify(path)[0]


def test_reopen_continues_seq_and_prev(tmp_path):
    path = tmp_path / "audit.jsonl"
    head = make_log(path, 5)
    with AuditLog(path, retention_days=30) as log:
        assert (log.seq, log.head()) == (5, head)
        rec = log.record("stop", reason="SIGTERM", flushed=3)
    assert (rec["seq"], rec["prev"]) == (6, head)
    assert verify(path) == (True, f"chain intact, head {rec['hash']}", 6)


def test_empty_log_head_is_genesis(tmp_path):
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, retention_days=30) as log:
        assert log.head() == GENESIS
    assert verify(path, expected_head=GENESIS)[:2] == (True, f"chain intact, head {GENESIS}")


# --- tampering ------------------------------------------------------------------------------------------------


def tamper_edit(lines):
    rec = json.loads(lines[6])
    rec["rows"] = 999
    lines[6] = json.dumps(rec, separators=(",", ":")).encode() + b"\n"
    return 7, "hash mismatch (record edited)"


def tamper_delete_middle(lines):
    del lines[4]
    return 5, "1 record(s) missing"


def tamper_swap(lines):
    lines[4], lines[5] = lines[5], lines[4]
    return 5, "seq 6 follows 4"


def tamper_insert_forged(lines):
    prev_rec, next_rec = json.loads(lines[3]), json.loads(lines[4])
    forged = {"seq": 5, "ts": next_rec["ts"], "event": "stop", "reason": "forged", "flushed": 0, "prev": "f" * 64}
    lines.insert(4, rewrite(forged))
    assert forged["prev"] != prev_rec["hash"]
    return 5, "prev does not match the hash of line 4"


def tamper_forged_with_right_prev(lines):
    prev_rec = json.loads(lines[3])
    forged = {"seq": 5, "ts": prev_rec["ts"], "event": "stop", "reason": "forged", "flushed": 0}
    lines.insert(4, rewrite(forged | {"prev": prev_rec["hash"]}))
    return 6, "seq 5 does not increase after 5"  # the genuine seq 5 now follows the forged one


def tamper_seq_edited(lines):
    rec = json.loads(lines[4])
    rec["seq"] = 9
    lines[4] = json.dumps(rec, separators=(",", ":")).encode() + b"\n"
    return 5, "hash mismatch"


def tamper_seq_rehashed(lines):
    rec = json.loads(lines[4])
    rec["seq"] = 9
    lines[4] = rewrite(rec)
    return 5, "seq 9 follows 4"


def tamper_seq_duplicate_rehashed(lines):
    rec = json.loads(lines[4])
    rec["seq"] = 4
    lines[4] = rewrite(rec)
    return 5, "seq 4 does not increase after 4"


def tamper_bad_hash_field(lines):
    rec = json.loads(lines[2])
    rec["hash"] = "xyz"
    lines[2] = json.dumps(rec).encode() + b"\n"
    return 3, "bad 'hash'"


def tamper_truncate_last_line(lines):
    lines[-1] = lines[-1][:-20]
    return 10, "truncated last line"


def tamper_delete_first(lines):
    del lines[0]
    return 1, "records deleted from the start"


def tamper_duplicate_key(lines):
    lines[2] = lines[2][:-2] + b',"rows":5}\n'
    return 3, "duplicate key"


def tamper_not_json(lines):
    lines[7] = b"hello\n"
    return 8, "not a valid JSON record"


@pytest.mark.parametrize(
    "tamper",
    [
        tamper_edit,
        tamper_delete_middle,
        tamper_swap,
        tamper_insert_forged,
        tamper_forged_with_right_prev,
        tamper_seq_edited,
        tamper_seq_rehashed,
        tamper_seq_duplicate_rehashed,
        tamper_bad_hash_field,
        tamper_truncate_last_line,
        tamper_delete_first,
        tamper_duplicate_key,
        tamper_not_json,
    ],
)
def test_tampering_is_detected_at_the_right_line(tmp_path, tamper):
    path = tmp_path / "audit.jsonl"
    make_log(path, 10)
    assert verify(path)[0]
    lines = lines_of(path)
    line, what = tamper(lines)
    write_lines(path, lines)
    ok, msg, n = verify(path)
    assert not ok
    assert msg.startswith(f"line {line}: "), msg
    assert what in msg
    assert n == line - 1  # records that passed before the bad line


def test_deleting_from_the_end_needs_the_expected_head(tmp_path):
    path = tmp_path / "audit.jsonl"
    head = make_log(path, 10)
    assert verify(path, expected_head=head)[0]
    write_lines(path, lines_of(path)[:-2])
    ok, _, n = verify(path)
    assert (ok, n) == (True, 8)  # the documented limit: a shorter chain is still a valid chain
    ok, msg, n = verify(path, expected_head=head)
    assert not ok
    assert msg.startswith("line 8: ")
    assert "not the expected head" in msg
    assert n == 8


def test_verify_missing_file(tmp_path):
    ok, msg, n = verify(tmp_path / "nope.jsonl")
    assert (ok, n) == (False, 0)
    assert "nope.jsonl" in msg


def test_format_verify():
    assert format_verify(True, "chain intact, head ab", 12) == "audit log OK: 12 records, chain intact, head ab"
    out = format_verify(False, "line 7: hash mismatch (record edited)", 6)
    assert out == "audit log FAILED: line 7: hash mismatch (record edited) (6 records verified before it)"
    assert "\n" not in out


# --- crash recovery on open -----------------------------------------------------------------------------------


def test_torn_final_line_is_truncated_and_recorded(tmp_path):
    path = tmp_path / "audit.jsonl"
    head = make_log(path, 3)
    good = path.read_bytes()
    torn = b'{"seq":4,"ts":"2023-11-14T22:13:23.000Z","event":"st'
    path.write_bytes(good + torn)
    assert not verify(path)[0]
    with AuditLog(path, retention_days=30) as log:
        assert log.seq == 4
    data = path.read_bytes()
    assert data.startswith(good)
    assert torn not in data
    rec = json.loads(lines_of(path)[-1])
    assert rec["event"] == "audit_recovered"
    assert (rec["seq"], rec["prev"], rec["line"], rec["removed_bytes"]) == (4, head, 4, len(torn))
    assert verify(path)[:3:2] == (True, 4)


def test_torn_only_line_in_file(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b'{"seq":1,"ts"')
    with AuditLog(path, retention_days=30):
        pass
    (rec,) = [json.loads(x) for x in lines_of(path)]
    assert (rec["event"], rec["seq"], rec["prev"]) == ("audit_recovered", 1, GENESIS)


@pytest.mark.parametrize(
    "bad_last",
    [
        b'{"garbage": 1}\n',
        b"not json at all\n",
        "edit",  # the last genuine record with a field changed and its hash left alone
    ],
)
def test_complete_but_invalid_last_line_is_refused(tmp_path, bad_last):
    path = tmp_path / "audit.jsonl"
    make_log(path, 3)
    lines = lines_of(path)
    if bad_last == "edit":
        lines[-1] = lines[-1].replace(b'"rows":2', b'"rows":7')
    else:
        lines.append(bad_last)
    write_lines(path, lines)
    before = path.read_bytes()
    with pytest.raises(AuditError) as exc:
        AuditLog(path, retention_days=30)
    msg = str(exc.value)
    assert str(path) in msg
    assert f"line {len(lines)}" in msg
    assert "\n" not in msg
    assert path.read_bytes() == before  # nothing truncated or appended
    AuditLog(tmp_path / "other.jsonl", retention_days=30).close()  # the failed open left no lock behind elsewhere


def test_torn_line_after_an_invalid_complete_line_is_not_touched(tmp_path):
    path = tmp_path / "audit.jsonl"
    make_log(path, 2)
    path.write_bytes(path.read_bytes() + b'{"forged": true}\n{"seq":')
    before = path.read_bytes()
    with pytest.raises(AuditError, match="line 3"):
        AuditLog(path, retention_days=30)
    assert path.read_bytes() == before


# --- purge ----------------------------------------------------------------------------------------------------


def daily_log(path: Path, days: int, clock: Clock, retention_days: int = 5) -> AuditLog:
    log = AuditLog(path, retention_days=retention_days, clock=clock)
    for d in range(days):
        clock.t = T0 + d * DAY
        log.record("purge", table="buckets", rows=d, cutoff="x")
    return log


def test_purge_keeps_newer_records_and_stays_verifiable(tmp_path, monkeypatch):
    path = tmp_path / "audit.jsonl"
    clock = Clock()
    log = daily_log(path, 10, clock)  # records at day 0..9
    old_lines = lines_of(path)
    old_head, old_ino = log.head(), os.stat(path).st_ino
    clock.t = T0 + 10 * DAY  # cutoff = day 5: days 0-4 go, day 5 (not older than the cutoff) stays
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def spy_fsync(fd):
        st = os.fstat(fd)
        events.append(("fsync", st.st_ino, stat.S_ISDIR(st.st_mode)))
        real_fsync(fd)

    def spy_replace(src, dst):
        events.append(("replace", os.stat(src).st_ino, False))
        real_replace(src, dst)

    monkeypatch.setattr(writer.os, "fsync", spy_fsync)
    monkeypatch.setattr(writer.os, "replace", spy_replace)
    assert log.purge() == 5
    monkeypatch.undo()
    new_ino = os.stat(path).st_ino
    # the new file is synced before it is renamed into place, and the directory entry after
    assert events == [("fsync", new_ino, False), ("replace", new_ino, False), ("fsync", tmp_path.stat().st_ino, True)]

    assert os.stat(path).st_ino != old_ino  # replaced by rename, not rewritten in place
    assert not (tmp_path / "audit.jsonl.tmp").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.jsonl"]
    new_lines = lines_of(path)
    assert new_lines[1:-1] == old_lines[5:]  # kept records byte for byte
    anchor, confirm = json.loads(new_lines[0]), json.loads(new_lines[-1])
    removed_last = json.loads(old_lines[4])
    assert anchor["event"] == confirm["event"] == "audit_purge"
    assert (anchor["seq"], anchor["records"], anchor["prev"]) == (5, 5, removed_last["hash"])
    assert anchor["cutoff"] == confirm["cutoff"] == "2023-11-19T22:13:20.000Z"
    assert (confirm["seq"], confirm["prev"], confirm["anchor"], confirm["records"]) == (11, old_head, anchor["hash"], 5)
    assert log.head() == confirm["hash"]
    assert verify(path, expected_head=log.head()) == (True, f"chain intact, head {log.head()}", 7)

    rec = log.record("stop", reason="test", flushed=0)  # appending after a purge goes to the new file
    assert (rec["seq"], rec["prev"]) == (12, confirm["hash"])
    log.close()
    assert verify(path, expected_head=rec["hash"])[0]
    with AuditLog(path, retention_days=5, clock=clock) as log2:  # reopen after purge continues the chain
        assert log2.record("stop", reason="again", flushed=0)["seq"] == 13
    assert verify(path)[0]


def test_purge_with_nothing_old_changes_nothing(tmp_path):
    path = tmp_path / "audit.jsonl"
    clock = Clock()
    with daily_log(path, 3, clock) as log:
        before, ino = path.read_bytes(), os.stat(path).st_ino
        assert log.purge() == 0
        assert (path.read_bytes(), os.stat(path).st_ino) == (before, ino)


def test_second_purge_replaces_the_anchor(tmp_path):
    path = tmp_path / "audit.jsonl"
    clock = Clock()
    with daily_log(path, 10, clock) as log:
        clock.t = T0 + 10 * DAY
        assert log.purge() == 5
        clock.t = T0 + 13 * DAY  # cutoff day 8: days 5, 6, 7 go; the first purge's confirm (day 10) stays
        assert log.purge() == 3
        head = log.head()
    recs = [json.loads(x) for x in lines_of(path)]
    assert [r["seq"] for r in recs] == [8, 9, 10, 11, 12]
    assert recs[0]["records"] == 3
    assert recs[-1]["anchor"] == recs[0]["hash"]
    assert verify(path, expected_head=head)[:3:2] == (True, 5)


def test_purge_of_everything(tmp_path):
    path = tmp_path / "audit.jsonl"
    clock = Clock()
    with daily_log(path, 4, clock) as log:
        clock.t = T0 + 100 * DAY
        assert log.purge() == 4
        head = log.head()
    assert len(lines_of(path)) == 2  # anchor + confirm
    assert verify(path, expected_head=head)[0]


def test_purge_leaves_the_log_unchanged_when_the_rename_fails(tmp_path, monkeypatch):
    path = tmp_path / "audit.jsonl"
    clock = Clock()
    with daily_log(path, 6, clock) as log:
        before, head = path.read_bytes(), log.head()
        clock.t = T0 + 10 * DAY

        def boom(src, dst):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(writer.os, "replace", boom)
        with pytest.raises(AuditError, match="log unchanged"):
            log.purge()
        monkeypatch.undo()
        assert path.read_bytes() == before
        assert not (tmp_path / "audit.jsonl.tmp").exists()
        assert log.head() == head
        log.record("stop", reason="still writable", flushed=0)
    assert verify(path)[:3:2] == (True, 7)


def test_purge_refuses_a_damaged_log(tmp_path):
    path = tmp_path / "audit.jsonl"
    clock = Clock()
    with daily_log(path, 6, clock) as log:
        lines = lines_of(path)
        lines[1] = lines[1].replace(b'"rows":1', b'"rows":0')  # tamper with a record the purge would remove
        write_lines(path, lines)
        before = path.read_bytes()
        clock.t = T0 + 10 * DAY
        with pytest.raises(AuditError, match=r"not purging a damaged log \(line 2: hash mismatch"):
            log.purge()
        assert path.read_bytes() == before


def test_stale_tmp_from_a_crashed_purge_is_removed_on_open(tmp_path):
    path = tmp_path / "audit.jsonl"
    make_log(path, 2)
    (tmp_path / "audit.jsonl.tmp").write_bytes(b"half a purge")
    with AuditLog(path, retention_days=30):
        assert not (tmp_path / "audit.jsonl.tmp").exists()
    assert verify(path)[0]


def purged(tmp_path) -> tuple[Path, list[bytes]]:
    path = tmp_path / "audit.jsonl"
    clock = Clock()
    with daily_log(path, 10, clock) as log:
        clock.t = T0 + 10 * DAY
        log.purge()
    return path, lines_of(path)


def test_anchor_edited_with_a_recomputed_hash_is_detected(tmp_path):
    path, lines = purged(tmp_path)
    anchor = json.loads(lines[0])
    anchor["records"] = 2  # understate what was removed
    lines[0] = rewrite(anchor)
    write_lines(path, lines)
    ok, msg, _ = verify(path)
    assert not ok
    assert msg.startswith("line 1: purge anchor is not confirmed"), msg


def test_forged_anchor_hiding_more_deleted_records_is_detected(tmp_path):
    path, lines = purged(tmp_path)
    # Cut two more kept records and put a fresh, self-consistent anchor in front of the rest.
    first_kept = json.loads(lines[3])
    forged = {"seq": first_kept["seq"] - 1, "ts": first_kept["ts"], "event": "audit_purge", "records": 7}
    forged |= {"cutoff": "2023-11-21T22:13:20.000Z", "prev": first_kept["prev"]}
    write_lines(path, [rewrite(forged), *lines[3:]])
    ok, msg, _ = verify(path)
    assert not ok
    assert msg.startswith("line 1: purge anchor is not confirmed"), msg


def test_anchor_must_link_to_the_next_record(tmp_path):
    path, lines = purged(tmp_path)
    write_lines(path, [lines[0], *lines[2:]])  # delete the first kept record after the anchor
    ok, msg, _ = verify(path)
    assert not ok
    assert msg.startswith("line 2: seq 7 follows 5"), msg


def test_confirm_record_disagreeing_with_the_anchor_is_detected(tmp_path):
    path, lines = purged(tmp_path)
    confirm = json.loads(lines[-1])
    confirm["records"] = 1  # the confirm is the last line, so rehashing it breaks no later link
    lines[-1] = rewrite(confirm)
    write_lines(path, lines)
    ok, msg, _ = verify(path)
    assert not ok
    assert msg.startswith(f"line {len(lines)}: audit_purge record disagrees with the purge anchor"), msg


def test_non_anchor_first_record_with_foreign_prev_is_refused(tmp_path):
    path = tmp_path / "audit.jsonl"
    make_log(path, 5)
    lines = lines_of(path)
    first = json.loads(lines[2])
    first["event"] = "audit_purge"  # looks like an anchor but carries no records/cutoff
    write_lines(path, [rewrite(first), *lines[3:]])
    ok, msg, _ = verify(path)
    assert not ok
    assert msg.startswith("line 1: chain does not start at the genesis value"), msg


# --- concurrency, errors, field rules -------------------------------------------------------------------------


def test_threads_share_one_log(tmp_path):
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, retention_days=30) as log:
        barrier = threading.Barrier(8)

        def work(k: int) -> None:
            barrier.wait()
            for i in range(50):
                log.record("purge", table=f"t{k}", rows=i, cutoff="x")

        threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        head = log.head()
    ok, msg, n = verify(path, expected_head=head)
    assert (ok, n) == (True, 400), msg
    recs = [json.loads(x) for x in lines_of(path)]
    assert [r["seq"] for r in recs] == list(range(1, 401))
    assert sorted((r["table"], r["rows"]) for r in recs) == sorted((f"t{k}", i) for k in range(8) for i in range(50))


def test_unwritable_path_raises_audit_error(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    path = blocker / "audit.jsonl"
    with pytest.raises(AuditError) as exc:
        AuditLog(path, retention_days=30)
    assert isinstance(exc.value, EdgeanonError)
    assert str(path) in str(exc.value)
    assert "\n" not in str(exc.value)


def test_directory_as_path_raises_audit_error(tmp_path):
    with pytest.raises(AuditError, match=str(tmp_path)):
        AuditLog(tmp_path, retention_days=30)


def test_second_writer_is_refused(tmp_path):
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, retention_days=30) as log:
        with pytest.raises(AuditError, match="already open"):
            AuditLog(path, retention_days=30)
        log.record("stop", reason="x", flushed=0)
    AuditLog(path, retention_days=30).close()  # free again once closed


def test_closed_log_refuses_records(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl", retention_days=30)
    log.close()
    with pytest.raises(AuditError, match="closed"):
        log.record("stop", reason="x", flushed=0)


@pytest.mark.parametrize(
    ("fields", "exc", "match"),
    [
        ({"frame": 1}, ValueError, "never holds pixels"),
        ({"boxes": [1, 2, 3, 4]}, ValueError, "never holds pixels"),
        ({"track_id": 3}, ValueError, "never holds pixels"),
        ({"counts": np.zeros(3)}, TypeError, "ndarray"),
        ({"rows": np.int64(3)}, TypeError, "int64"),
        ({"nested": {"a": 1}}, TypeError, "dict"),
        ({"nested": [[1]]}, TypeError, "list"),
        ({"ratio": float("nan")}, ValueError, "finite"),
        ({"reason": "x" * 2000}, ValueError, "longer than"),
        ({"purposes": ["p"] * 100}, ValueError, "longer than"),
        ({"prev": GENESIS}, ValueError, "reserved"),
        ({"Bad-Name": 1}, ValueError, "must match"),
    ],
)
def test_field_rules(tmp_path, fields, exc, match):
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, retention_days=30) as log:
        with pytest.raises(exc, match=match):
            log.record("start", **fields)
        assert log.seq == 0
    assert path.read_bytes() == b""


def test_bad_event_name_and_retention(tmp_path):
    with AuditLog(tmp_path / "audit.jsonl", retention_days=30) as log, pytest.raises(ValueError, match="event"):
        log.record("Start Now")
    with pytest.raises(ValueError, match="retention_days"):
        AuditLog(tmp_path / "b.jsonl", retention_days=0)


def test_write_error_fails_closed(tmp_path, monkeypatch):
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, retention_days=30) as log:
        log.record("stop", reason="ok", flushed=0)

        def boom(fd):
            raise OSError(5, "Input/output error")

        monkeypatch.setattr(writer.os, "fsync", boom)
        with pytest.raises(AuditError, match="write failed"):
            log.record("stop", reason="lost", flushed=0)
        monkeypatch.undo()
        with pytest.raises(AuditError, match="reopen"):
            log.record("stop", reason="after", flushed=0)
    ok, _, n = verify(path)
    assert (ok, n) == (True, 1)  # the unsynced line was cut back off
