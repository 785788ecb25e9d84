"""The audit log's protection modes, each attacked for real on real files.

- unkeyed: an accidental edit, deletion, insertion or reordering is detected, but whoever can write the file can
  rewrite the whole chain consistently;
- expected head kept elsewhere (/readyz, the seq gauge): records cut from the end are detected;
- HMAC key: whoever can write the log but cannot read the key can neither forge nor rewrite records.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from edgeanon.config.credentials import load_key
from edgeanon.errors import AuditError
from edgeanon.guidebook.audit.chain import verify
from edgeanon.guidebook.audit.records import MAC, record_hash
from edgeanon.guidebook.audit.writer import AuditLog
from tests.helpers.paths import DEFAULT_CONFIG
from tests.helpers.runs import start_run

KEY = b"k" * 32
OTHER = b"o" * 32
DAY = 86400.0
T0 = 1_700_000_000.0


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def write(path: Path, n: int, key: bytes | None, start: int = 0) -> str:
    with AuditLog(path, retention_days=30, key=key) as log:
        for i in range(start, start + n):
            log.record("purge", table="aggregates", rows=i, cutoff="2023-01-01T00:00:00.000Z")
        return log.head()


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def forge(recs: list[dict], key: bytes | None = None) -> bytes:
    """What someone who can write the file (but has only ``key``) can produce: a consistently re-chained log."""
    out, prev = [], recs[0]["prev"]
    for original in recs:
        rec = {k: v for k, v in original.items() if k not in ("hash", "mac")}
        rec["prev"] = prev
        if key is not None:
            rec["mac"] = MAC
        rec["hash"] = prev = record_hash(rec, key)
        out.append(json.dumps(rec, separators=(",", ":")) + "\n")
    return "".join(out).encode()


# ---------------------------------------------------------------- HMAC


def test_keyed_records_verify_only_with_the_key(tmp_path):
    path = tmp_path / "audit.jsonl"
    head = write(path, 5, KEY)
    assert all(r["mac"] == MAC for r in records(path))
    assert verify(path, key=KEY) == (True, f"chain intact, head {head}", 5)
    ok, msg, n = verify(path)
    assert not ok and n == 0 and "keyed record" in msg
    ok, msg, _ = verify(path, key=OTHER)
    assert not ok and msg.startswith("line 1: HMAC mismatch")


def test_without_the_key_a_rewritten_log_is_caught_and_an_unkeyed_one_is_not(tmp_path):
    plain, keyed = tmp_path / "plain.jsonl", tmp_path / "keyed.jsonl"
    write(plain, 5, None)
    write(keyed, 5, KEY)
    for path in (plain, keyed):  # the forger changes what record 2 says and re-chains everything after it
        recs = records(path)
        recs[1]["rows"] = 999
        path.write_bytes(forge(recs))
    assert verify(plain)[0], "the documented limit of an unkeyed chain: a consistent rewrite verifies"
    ok, msg, _ = verify(keyed, key=KEY)
    assert not ok and "no record is keyed" in msg
    # keeping the mac field does not help without the key
    recs = records(keyed)
    keyed.write_bytes(forge(recs, key=OTHER))
    ok, msg, _ = verify(keyed, key=KEY)
    assert not ok and msg.startswith("line 1: HMAC mismatch")


def test_an_unkeyed_record_cannot_follow_keyed_ones(tmp_path):
    path = tmp_path / "audit.jsonl"
    write(path, 3, KEY)
    last = records(path)[-1]
    extra = {"seq": last["seq"] + 1, "ts": last["ts"], "event": "stop", "reason": "x", "prev": last["hash"]}
    extra["hash"] = record_hash(extra)
    with open(path, "ab") as f:
        f.write((json.dumps(extra, separators=(",", ":")) + "\n").encode())
    ok, msg, n = verify(path, key=KEY)
    assert not ok and n == 3 and msg.startswith("line 4: unkeyed record after keyed ones")


def test_keying_an_existing_log_seals_its_unkeyed_start(tmp_path):
    path = tmp_path / "audit.jsonl"
    write(path, 3, None)
    head = write(path, 2, KEY, start=3)
    recs = records(path)
    assert ["mac" in r for r in recs] == [False, False, False, True, True]
    assert verify(path, key=KEY) == (True, f"chain intact, head {head}", 5)
    # rewrite the unkeyed start consistently: the first keyed record's sealed prev no longer matches
    recs[0]["rows"] = 999
    path.write_bytes(
        forge(recs[:3]) + b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in recs[3:])
    )
    ok, msg, _ = verify(path, key=KEY)
    assert not ok and msg.startswith("line 4: prev does not match")


def test_a_keyed_log_does_not_open_without_its_key(tmp_path):
    path = tmp_path / "audit.jsonl"
    write(path, 2, KEY)
    for key in (None, OTHER):
        with pytest.raises(AuditError, match="not a valid record"):
            AuditLog(path, retention_days=30, key=key)
    assert verify(path, key=KEY)[0]


def test_purge_of_a_keyed_log_stays_keyed_and_verifiable(tmp_path):
    path = tmp_path / "audit.jsonl"
    clock = Clock()
    with AuditLog(path, retention_days=5, clock=clock, key=KEY) as log:
        for d in range(10):
            clock.t = T0 + d * DAY
            log.record("purge", table="aggregates", rows=d, cutoff="x")
        assert log.purge() == 4
        head = log.head()
    recs = records(path)
    assert recs[0]["event"] == recs[-1]["event"] == "audit_purge" and all(r["mac"] == MAC for r in recs)
    assert verify(path, expected_head=head, key=KEY)[0]
    assert not verify(path)[0]


@pytest.mark.parametrize(
    ("mode", "content", "error"),
    [
        (0o600, b"x" * 31, "use at least 32"),
        (0o644, b"x" * 64, "readable by everyone"),
        (0o620, b"x" * 64, "writable by group or others"),
        (0o602, b"x" * 64, "writable by group or others"),
    ],
)
def test_key_file_checks(tmp_path, mode, content, error):
    p = tmp_path / "audit.key"
    p.write_bytes(content)
    p.chmod(mode)
    with pytest.raises(AuditError, match=error):
        load_key(p)


def test_key_file_accepted(tmp_path):
    p = tmp_path / "audit.key"
    p.write_bytes(b"ab" * 32 + b"\n")
    p.chmod(0o440)
    assert load_key(p) == b"ab" * 32
    with pytest.raises(AuditError, match="No such file"):
        load_key(tmp_path / "missing.key")


# ---------------------------------------------------------------- the CLI: --expected-head and --key-file


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edgeanon", "audit", "verify", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


def test_cli_expected_head_catches_records_cut_from_the_end(tmp_path):
    path = tmp_path / "audit.jsonl"
    head = write(path, 6, None)
    assert cli("--file", str(path), "--expected-head", head).returncode == 0
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-2]))
    assert cli("--file", str(path)).returncode == 0  # a shorter chain is still a chain
    r = cli("--file", str(path), "--expected-head", head)
    assert r.returncode == 1 and "not the expected head" in r.stdout
    r = cli("--file", str(path), "--expected-head", "abc")
    assert r.returncode == 2 and "not a 64-digit hex hash" in r.stderr


def test_cli_key_file(tmp_path):
    path, key_file = tmp_path / "audit.jsonl", tmp_path / "audit.key"
    key_file.write_bytes(KEY)
    key_file.chmod(0o400)
    head = write(path, 3, KEY)
    r = cli("--file", str(path), "--key-file", str(key_file), "--expected-head", head)
    assert r.returncode == 0, r.stdout + r.stderr
    r = cli("--file", str(path))
    assert r.returncode == 1 and "keyed record" in r.stdout


# ---------------------------------------------------------------- a real run exports its head


def test_a_real_run_exports_its_head_and_keys_its_log(tmp_path):
    key_file = tmp_path / "audit.key"
    key_file.write_text(hashlib.sha256(b"test key").hexdigest())
    key_file.chmod(0o400)
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["storage"]["audit_hmac_key_file"] = str(key_file)
    cfg = tmp_path / "site.yaml"
    cfg.write_text(yaml.safe_dump(data))
    log = tmp_path / "edgeanon-data" / "audit.jsonl"
    proc, port = start_run(str(cfg), cwd=tmp_path)
    try:
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10).read()
        except urllib.error.HTTPError as exc:  # 503 until the camera's first frame: the JSON is the same
            body = exc.read()
        ready = json.loads(body)
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        gauge = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
        last = records(log)[-1]
        assert ready["audit"] == {"seq": last["seq"], "head": last["hash"]}
        assert last["event"] == "start" and last["mac"] == MAC
        assert gauge["edgeanon_audit_head_seq"] == last["seq"]
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # a hung stop fails the test, and leaves no process behind
            proc.kill()
            proc.communicate()
            raise
    assert proc.returncode == 0
    final = records(log)[-1]
    assert final["event"] == "stop" and final["seq"] == ready["audit"]["seq"] + 1
    r = cli(str(cfg), "--expected-head", final["hash"], cwd=tmp_path)  # the key comes from the config
    assert r.returncode == 0, r.stdout + r.stderr
    r = cli(str(cfg), "--expected-head", ready["audit"]["head"], cwd=tmp_path)  # an older head: cut from the end?
    assert r.returncode == 1 and "not the expected head" in r.stdout
    assert cli("--file", str(log), cwd=tmp_path).returncode == 1  # without the key, a keyed log is not trusted
