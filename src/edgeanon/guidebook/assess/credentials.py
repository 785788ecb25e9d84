"""管理時 (management), credentials: stream passwords in the config file kept private and strong, and no password
sent in clear text beyond loopback."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import urlsplit

from edgeanon.config.names import is_loopback
from edgeanon.config.schema import Config
from edgeanon.guidebook.assess.item import Item

_WEAK_PASSWORDS = frozenset(
    [
        "change-me",
        "changeme",
        "change_me",
        "password",
        "passw0rd",
        "admin",
        "root",
        "secret",
        "default",
        "pass",
        "1234",
        "12345",
        "123456",
        "12345678",
        "camera",
        "test",
    ]
)


def check_cleartext_passwords(cfg: Config) -> Item:
    """One policy for every password edgeanon sends: never in clear text to a host beyond loopback. HTTP basic
    auth without TLS, MQTT without TLS and a push URL over http all send it readable by anyone on the path."""
    title = "No password sent in clear text over the network"
    failed: list[str] = []
    sent = 0
    for cam in cfg.cameras:
        src = cam.source
        if not getattr(src, "has_password", False):
            continue
        sent += 1
        parts = urlsplit(src.url)
        if is_loopback(parts.hostname or ""):
            continue
        if parts.scheme == "http":  # (RTSP cameras normally use digest authentication, which sends no password)
            failed.append(f"camera {cam.id} sends its password over http:// (basic auth without TLS); use https://")
    push = cfg.push
    if push is not None and push.has_password:
        sent += 1
        parts = urlsplit(push.url)
        if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
            failed.append(f"push.url {push.url} sends the basic-auth password over http://; use https://")
    mqtt = getattr(cfg, "mqtt", None)
    if mqtt is not None and mqtt.has_password:
        sent += 1
        if mqtt.tls is None and not is_loopback(mqtt.host):
            failed.append(f"mqtt sends its password to {mqtt.host} without TLS; configure mqtt.tls")
    if failed:
        return Item("management", "management.cleartext-passwords", title, "fail", "; ".join(failed) + ".")
    reason = (
        f"{sent} password(s) configured; each goes over TLS or stays on loopback."
        if sent
        else "no camera, push or MQTT password configured."
    )
    return Item("management", "management.cleartext-passwords", title, "pass", reason)


def check_credentials(cfg: Config, path: str | Path | None) -> Item:
    title = "Camera credentials in the config file"
    with_creds = []
    weak = []
    for cam in cfg.cameras:
        user = getattr(cam.source, "username", None)
        pw = getattr(cam.source, "password", None)
        if user or pw is not None:
            with_creds.append(cam.id)
        if pw is not None:
            secret = pw.get_secret_value() if hasattr(pw, "get_secret_value") else str(pw)
            if secret.strip().lower() in _WEAK_PASSWORDS or len(secret) < 8:
                weak.append(cam.id)
    if not with_creds:
        return Item("management", "management.credentials", title, "pass", "no stream credentials in the config.")
    problems = []
    if weak:
        problems.append(
            f"camera(s) {', '.join(weak)} use a placeholder or short password: set a strong, per-camera password on "
            "the camera and here"
        )
    if path is not None:
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except OSError as exc:
            problems.append(f"cannot check the permissions of {path}: {exc.strerror}")
        else:
            if mode & 0o077:
                problems.append(
                    f"{path} is mode {mode:04o}: other users on the device can read the stream passwords; "
                    f"chmod 600 {path} (owned by the service user)"
                )
    else:
        problems.append(
            "the config file holds stream passwords: restrict it to the service user (chmod 600, chown to the "
            "account that runs edgeanon) and keep it out of version control"
        )
    where = f"camera(s) {', '.join(with_creds)} carry credentials"
    if problems:
        return Item("management", "management.credentials", title, "warn", f"{where}; " + "; ".join(problems) + ".")
    return Item(
        "management",
        "management.credentials",
        title,
        "pass",
        f"{where}; {path} is readable only by its owner.",
    )
