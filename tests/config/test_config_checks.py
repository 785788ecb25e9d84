"""Config mistakes that must not pass (issue 16, items 1-6), and the small CLI points around them.

Each case runs the real loader or the real `edgeanon` subprocess, as a new operator would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from edgeanon.config.errors import ConfigError
from edgeanon.config.loader import parse_config
from edgeanon.config.placement import geometry_problems
from edgeanon.guidebook.notice.render import render_notice
from tests.helpers.paths import CLIP, DEFAULT_CONFIG, STILLS

BASE = yaml.safe_load(DEFAULT_CONFIG.read_text())


def cli(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edgeanon", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,
    )


def config(**over: object) -> dict:
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data.update(over)
    return data


def camera(**over: object) -> dict:
    cam = dict(BASE["cameras"][0])
    cam.update(over)
    return cam


def refusal(data: dict) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(yaml.safe_dump(data, sort_keys=False), "site.yaml")
    return str(info.value)


# ---------------------------------------------------------------- 1. geometry outside the frame


def write(tmp_path: Path, data: dict, name: str = "site.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=None))  # points on one line
    return path


def test_check_config_refuses_a_line_outside_the_clip_with_file_and_line(tmp_path):
    far = {"name": "crossing", "a": [5000, 6000], "b": [5100, 6100]}  # the issue's measurement
    path = write(tmp_path, config(cameras=[camera(lines=[far])]))
    proc = cli("check-config", str(path))
    assert proc.returncode == 2, proc.stdout
    line = next(i + 1 for i, t in enumerate(path.read_text().splitlines()) if "5000" in t)
    assert f"{path}:{line}: cameras.0.lines.0.a: line 'crossing': a [5000, 6000] lies outside the 768x576 frame" in (
        proc.stderr
    ), proc.stderr


@pytest.mark.parametrize(
    ("cam", "field", "words"),
    [
        ({"zones": [{"name": "z", "polygon": [[700, 500], [800, 500], [800, 600]]}]}, "zones.0.polygon", "outside"),
        ({"zones": [{"name": "z", "polygon": [[10, 10], [60, 10], [60, 60], [10, 60]]}]}, "zones.0.polygon", "0.57%"),
        ({"lines": [{"name": "l", "a": [100, 100], "b": [110, 105]}]}, "lines.0", "under 2%"),
        ({"exclude": [{"polygon": [[0, 0], [900, 0], [900, 100]]}]}, "exclude.0.polygon", "outside"),
    ],
)
def test_check_config_geometry_against_the_probed_frame(tmp_path, cam, field, words):
    data = config(cameras=[camera(**{"zones": [], "lines": [], **cam})], entrances=[])
    proc = cli("check-config", str(write(tmp_path, data)))
    assert proc.returncode == 2 and f"cameras.0.{field}: " in proc.stderr and words in proc.stderr, proc.stderr


def test_geometry_bounds_are_the_stated_ones():
    cam = parse_config(yaml.safe_dump(config())).cameras[0]
    assert geometry_problems(cam, (768, 576)) == []  # the demo fits its clip
    assert geometry_problems(cam, (640, 480))  # ... and not a smaller camera (x = 768 is outside 640)
    normal = {"normalized": True}
    line = {"name": "l", "a": [0.5, 0.5], **normal}
    zone = {"name": "z", "polygon": [[0, 0], [0.1, 0], [0.1, 0.1]], **normal}  # 0.5 % of any frame
    ok_zone = {"name": "z", "polygon": [[0, 0], [0.15, 0], [0.15, 0.15]], **normal}  # 1.125 %
    c = parse_config(
        yaml.safe_dump(
            config(
                cameras=[camera(lines=[{**line, "b": [0.519, 0.5]}], zones=[zone])],  # 1.9 % of the width < 2 % diag
                entrances=[],
            )
        )
    ).cameras[0]
    assert [loc for loc, _ in geometry_problems(c, (1000, 1000))] == [("zones", 0, "polygon"), ("lines", 0)]
    c = parse_config(
        yaml.safe_dump(config(cameras=[camera(lines=[{**line, "b": [0.53, 0.5]}], zones=[ok_zone])], entrances=[]))
    ).cameras[0]
    assert geometry_problems(c, (1000, 1000)) == []  # 3 % of the width = 2.1 % of the diagonal


def test_check_config_passes_the_shipped_configs():
    for path in sorted((DEFAULT_CONFIG.parent).glob("*.yaml")):
        proc = cli("check-config", str(path))
        assert proc.returncode == 0, proc.stderr


# ---------------------------------------------------------------- 2. unknown model


def test_unknown_model_fails_check_config_with_its_line(tmp_path):
    path = write(tmp_path, config(detector={"model": "yolov99"}))
    proc = cli("check-config", str(path))
    line = next(i + 1 for i, t in enumerate(path.read_text().splitlines()) if "yolov99" in t)
    assert proc.returncode == 2
    assert f"{path}:{line}: detector.model: unknown model 'yolov99'" in proc.stderr, proc.stderr
    assert "nanodet-coco-int8" in proc.stderr  # says what the manifest has


# ---------------------------------------------------------------- 3. polygons


@pytest.mark.parametrize("where", ["zones", "exclude"])
@pytest.mark.parametrize(
    ("polygon", "words"),
    [
        ([[0, 0], [100, 100], [100, 0], [0, 100]], "polygon crosses itself: edge 0-1 meets edge 2-3"),  # bow-tie
        ([[0, 0], [200, 0], [200, 100], [100, 100], [100, -0.0], [100, 50]], "crosses itself"),  # touches an edge
        ([[0, 0], [200, 0], [200, 100], [100, 100], [150, -10]], "out of range"),  # negative: refused earlier
        ([[10, 10], [200, 10], [200, 100], [100, 100], [100, 5], [50, 50]], "polygon crosses itself"),  # area > 0
        ([[0, 0], [10, 10], [20, 20]], "all its points are on one line"),
        ([[0, 0], [10, 0], [10, 0], [0, 10]], "corners 1 and 2 are the same point"),
    ],
)
def test_polygons_must_be_simple(where, polygon, words):
    item = {"name": "z", "polygon": polygon} if where == "zones" else {"polygon": polygon}
    msg = refusal(config(cameras=[camera(**{where: [item]})]))
    if words == "out of range":
        assert "outside 0-16384" in msg
        return
    assert f"cameras.0.{where}.0: " in msg and words in msg, msg
    if "crosses" in words:
        assert "one line" not in msg and "list the corners in order" in msg


def test_a_self_crossing_polygon_with_area_was_the_hole():
    """The shoelace area of this crossing polygon is not zero, which is why the old area check let it through."""
    poly = [[10, 10], [200, 10], [200, 100], [100, 100], [100, 5], [50, 50]]
    area = 0.5 * abs(sum(poly[i][0] * poly[i - 1][1] - poly[i - 1][0] * poly[i][1] for i in range(len(poly))))
    assert area > 1000
    assert "crosses itself" in refusal(config(cameras=[camera(zones=[{"name": "z", "polygon": poly}])]))


def test_simple_polygons_still_pass():
    concave = [[0, 0], [100, 0], [100, 100], [50, 40], [0, 100]]
    parse_config(yaml.safe_dump(config(cameras=[camera(zones=[{"name": "z", "polygon": concave}])])))


# ---------------------------------------------------------------- 4. exposure without auth

HASH = "pbkdf2_sha256$600000$c2FsdHNhbHRzYWx0c2FsdA==$" + "A" * 43 + "="


@pytest.mark.parametrize(
    ("http", "ok"),
    [
        ({"host": "0.0.0.0"}, False),
        ({"host": "::"}, False),
        ({"host": "192.168.1.20"}, False),
        ({"host": "0.0.0.0", "allow_unauthenticated": True}, True),
        ({"host": "0.0.0.0", "auth": {"users": [{"name": "staff", "password_hash": HASH}]}}, True),
        ({"host": "127.0.0.2"}, True),
        ({"host": "localhost"}, True),
    ],
)
def test_non_loopback_host_needs_auth_or_explicit_escape(http, ok):
    data = config(http=http)
    if ok:
        parse_config(yaml.safe_dump(data))
        return
    msg = refusal(data)
    assert msg.startswith("site.yaml:") and " http.host: " in msg
    assert "http.auth is required" in msg and "http.allow_unauthenticated: true" in msg


# ---------------------------------------------------------------- 5. plain passwords


def test_plain_password_key_says_use_hash_password():
    user = {"name": "staff", "password": "hunter2-secret"}
    msg = refusal(config(http={"auth": {"users": [user]}}))
    assert "http.auth.users.0.password: " in msg and "edgeanon hash-password" in msg, msg
    assert "Extra inputs" not in msg and "hunter2" not in msg


# ---------------------------------------------------------------- 6. bad options, truncated JPEG


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["run", "--duration", "-5"], "argument --duration: must be above 0, not -5"),
        (["run", "--duration", "0"], "argument --duration: must be above 0"),
        (["detect", "--score", "2"], "argument --score: must be above 0 and below 1, not 2"),
        (["detect", "--every", "0"], "argument --every: must be at least 1, not 0"),
        (["detect", "--iou", "nan"], "argument --iou: 'nan' is not a finite number"),
        (["detect", "--max-frames", "-1"], "argument --max-frames: must be at least 1"),
        (["run", "--port", "70000"], "argument --port: must be at least 0 and at most 65535"),
    ],
)
def test_bad_options_exit_2_with_one_line(args, words):
    proc = cli(*args)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("edgeanon: error: "), proc.stderr
    assert words in proc.stderr and proc.stdout == ""


def test_truncated_jpeg_is_an_error_not_zero_people(tmp_path):
    whole = (STILLS / "messi5.jpg").read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole[: len(whole) // 2])
    proc = cli("detect", str(cut))
    assert proc.returncode == 2 and "truncated JPEG" in proc.stderr and "people=" not in proc.stdout, proc
    ok = cli("detect", str(STILLS / "messi5.jpg"))  # the whole file still reads
    assert ok.returncode == 0 and "people=" in ok.stdout, ok.stderr


# ---------------------------------------------------------------- smaller points


def test_audit_verify_missing_or_unreadable_exits_2_tampered_exits_1(tmp_path):
    proc = cli("audit", "verify", "--file", str(tmp_path / "nope.jsonl"))
    assert proc.returncode == 2 and "no audit log" in proc.stderr
    proc = cli("audit", "verify", "--file", str(tmp_path))
    assert proc.returncode == 2 and "not a file" in proc.stderr
    from edgeanon.guidebook.audit.writer import AuditLog

    log = tmp_path / "audit.jsonl"
    with AuditLog(log, retention_days=10) as audit:
        audit.record("start", version="x")
        audit.record("stop", reason="test")
    assert cli("audit", "verify", "--file", str(log)).returncode == 0
    lines = log.read_text().splitlines()
    rec = json.loads(lines[0])
    rec["event"] = "edited"
    log.write_text("\n".join([json.dumps(rec), *lines[1:]]) + "\n")
    assert cli("audit", "verify", "--file", str(log)).returncode == 1  # tampered stays 1
    if hasattr(__import__("os"), "geteuid") and __import__("os").geteuid() != 0:  # root reads any file
        log.chmod(0)
        proc = cli("audit", "verify", "--file", str(log))
        assert proc.returncode == 2 and "cannot read" in proc.stderr


@pytest.mark.parametrize(("password", "warned"), [("ab", True), ("1234567", True), ("12345678", False)])
def test_hash_password_warns_on_short_passwords(password, warned):
    proc = cli("hash-password", "--iterations", "100000", stdin=password + "\n")
    assert proc.returncode == 0 and proc.stdout.startswith("pbkdf2_sha256$100000$")
    assert ("warning: the password has only" in proc.stderr) is warned, proc.stderr
    if warned:
        assert f"only {len(password)} characters; use at least 8" in proc.stderr


def test_models_lists_sources_and_licences_without_verbose():
    from edgeanon.pixels.detector.manifest import load_manifest

    proc = cli("models")
    assert proc.returncode == 0, proc.stderr
    manifest, _ = load_manifest()
    for entry in manifest.models.values():
        assert f"source: {entry.source}" in proc.stdout
        for lic in entry.licences:
            assert f"licence: {lic.spdx}" in proc.stdout


JA = "入口の通過人数を時間帯ごとに数え、レジの応援人員の配置を決めるため"
EN = "Count people passing the entrance per hour, to decide how many staff to put on the tills."


def test_justification_per_language_reaches_each_notice():
    data = config()
    data["purposes"][1]["justification"] = {"ja": JA, "en": EN}
    cfg = parse_config(yaml.safe_dump(data, allow_unicode=True))
    ja, en = render_notice(cfg, "ja", "txt"), render_notice(cfg, "en", "txt")
    assert JA[:12] in ja and "tills" not in ja
    assert "tills" in en and JA[:12] not in en
    plain = BASE["purposes"][0]["justification"]  # the plain string form still serves both
    assert plain.split()[0] in ja and plain.split()[0] in en


def test_justification_mapping_needs_both_languages_and_assess_checks_each():
    from edgeanon.guidebook.assess.checklist import assess

    data = config()
    data["purposes"][1]["justification"] = {"ja": JA}
    assert "purposes.1.justification" in refusal(data)
    data["purposes"][1]["justification"] = {"ja": "分析のため", "en": EN}  # vague in Japanese only
    items = {i.id: i for i in assess(parse_config(yaml.safe_dump(data, allow_unicode=True)))}
    assert items["planning.justification.flow"].status == "warn"


def test_notice_html_links_the_other_language():
    cfg = parse_config(yaml.safe_dump(config()))
    ja = render_notice(cfg, "ja", "html", other_lang_href="?lang={lang}")
    en = render_notice(cfg, "en", "html", other_lang_href="?lang={lang}")
    assert '<a href="?lang=en" hreflang="en" lang="en">English</a>' in ja
    assert '<a href="?lang=ja" hreflang="ja" lang="ja">日本語</a>' in en
    assert "hreflang" not in render_notice(cfg, "ja", "html")  # a file published elsewhere has no such page


def test_detect_uses_the_demo_configs_model():
    proc = cli("detect", str(CLIP), "--max-frames", "1")
    assert proc.returncode == 0, proc.stderr
    demo = parse_config(DEFAULT_CONFIG.read_text())
    from edgeanon.pixels.detector.manifest import load_manifest

    default = load_manifest()[0].default
    assert demo.detector.model in (None, default)  # the demo names no other model than the one default
    assert f"with {default} on" in proc.stderr, proc.stderr


# ---------------------------------------------------------------- a real run: first-frame geometry, exposure, notice


def _get(url: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_run_first_frame_geometry_marks_camera_not_ready(tmp_path):
    """A line outside the frame passes the schema (no frame size there) but the first frame catches it: an
    error in the log and /readyz 503 naming the camera. The same run binds all interfaces with the explicit
    escape, and its warning names the port actually bound (port 0 here), not the configured one."""
    import os
    import re
    import time

    far = {"name": "crossing", "a": [5000, 6000], "b": [5100, 6100]}
    data = config(
        cameras=[camera(lines=[far])],
        storage={"directory": str(tmp_path / "data")},
        http={"host": "0.0.0.0", "port": 9108, "allow_unauthenticated": True},
    )
    path = write(tmp_path, data)
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgeanon", "run", str(path), "--port", "0", "--quiet", "--duration", "120"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        cwd=tmp_path,
    )
    err: list[str] = []
    try:
        deadline = time.monotonic() + 120
        port = None
        assert proc.stderr is not None
        while time.monotonic() < deadline and port is None:
            line = proc.stderr.readline()
            err.append(line)
            m = re.search(r"serving http://0\.0\.0\.0:(\d+)/metrics", line)
            port = int(m.group(1)) if m else None
            assert line or proc.poll() is None, "".join(err)
        assert port is not None and port != 9108, "".join(err)
        warning = next(t for t in err if "http.auth is not configured" in t)
        assert f"port {port} " in warning  # the bound port, not 9108
        while time.monotonic() < deadline:  # the first frame arrives within seconds
            line = proc.stderr.readline()
            err.append(line)
            if "lies outside the 768x576 frame" in line:
                break
        assert "camera sample: line 'crossing': a [5000, 6000] lies outside the 768x576 frame" in err[-1]
        status, body = _get(f"http://127.0.0.1:{port}/readyz")
        ready = json.loads(body)
        assert status == 503 and ready["misplaced"] == ["sample"] and not ready["stale"], ready
        assert ready["cameras"]["sample"]["geometry_problems"] == 1
        assert "5000" not in body  # /readyz may be open: it gives the count, the log and /setup the detail
        status, ja = _get(f"http://127.0.0.1:{port}/notice")
        assert status == 200 and 'href="?lang=en"' in ja
        status, en = _get(f"http://127.0.0.1:{port}/notice?lang=en")
        assert status == 200 and 'href="?lang=ja"' in en
    finally:
        proc.terminate()
        proc.communicate(timeout=60)


def test_run_with_fitting_geometry_is_ready(tmp_path):
    import os
    import re
    import time

    data = config(storage={"directory": str(tmp_path / "data")})
    path = write(tmp_path, data)
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgeanon", "run", str(path), "--port", "0", "--quiet", "--duration", "120"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        cwd=tmp_path,
    )
    try:
        assert proc.stderr is not None
        port = None
        deadline = time.monotonic() + 120
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            m = re.search(r"serving http://127\.0\.0\.1:(\d+)/metrics", line)
            port = int(m.group(1)) if m else None
            assert line or proc.poll() is None
        while time.monotonic() < deadline:
            status, body = _get(f"http://127.0.0.1:{port}/readyz")
            if status == 200:
                break
            time.sleep(0.5)
        ready = json.loads(body)
        assert status == 200 and ready["misplaced"] == [] and ready["cameras"]["sample"]["geometry_problems"] == 0
    finally:
        proc.terminate()
        proc.communicate(timeout=60)


# ---------------------------------------------------------------- input size (issue 15)


def _line_of(path: Path, text: str) -> int:
    return next(i + 1 for i, t in enumerate(path.read_text().splitlines()) if text in t)


def test_an_input_that_is_not_a_size_is_refused_with_its_line():
    msg = refusal(config(cameras=[camera(input="416-320")]))
    assert "site.yaml:" in msg and "cameras.0.input: '416-320' is neither 'auto' nor a size like '416x320'" in msg
    msg = refusal(config(detector={"input": "0x320"}))
    assert "detector.input: '0x320' is neither" in msg
    cfg = parse_config(yaml.safe_dump(config(detector={"input": "416X320"}, cameras=[camera(input="Auto")])))
    assert cfg.detector.input == "416x320" and cfg.cameras[0].input == "auto"
    assert parse_config(yaml.safe_dump(config())).detector.input == "auto"


def test_an_input_the_model_refuses_fails_check_config_with_file_line_and_field(tmp_path):
    """Only the model knows its multiple, so this is a start-up check; it still names file, line and field."""
    from edgeanon.run.check import check_inputs

    path = write(tmp_path, config(detector={"input": "400x320"}, cameras=[camera(input="416x300")]))
    with pytest.raises(ConfigError) as info:
        check_inputs(path, parse_config(path.read_text(), str(path)))
    msg = str(info.value)
    assert f"{path}:{_line_of(path, '400x320')}: detector.input: 400x320: both sides must be multiples of 32" in msg
    assert f"{path}:{_line_of(path, '416x300')}: cameras.0.input: 416x300: both sides must be multiples of 32" in msg


def test_run_refuses_an_input_the_model_refuses_before_it_starts(tmp_path):
    path = write(tmp_path, config(cameras=[camera(input="416x300")]))
    proc = cli("run", str(path), "--duration", "1")
    assert proc.returncode == 2
    assert f"{path}:{_line_of(path, '416x300')}: cameras.0.input: 416x300: both sides must be multiples" in proc.stderr
