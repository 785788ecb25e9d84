"""Config loading: every bad input is one `file:line: path: message` and exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgeanon.config.errors import ConfigError
from edgeanon.config.loader import load_config, parse_config
from edgeanon.config.schema import Config
from edgeanon.config.sources import UrlSource

ROOT = Path(__file__).resolve().parents[2]
POLICY = """\
operator: {name: Shop K.K., accountable: manager, contact: privacy@shop.example}
purposes:
  - {id: occupancy, justification: staff the floor}
  - {id: flow, justification: count visitors per hour}
"""
GOOD = """\
cameras:
  - id: door
    source: {kind: device, index: 0}
    lines:
      - {name: entrance, a: [0.5, 0.1], b: [0.5, 0.9], normalized: true}
"""


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("cameras: []\n", 1, "cameras", "at least 1 item"),
        (
            "cameras:\n  - id: a\n    source: {kind: file, realtime: maybe}\n",
            3,
            "cameras.0.source.realtime",
            "valid boolean",
        ),
        (
            "cameras:\n  - id: a\n    source:\n      kind: url\n      url: ftp://x\n",
            5,
            "cameras.0.source.url",
            "must start with rtsp",
        ),
        (
            "cameras:\n  - id: a\n    source: {kind: url, url: 'rtsp://u:p@cam/x'}\n",
            3,
            "cameras.0.source.url",
            "credentials",
        ),
        ("cameras:\n  - id: a\n    source: {kind: webcam}\n", 3, "cameras.0.source", "kind"),
        ("cameras:\n  - id: Bad Name\n    source: {kind: device, index: 0}\n", 2, "cameras.0.id", "pattern"),
        (
            "cameras:\n  - id: a\n    source: {kind: device, index: 0}\n    fps: 1000\n",
            4,
            "cameras.0.fps",
            "less than or equal to 60",
        ),
        (
            "cameras:\n  - id: a\n    source: {kind: device, index: 0}\n    colour: red\n",
            4,
            "cameras.0.colour",
            "Extra inputs",
        ),
        (
            "cameras:\n - id: a\n   source: {kind: file}\n   zones:\n     - name: z\n"
            "       polygon: [[0,0],[1,1],[2,2]]\n",
            5,
            "cameras.0.zones.0",
            "no area",
        ),
        (
            "cameras:\n - id: a\n   source: {kind: file}\n   lines:\n     - {name: l, a: [0.2, 2], b: [0.5, 0.5], "
            "normalized: true}\n",
            5,
            "cameras.0.lines.0",
            "outside 0-1",
        ),
        (GOOD + "entrances:\n  - {camera: door, line: exit}\n", 7, "entrances.0", "no such camera line"),
        (GOOD + "aggregation: {timezone: Mars/Olympus}\n", 6, "aggregation.timezone", "unknown IANA timezone"),
        (GOOD + "http: {port: 70000}\n", 6, "http.port", "less than or equal to 65535"),
        (GOOD + "detector: {score: 0.3}\ntracker: {low_score: 0.4}\n", 7, "tracker.low_score", "detector.score"),
        (
            "cameras:\n  - {id: a, source: {kind: file}}\n  - {id: a, source: {kind: file}}\n",
            3,
            "cameras.1",
            "used twice",
        ),
    ],
)
def test_errors_name_file_line_and_field(text, line, field, message):
    with pytest.raises(ConfigError) as info:
        parse_config(text + POLICY, "site.yaml")
    first = str(info.value).splitlines()[0]
    assert first.startswith(f"site.yaml:{line}: {field}: "), first
    assert message in first


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("cameras:\n  - id: a\n    id: b\n", 3, "duplicate key 'id' (first on line 2)"),
        ("a: [1, 2\n", 2, "YAML"),
        ("just a string\n", 1, "must be a mapping"),
        ("", 1, "empty"),
        ("? [a, b]\n: 1\n", 1, "a mapping key must be a plain value"),
        ("!!python/object:os.system {}\n", 1, "YAML"),
    ],
)
def test_yaml_level_errors(text, line, message):
    with pytest.raises(ConfigError) as info:
        parse_config(text, "f.yaml")
    assert str(info.value).startswith(f"f.yaml:{line}: ")
    assert message in str(info.value)


def test_good_config_and_defaults():
    cfg = parse_config(GOOD + POLICY)
    assert cfg.cameras[0].fps == 10 and cfg.http.host == "127.0.0.1" and cfg.aggregation.bucket_seconds == 60
    assert cfg.cameras[0].lines[0].in_side == "left"


def test_password_is_secret_and_never_in_reprs():
    cfg = parse_config(
        "cameras:\n  - id: a\n    source: {kind: url, url: 'rtsp://cam/s1', username: admin, password: 'hunter2!'}\n"
        + POLICY
    )
    src = cfg.cameras[0].source
    assert isinstance(src, UrlSource)
    assert "hunter2" not in repr(cfg) and "hunter2" not in str(cfg) and "hunter2" not in cfg.model_dump_json()
    assert src.open_url() == "rtsp://admin:hunter2%21@cam/s1"


def test_shipped_configs_are_valid():
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        load_config(path)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edgeanon", *args], capture_output=True, text=True, check=False, timeout=60
    )


def test_check_config_cli(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD + "http:\n  port: -1\n" + POLICY)
    proc = _cli("check-config", str(bad))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"edgeanon: error: {bad}:7: http.port: Input should be greater than or equal to 0"
    assert _cli("check-config", str(tmp_path / "none.yaml")).returncode == 2
    ok = _cli("check-config")
    assert ok.returncode == 0 and "ok" in ok.stdout


def test_schema_describes_every_field():
    proc = _cli("schema")
    assert proc.returncode == 0
    schema = json.loads(proc.stdout)
    assert schema == json.loads(json.dumps(Config.model_json_schema()))
    missing = []
    for name, model in schema["$defs"].items():
        for field, spec in model.get("properties", {}).items():
            if "description" not in spec and "$ref" not in spec and "allOf" not in spec:
                missing.append(f"{name}.{field}")
    assert not missing, missing


@pytest.mark.parametrize(
    ("extra", "field", "rule"),
    [
        ("retention: {raw_frames_seconds: 5}\n", "retention.raw_frames_seconds", "R2-discard"),
        ("retention: {aggregates_days: 401}\n", "retention.aggregates_days", "R6-retention"),
        ("retention: {audit_days: 5000}\n", "retention.audit_days", "R6-retention"),
    ],
)
def test_policy_refusals_quote_the_rule(extra, field, rule):
    with pytest.raises(ConfigError) as info:
        parse_config(GOOD + POLICY + extra, "site.yaml")
    msg = str(info.value)
    assert f": {field}: refused:" in msg and f"Rule {rule}" in msg


@pytest.mark.parametrize(
    ("purpose", "rule"),
    [
        ("identification", "R3-no-identification"),
        ("face_recognition", "R3-no-identification"),
        ("reidentification", "R3-no-identification"),
        ("face_features", "R4-no-feature-data"),
        ("embeddings", "R4-no-feature-data"),
        ("race", "R5-no-sensitive"),
        ("ethnicity", "R5-no-sensitive"),
        ("religion", "R5-no-sensitive"),
        ("disability", "R5-no-sensitive"),
        ("health", "R5-no-sensitive"),
        ("recording", "R2-discard"),
        ("Keep-Frames", "R2-discard"),
    ],
)
def test_forbidden_purposes_are_refused_with_reason(purpose, rule):
    text = GOOD + POLICY + f"  - {{id: {purpose}, justification: we would like to}}\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, "site.yaml")
    msg = str(info.value)
    assert msg.startswith("site.yaml:10: purposes.2.id: refused:"), msg
    assert f"Rule {rule}" in msg


@pytest.mark.parametrize(
    ("purposes", "camera_extra", "field", "needs"),
    [
        ("[occupancy]", "", "cameras.0.lines.0", "'flow'"),
        (
            "[flow]",
            "    zones: [{name: z, polygon: [[0,0],[10,0],[10,10]]}]\n",
            "cameras.0.zones.0",
            "'occupancy', 'dwell' or 'queue'",
        ),
        (
            "[occupancy, flow]",
            "    zones: [{name: q, queue: true, polygon: [[0,0],[10,0],[10,10]]}]\n",
            "cameras.0.zones.0.queue",
            "'queue'",
        ),
        ("[occupancy, flow]", "    heatmap: {rows: 4, cols: 4}\n", "cameras.0.heatmap", "'heatmap'"),
    ],
)
def test_undeclared_analytics_are_refused(purposes, camera_extra, field, needs):
    ids = [p.strip() for p in purposes.strip("[]").split(",")]
    policy = "operator: {name: S, accountable: m, contact: a@b.example}\npurposes:\n" + "".join(
        f"  - {{id: {p}, justification: j}}\n" for p in ids
    )
    with pytest.raises(ConfigError) as info:
        parse_config(GOOD + camera_extra + policy, "site.yaml")
    msg = str(info.value)
    assert f": {field}: refused:" in msg and f"needs the purpose {needs}" in msg and "R1-purpose" in msg


def test_operator_and_purposes_are_required():
    with pytest.raises(ConfigError) as info:
        parse_config(GOOD, "site.yaml")
    assert "operator: Field required" in str(info.value) and "purposes: Field required" in str(info.value)
