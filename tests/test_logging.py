"""Logs never carry credentials, frames or boxes; ``--log-format json`` gives one JSON object per stderr line."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import yaml

from edgeanon.config.sources import UrlSource
from edgeanon.logs import MASK, JsonFormatter, Redactor
from edgeanon.web.server import hash_password
from tests.helpers.paths import DEFAULT_CONFIG

STREAM_PW = "Str3am-Secret:pw/1"  # ':' and '/' are URL-encoded in the capture URL
WEB_PW = "web-Pa55word-x9"
WEB_HASH = hash_password(WEB_PW, 100_000)
RUN = (sys.executable, "-m", "edgeanon", "run")


def capture_logger(fmt: logging.Formatter, redactor: Redactor) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(redactor)
    handler.setFormatter(fmt)
    logger = logging.getLogger(f"edgeanon.test.{id(out)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, out


def test_redactor_masks_credentials_everywhere():
    r = Redactor()
    r.add_secrets([STREAM_PW, WEB_HASH])
    src = UrlSource(kind="url", url="rtsp://10.0.0.5:554/live", username="installer", password=STREAM_PW)
    logger, out = capture_logger(JsonFormatter(), r)
    logger.warning("opening %s", src.open_url())  # the URL with credentials, URL-encoded
    logger.info("plain %s and hash %s", STREAM_PW, WEB_HASH, extra={"camera": "door", "detail": STREAM_PW})
    logger.info("a url http://user:pa55@host/x and https://host/no-credentials")
    try:
        raise RuntimeError(f"failed with {STREAM_PW}")
    except RuntimeError:
        logger.exception("boom")
    text = out.getvalue()
    for secret in (STREAM_PW, quote(STREAM_PW, safe=""), WEB_HASH, "pa55"):
        assert secret not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert records[0]["message"] == f"opening rtsp://installer:{MASK}@10.0.0.5:554/live"
    assert records[1]["camera"] == "door" and records[1]["detail"] == MASK
    assert "https://host/no-credentials" in records[2]["message"]
    assert records[3]["level"] == "ERROR" and "RuntimeError: failed with ***" in records[3]["exc"]
    assert {"ts", "level", "logger", "message"} <= set(records[0])


def test_arrays_are_never_formatted():
    logger, out = capture_logger(logging.Formatter("%(message)s"), Redactor())
    boxes = np.array([[12.5, 30.25, 60.0, 140.0]], np.float32)
    logger.info("boxes %s frame %r", boxes, np.zeros((4, 4, 3), np.uint8), extra={"boxes": boxes})
    line = out.getvalue()
    assert "12.5" not in line and "30.25" not in line
    assert "<array (1, 4) float32: not logged>" in line and "<array (4, 4, 3) uint8: not logged>" in line


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nobody listens once it is closed: the camera stays down


def installer_until_in_an_hour() -> str:
    tz = ZoneInfo(yaml.safe_load(DEFAULT_CONFIG.read_text())["aggregation"]["timezone"])
    return (datetime.now(tz) + timedelta(hours=1)).replace(tzinfo=None).isoformat(timespec="seconds")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize("fmt", ["json", "plain"])
def test_a_real_run_logs_no_credentials(tmp_path, fmt):
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["cameras"].append(
        {
            "id": "door",
            "source": {
                "kind": "url",
                "url": f"rtsp://127.0.0.1:{closed_port()}/live",
                "username": "installer",
                "password": STREAM_PW,
            },
            "open_timeout_s": 1,
            "read_timeout_s": 1,
            "reconnect_max_s": 1,
        }
    )
    data["http"]["auth"] = {"users": [{"name": "staff", "password_hash": WEB_HASH}]}
    data["http"]["setup_until"] = installer_until_in_an_hour()  # /setup is off (404) without installer mode
    config = tmp_path / "site.yaml"
    config.write_text(yaml.safe_dump(data))
    config.chmod(0o600)
    proc = subprocess.Popen(
        [*RUN, str(config), "--port", "0", "--duration", "5", "-vv", "--log-format", fmt],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stderr is not None
    head = []
    port = None
    deadline = time.monotonic() + 60
    while port is None and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        head.append(line)
        m = re.search(r"serving http://127\.0\.0\.1:(\d+)/metrics", line)
        port = int(m.group(1)) if m else None
    assert port is not None, "".join(head)
    base = f"http://127.0.0.1:{port}"
    codes = {}
    for name, header in (("right", basic("staff", WEB_PW)), ("wrong", basic("staff", STREAM_PW)),
                         ("user", basic(WEB_PW, WEB_PW))):  # fmt: skip
        for path in ("/metrics", "/", "/setup"):
            req = urllib.request.Request(base + path, headers={"Authorization": header})
            try:
                codes[(name, path)] = urllib.request.urlopen(req, timeout=10).status
            except urllib.error.HTTPError as exc:
                codes[(name, path)] = exc.code
    out, err = proc.communicate(timeout=60)
    err = "".join(head) + err
    assert proc.returncode == 0, err[-3000:]
    assert {c for (who, _), c in codes.items() if who == "right"} == {200}
    # six failed logins from one address: the first five get 401, then the login limiter answers 429 (web/guard.py)
    assert [c for (who, _), c in codes.items() if who != "right"] == [401] * 5 + [429]
    assert "camera door: down" in err  # the unreachable camera was logged, by name
    logged = out + err
    digest = WEB_HASH.rsplit("$", 1)[1]
    for secret in (STREAM_PW, quote(STREAM_PW, safe=""), quote(STREAM_PW), WEB_PW, WEB_HASH, digest,
                   basic("staff", WEB_PW)[6:], basic("staff", STREAM_PW)[6:]):  # fmt: skip
        assert secret not in logged, f"a secret reached the log: {secret[:4]}…"
    if fmt == "json":
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) >= 5
        for line in lines:
            record = json.loads(line)  # every stderr line, native library messages included
            assert {"ts", "level", "logger", "message"} <= set(record), line
        messages = [json.loads(line)["message"] for line in lines]
        assert any(m.startswith("serving http://127.0.0.1:") for m in messages)
        assert messages[-1] == "stopped, current bucket flushed"
