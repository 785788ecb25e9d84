"""One policy for every password edgeanon sends: `edgeanon assess` fails any that would cross the network in clear
text (HTTP basic auth to a camera without TLS, MQTT without TLS, a push URL over http)."""

from __future__ import annotations

from typing import Any

import pytest

from edgeanon.guidebook.assess.checklist import assess
from edgeanon.guidebook.assess.report import exit_code
from tests.helpers.assessment import BASE, build, by_id

CHECK = "management.cleartext-passwords"


def url_camera(url: str, **creds: str) -> dict[str, Any]:
    return {"cameras": [{**BASE["cameras"][0], "source": {"kind": "url", "url": url, **creds}}]}


PUSH = {"url": "http://pushgw.example.net:9091", "store": "ebisu", "device": "box-1"}
MQTT = {"host": "broker.example.net", "site": "ebisu"}
BY_ENV = {"username": "u", "password_env": "P"}
HTTPS_PUSH = {"url": "https://pushgw.example.net"}
LOCAL_PUSH = {"url": "http://localhost:9091"}
TLS = {"tls": {"ca_file": "/ca.pem"}}
CASES = [
    ("no-passwords", {}, "pass"),
    ("http-camera-password", url_camera("http://192.0.2.10/video", username="cam", password="Tr0ub4dor&3xq"), "fail"),
    ("http-camera-password-file", url_camera("http://192.0.2.10/v", username="c", password_file="/run/pw"), "fail"),
    ("https-camera-password", url_camera("https://192.0.2.10/video", username="cam", password_env="CAM_PW"), "pass"),
    ("http-camera-loopback", url_camera("http://127.0.0.1:8554/v", username="cam", password_env="CAM_PW"), "pass"),
    ("http-camera-no-password", url_camera("http://192.0.2.10/video"), "pass"),
    ("rtsp-camera-digest", url_camera("rtsp://192.0.2.10/s1", username="cam", password="Tr0ub4dor&3xq"), "pass"),
    ("push-http-password", {"push": PUSH | {"username": "u", "password_file": "/run/pw"}}, "fail"),
    ("push-http-inline", {"push": PUSH | {"username": "u", "password": "Tr0ub4dor&3xq"}}, "fail"),
    (
        "push-https-password",
        {"push": PUSH | HTTPS_PUSH | BY_ENV},
        "pass",
    ),
    (
        "push-http-loopback",
        {"push": PUSH | LOCAL_PUSH | BY_ENV},
        "pass",
    ),
    ("push-http-no-password", {"push": PUSH}, "pass"),
    ("mqtt-no-tls-password", {"mqtt": MQTT | {"username": "u", "password_file": "/run/pw"}}, "fail"),
    (
        "mqtt-tls-password",
        {"mqtt": MQTT | BY_ENV | TLS},
        "pass",
    ),
    ("mqtt-loopback-password", {"mqtt": MQTT | BY_ENV | {"host": "127.0.0.1"}}, "pass"),
    ("mqtt-no-password", {"mqtt": MQTT}, "pass"),
]


@pytest.mark.parametrize(("over", "status"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_cleartext_password_policy(over, status):
    items = assess(build(over))
    item = by_id(items)[CHECK]
    assert item.status == status, item.reason
    if status == "fail":
        assert exit_code(items) == 1
        assert "TLS" in item.reason or "https://" in item.reason


def test_reason_never_holds_the_password():
    over = url_camera("http://192.0.2.10/video", username="cam", password="Tr0ub4dor&3xq")
    over["mqtt"] = MQTT | {"username": "u", "password_env": "MQTT_PW"}
    item = by_id(assess(build(over)))[CHECK]
    assert item.status == "fail" and "Tr0ub4dor" not in item.reason
    assert "camera door" in item.reason and "mqtt" in item.reason
