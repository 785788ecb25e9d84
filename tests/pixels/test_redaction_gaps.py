"""Redaction gaps, closed: FFmpeg's own stderr in plain log mode, credentials in a URL's query string, the store's
file modes under any umask, and `edgeanon export`'s purge in the audit log."""

from __future__ import annotations

import json
import os
import re
import stat
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from edgeanon.config.errors import ConfigError
from edgeanon.config.loader import parse_config
from edgeanon.counting.results import Bucket, CameraBucket
from edgeanon.guidebook.audit.chain import verify
from edgeanon.guidebook.audit.writer import AuditLog
from edgeanon.outputs.store import AggregateStore
from tests.helpers.paths import DEFAULT_CONFIG
from tests.helpers.runs import run_edgeanon, start_demo, stop_run

SECRET = "Hls-S3cret-9f2"


# ---------------------------------------------------------------- FFmpeg's stderr in plain mode


class _Playlist(BaseHTTPRequestHandler):
    """An HLS playlist whose only segment is missing: FFmpeg fails and prints the segment's full URL."""

    def do_GET(self) -> None:
        if self.path.endswith(".m3u8"):
            body = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg0.ts\n#EXT-X-ENDLIST\n"
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.apple.mpegurl")
        else:
            body = b""
            self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hls_server() -> Iterator[int]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Playlist)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_ffmpeg_stderr_is_redacted_in_plain_mode(tmp_path, hls_server):
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["cameras"] = [
        {
            "id": "door",
            "source": {
                "kind": "url",
                "url": f"http://127.0.0.1:{hls_server}/live.m3u8",
                "username": "installer",
                "password": SECRET,
            },
            "open_timeout_s": 2,
            "read_timeout_s": 2,
            "reconnect_max_s": 1,
            "zones": data["cameras"][0]["zones"],
            "lines": data["cameras"][0]["lines"],
        }
    ]
    data["entrances"] = [{"camera": "door", "line": "crossing"}]
    cfg = tmp_path / "site.yaml"
    cfg.write_text(yaml.safe_dump(data))
    run = run_edgeanon("run", str(cfg), "--port", "0", "--quiet", "--duration", "8", cwd=tmp_path, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    # FFmpeg's hls demuxer wrote the segment URL with the credentials to fd 2; what reached stderr is masked.
    assert re.search(r"\[hls @ 0x[0-9a-f]+\] .*'http://installer:\*\*\*@127\.0\.0\.1:\d+/seg0\.ts'", run.stderr), (
        run.stderr[-3000:]
    )
    assert SECRET not in run.stderr and SECRET not in run.stdout


# ---------------------------------------------------------------- credentials in a URL's query string


def url_config(url: str) -> str:
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["cameras"][0]["source"] = {"kind": "url", "url": url}
    return yaml.safe_dump(data, sort_keys=False)


@pytest.mark.parametrize("param", ["password", "pwd", "user", "passwd", "token", "PassWord", "api-key", "access_token"])
def test_query_string_credentials_are_refused_with_file_and_line(param):
    text = url_config(f"rtsp://192.0.2.10:554/stream?channel=1&{param}=Zq7-value&subtype=0")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.strip().startswith("url:"))
    with pytest.raises(ConfigError) as exc:
        parse_config(text, "site.yaml")
    msg = str(exc.value)
    assert re.match(rf"^site\.yaml:{line}: cameras\.0\.source\.url(\.url)?: credentials in the URL's query string", msg)
    assert f"({param}=)" in msg and "Zq7-value" not in msg


def test_ordinary_query_parameters_pass():
    cfg = parse_config(url_config("rtsp://192.0.2.10:554/cam/realmonitor?channel=1&subtype=0"))
    assert cfg.cameras[0].source.url.endswith("?channel=1&subtype=0")


# ---------------------------------------------------------------- file modes


def modes(directory: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in directory.iterdir()}


