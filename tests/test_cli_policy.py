"""The guidebook commands as a user runs them: notice, assess, export, audit verify, and restart merging."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

from tests.helpers.paths import DEFAULT_CONFIG
from tests.helpers.runs import run_edgeanon

ROOT = Path(__file__).resolve().parents[1]
STORE_EXAMPLE = ROOT / "configs" / "store-example.yaml"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run_edgeanon(*args, cwd=cwd, timeout=180)


def test_notice_in_japanese_and_english():
    ja = cli("notice", str(STORE_EXAMPLE), "--lang", "ja")
    assert ja.returncode == 0
    for text in (
        "カメラ画像の利用について",
        "利用目的",
        "保存期間",
        "180日間",
        "第三者提供",
        "お問い合わせ",
        "privacy@example.co.jp",
        "破棄",
    ):
        assert text in ja.stdout, text
    en = cli("notice", str(STORE_EXAMPLE), "--lang", "en", "--format", "html")
    assert en.returncode == 0 and en.stdout.lstrip().startswith("<!DOCTYPE html>")
    assert "Example Retail K.K." in en.stdout and "<script" not in en.stdout


def test_assess_exit_codes(tmp_path):
    ok = cli("assess", str(STORE_EXAMPLE), "--format", "markdown")
    assert ok.returncode == 0 and "| " in ok.stdout and "FAIL" not in ok.stdout
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["http"] = {"host": "0.0.0.0", "port": 9108}  # reachable from the network, no authentication
    exposed = tmp_path / "exposed.yaml"
    exposed.write_text(yaml.safe_dump(data))
    refused = cli("check-config", str(exposed))
    assert refused.returncode == 2 and "http.allow_unauthenticated: true" in refused.stderr, refused.stderr
    data["http"]["allow_unauthenticated"] = True  # a trusted network: valid, but assess still fails it
    exposed.write_text(yaml.safe_dump(data))
    bad = cli("assess", str(exposed))
    assert bad.returncode == 1 and re.search(r"\[FAIL\].*management.endpoint-auth", bad.stdout)


def test_run_export_restart_merges_and_audit(tmp_path):
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["cameras"][0]["source"].update({"realtime": False, "loop": False})
    data["aggregation"]["bucket_seconds"] = 3600  # both runs land in the same bucket (unless an hour turns)
    data["storage"] = {"directory": str(tmp_path / "data")}
    cfg = tmp_path / "clip.yaml"
    cfg.write_text(yaml.safe_dump(data))
    for _ in range(2):  # the second run continues the same bucket: its counts add to the stored row
        run = cli("run", str(cfg), "--port", "0", "--quiet", cwd=tmp_path)
        assert run.returncode == 0, run.stderr[-1500:]
    rows = json.loads(cli("export", str(cfg), "--format", "json").stdout)
    inferred = [r for r in rows if r["metric"] == "frames_inferred"]
    assert sum(r["value"] for r in inferred) == 500  # two full passes, nothing written twice
    assert len({r["period_start"] for r in inferred}) <= 2
    assert any(r["metric"] == "occupancy_mean" for r in rows)
    csv_out = cli("export", str(cfg), "--since", "2000-01-01", "--until", "2000-01-02").stdout
    assert csv_out.splitlines() == ["period_start,period_seconds,camera,scope,name,metric,value"]
    assert cli("export", str(cfg), "--since", "yesterday").returncode == 2
    verify = cli("audit", "verify", str(cfg))
    assert verify.returncode == 0 and "chain intact" in verify.stdout
    log = tmp_path / "data" / "audit.jsonl"
    lines = log.read_text().splitlines()
    events = [json.loads(line)["event"] for line in lines]
    assert events.count("start") == 2 and events.count("stop") == 2
    edited = json.loads(lines[1])
    edited["ts"] = "2020-01-01T00:00:00.000Z"  # back-date one record
    lines[1] = json.dumps(edited, separators=(",", ":"))
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("\n".join(lines) + "\n")
    bad = cli("audit", "verify", "--file", str(tampered))
    assert bad.returncode == 1 and "line 2" in bad.stdout


def test_refused_config_is_recorded_in_the_audit_log(tmp_path):
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["retention"]["raw_frames_seconds"] = 10
    data["storage"] = {"directory": str(tmp_path / "data")}
    cfg = tmp_path / "keep-frames.yaml"
    cfg.write_text(yaml.safe_dump(data))
    run = cli("run", str(cfg), "--port", "0")
    assert run.returncode == 2 and "Rule R2-discard" in run.stderr and "Traceback" not in run.stderr
    (record,) = [json.loads(line) for line in (tmp_path / "data" / "audit.jsonl").read_text().splitlines()]
    assert record["event"] == "refusal" and record["rule"] == "R2-discard"
    assert cli("audit", "verify", "--file", str(tmp_path / "data" / "audit.jsonl")).returncode == 0


def test_export_without_a_store_is_a_clear_error(tmp_path):
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["storage"] = {"directory": str(tmp_path / "none")}
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(data))
    proc = cli("export", str(cfg))
    assert proc.returncode == 2 and "no aggregate store yet" in proc.stderr
