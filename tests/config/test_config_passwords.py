"""Passwords from a file or an environment variable (camera, push, MQTT), the `mqtt:` section's validation, and
redaction of every password however it is given."""

from __future__ import annotations

import logging

import pytest
import yaml

from edgeanon import logs
from edgeanon.config.errors import ConfigError
from edgeanon.config.loader import parse_config
from edgeanon.run.service import config_secrets
from tests.helpers.paths import DEFAULT_CONFIG

SECRET = "Xq9-file-Secret-77"


def config(**sections) -> str:
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data.update(sections)
    return yaml.safe_dump(data, sort_keys=False)


def url_camera(**source) -> list[dict]:
    cam = yaml.safe_load(DEFAULT_CONFIG.read_text())["cameras"][0]
    cam["source"] = {"kind": "url", "url": "rtsp://192.0.2.10/s1", "username": "cam", **source}
    return [cam]


def test_password_file_and_env_are_read_for_camera_push_and_mqtt(tmp_path, monkeypatch):
    pw = tmp_path / "pw"
    pw.write_text(SECRET + "\nignored second line\n")
    monkeypatch.setenv("EDGEANON_TEST_PUSH_PW", "push-" + SECRET)
    cfg = parse_config(
        config(
            cameras=url_camera(password_file=str(pw)),
            push={
                "url": "https://pushgw.example.net",
                "store": "s",
                "device": "d",
                "username": "u",
                "password_env": "EDGEANON_TEST_PUSH_PW",
            },
            mqtt={"host": "127.0.0.1", "site": "s", "username": "u", "password_file": str(pw)},
        )
    )
    assert SECRET not in repr(cfg)  # only the file's name is in the config
    assert cfg.cameras[0].source.open_url() == f"rtsp://cam:{SECRET}@192.0.2.10/s1"
    assert cfg.push.read_password("push") == "push-" + SECRET
    assert cfg.mqtt.read_password("mqtt") == SECRET
    assert {SECRET, "push-" + SECRET} <= set(config_secrets(cfg))


def test_inline_passwords_still_work():
    cfg = parse_config(config(cameras=url_camera(password=SECRET)))
    assert cfg.cameras[0].source.open_url().endswith(f":{SECRET}@192.0.2.10/s1")
    assert SECRET in config_secrets(cfg)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"password_file": "/nonexistent/pw"}, "cameras.0.source.password_file: cannot read /nonexistent/pw"),
        ({"password_env": "EDGEANON_TEST_UNSET_PW"}, "cameras.0.source.password_env: environment variable"),
    ],
)
def test_unreadable_password_is_a_clear_start_up_error(source, message, monkeypatch):
    monkeypatch.delenv("EDGEANON_TEST_UNSET_PW", raising=False)
    cfg = parse_config(config(cameras=url_camera(**source)))
    with pytest.raises(ConfigError, match=message):
        config_secrets(cfg)


def test_empty_password_file_is_refused(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("\n")
    cfg = parse_config(config(mqtt={"host": "h", "site": "s", "username": "u", "password_file": str(pw)}))
    with pytest.raises(ConfigError, match=r"mqtt.password_file: .* is empty"):
        config_secrets(cfg)


@pytest.mark.parametrize(
    ("mqtt", "error"),
    [
        ({"host": "h", "site": "s", "password_env": "X"}, "mqtt.username: a password needs a username"),
        ({"host": "h", "site": "s", "username": "u", "password_env": "X", "password_file": "f"}, "give only one"),
        ({"host": "h", "site": "Bad Site"}, "mqtt.site: String should match pattern"),
        ({"host": "h", "site": "s", "topic_prefix": "a/+/b"}, "mqtt.topic_prefix: must be topic levels"),
        ({"host": "h", "site": "s", "topic_prefix": "/a"}, "mqtt.topic_prefix: must be topic levels"),
        ({"host": "h", "site": "s", "password": "inline"}, "mqtt.password: Extra inputs are not permitted"),
        ({"host": "h", "site": "s", "port": 0}, "mqtt.port: Input should be greater than or equal to 1"),
        ({"site": "s"}, "mqtt.host: Field required"),
    ],
)
def test_mqtt_section_errors_have_file_and_line(mqtt, error):
    text = config(mqtt=mqtt)
    with pytest.raises(ConfigError) as exc:
        parse_config(text, "site.yaml")
    line = next(ln for ln in str(exc.value).splitlines() if error in ln)
    field = line.split(": ")[1].split(".")[-1]  # the field the message names, e.g. username
    lines = text.splitlines()
    start = lines.index("mqtt:")
    where = next((i for i in range(start, len(lines)) if lines[i].strip().startswith(f"{field}:")), start)
    assert line.startswith(f"site.yaml:{where + 1}: "), (line, where + 1)


def test_file_password_is_redacted_from_logs(tmp_path, caplog):
    pw = tmp_path / "pw"
    pw.write_text(SECRET + "\n")
    cfg = parse_config(config(mqtt={"host": "h", "site": "s", "username": "u", "password_file": str(pw)}))
    logs.add_secrets(config_secrets(cfg))
    try:
        records = []
        handler = logging.Handler()
        handler.emit = records.append
        handler.addFilter(logs.REDACTOR)
        log = logging.getLogger("edgeanon.test-redaction")
        log.addHandler(handler)
        log.warning("broker said %s", f"bad password {SECRET}")
        log.removeHandler(handler)
        assert records and SECRET not in records[0].getMessage()
    finally:
        logs.REDACTOR.clear()