def test_store_files_are_0600_under_any_umask(tmp_path):
    old = os.umask(0)
    try:
        store = AggregateStore(tmp_path / "aggregates.db", retention_days=30)
        store.write_bucket(Bucket(int(time.time()) // 60 * 60, 60, {"sample": CameraBucket(occupancy_sum=3)}))
        seen = modes(tmp_path)
        store.close()
    finally:
        os.umask(old)
    assert seen == {"aggregates.db": 0o600, "aggregates.db-wal": 0o600, "aggregates.db-shm": 0o600}


def test_store_files_left_readable_are_tightened(tmp_path):
    for name in ("aggregates.db", "aggregates.db-wal", "aggregates.db-shm"):
        (tmp_path / name).touch(mode=0o644)
        (tmp_path / name).chmod(0o644)
    AggregateStore(tmp_path / "aggregates.db", retention_days=30).close()
    assert set(modes(tmp_path).values()) == {0o600}


def test_a_real_run_under_umask_0_writes_only_private_files(tmp_path):
    proc = start_demo(tmp_path, ("sh", "-c", 'umask 000 && exec "$@"', "sh"))
    try:
        data = tmp_path / "edgeanon-data"
        deadline = time.monotonic() + 60
        while not (data / "aggregates.db-shm").exists():  # the WAL files appear with the first connection
            assert time.monotonic() < deadline, sorted(os.listdir(data))
            time.sleep(0.2)
        seen = modes(data)
    finally:
        stop_run(proc)
    assert seen == {
        "audit.jsonl": 0o600,
        "aggregates.db": 0o600,
        "aggregates.db-wal": 0o600,
        "aggregates.db-shm": 0o600,
    }


# ---------------------------------------------------------------- export purges with an audit record


def export_setup(tmp_path: Path) -> tuple[Path, Path, int]:
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["storage"] = {"directory": str(tmp_path / "data")}
    cfg = tmp_path / "site.yaml"
    cfg.write_text(yaml.safe_dump(data))
    days = data["retention"]["aggregates_days"]
    old_t = time.time() - (days + 3) * 86400
    store = AggregateStore(tmp_path / "data" / "aggregates.db", retention_days=days, clock=lambda: old_t)
    store.write_bucket(Bucket(int(old_t) // 60 * 60, 60, {"sample": CameraBucket(occupancy_sum=7, occupancy_frames=1)}))
    store.write_bucket(Bucket(int(time.time()) // 60 * 60 - 600, 60, {"sample": CameraBucket(occupancy_frames=1)}))
    store.close()
    return cfg, tmp_path / "data", int(old_t) // 60 * 60


def export(cfg: Path) -> list[dict]:
    r = run_edgeanon("export", str(cfg), "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def stored_starts(data: Path) -> set[int]:
    store = AggregateStore(data / "aggregates.db", retention_days=400)
    try:
        return {r["bucket_start"] for r in store.rows()}
    finally:
        store.close()


def test_export_purge_is_audited(tmp_path):
    cfg, data, old_start = export_setup(tmp_path)
    rows = export(cfg)
    assert rows and all(r["period_start"] for r in rows)
    records = [json.loads(line) for line in (data / "audit.jsonl").read_text().splitlines()]
    (purge,) = [r for r in records if r["event"] == "purge"]
    assert purge["by"] == "export" and purge["table"] == "aggregates" and purge["rows"] > 0
    assert old_start not in stored_starts(data)
    assert verify(data / "audit.jsonl")[0]
    export(cfg)  # nothing left to delete: nothing to record
    records = [json.loads(line) for line in (data / "audit.jsonl").read_text().splitlines()]
    assert [r["event"] for r in records] == ["purge"]


def test_export_while_the_service_holds_the_log_prints_nothing_past_retention(tmp_path):
    cfg, data, old_start = export_setup(tmp_path)
    with AuditLog(data / "audit.jsonl", retention_days=90) as held:  # what a running service does
        rows = export(cfg)
        assert held.seq == 0, "export wrote to a log it does not hold"
    assert rows, "the rows within retention are exported"
    newest_old = datetime.fromtimestamp(old_start, ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d")  # the site's day
    assert not [r for r in rows if r["period_start"].startswith(newest_old)]
    assert old_start in stored_starts(data), "nothing may be purged without an audit record"
