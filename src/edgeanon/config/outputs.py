"""Where the numbers go besides /metrics: the aggregate store and audit log on disk, a Prometheus Pushgateway,
an MQTT broker."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, SecretStr, field_validator, model_validator

from edgeanon.config.base import Name, StrictModel
from edgeanon.config.credentials import PasswordRefs, load_key
from edgeanon.config.errors import at_field
from edgeanon.config.names import check_url


class Storage(StrictModel):
    directory: str = Field("edgeanon-data", description="Directory for the aggregate store and the audit log.")
    store: str = Field("aggregates.db", description="SQLite file name (or absolute path) of the aggregate store.")
    audit_log: str = Field("audit.jsonl", description="File name (or absolute path) of the hash-chained audit log.")
    audit_hmac_key_file: str | None = Field(
        None,
        description="Key the audit log's hash chain with HMAC-SHA256 under the key in this file (at least 32 bytes, "
        "e.g. from `openssl rand -hex 32`). Make it readable by the service user but writable by nobody but root, "
        "and not readable by everyone: then whoever can write the log but not read the key cannot forge records.",
    )
    site: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="This site's identity, recorded in the aggregate store; `run` refuses a store recorded "
        "for another site. Empty: operator.name.",
    )
    allow_mixed_sites: bool = Field(
        False,
        description="Let this config write into a store recorded for another site (their rows then share one "
        "table with nothing to tell them apart).",
    )

    def store_path(self) -> Path:
        return Path(self.directory).expanduser() / self.store

    def audit_path(self) -> Path:
        return Path(self.directory).expanduser() / self.audit_log

    def audit_key(self) -> bytes | None:
        """The audit HMAC key, read and checked now (an ``AuditError`` names the problem), or None."""
        if self.audit_hmac_key_file is None:
            return None
        return load_key(self.audit_hmac_key_file)


class PushConfig(PasswordRefs):
    url: str = Field(
        description="Pushgateway base URL, http:// or https:// without credentials, e.g. http://pushgw.example.net:9091."
    )
    interval_s: float = Field(30.0, ge=5, le=3600, description="Seconds between pushes (in a background thread).")
    timeout_s: float = Field(3.0, gt=0, le=30, description="Give up on one push after this long.")
    store: Name = Field(description="Grouping-key label `store`: the store this box is in.")
    device: Name = Field(description="Grouping-key label `device`: this box, unique within the store.")
    job: Name = Field("edgeanon", description="Pushgateway job name; the shipped alert rules expect edgeanon.")
    username: str | None = Field(None, description="Basic-auth user, if the Pushgateway needs one.")
    password: SecretStr | None = Field(
        None, description="Basic-auth password, inline; prefer password_file or password_env. Never logged or exported."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_url(v)


_TOPIC_LEVELS = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


def _topic_prefix(v: str | None) -> str | None:
    if v is not None and not _TOPIC_LEVELS.match(v):
        raise ValueError("must be topic levels of A-Z, a-z, 0-9, '_', '.' or '-' separated by '/' (no wildcards)")
    return v


class MqttTls(StrictModel):
    ca_file: str = Field(
        description="PEM file of the CA that signed the broker's certificate; the broker's host name is verified."
    )


class MqttConfig(PasswordRefs):
    """Publish aggregates to an MQTT broker: closed buckets, live occupancy and in/out, availability and, opt-in,
    Home Assistant discovery. Nothing but aggregates is published (README: MQTT topics)."""

    host: str = Field(min_length=1, pattern=r"^[A-Za-z0-9.:_\[\]-]+$", description="Broker host name or address.")
    port: int | None = Field(None, ge=1, le=65535, description="Broker port; empty: 1883, or 8883 with tls.")
    site: Name = Field(description="Site name: in the default topic prefix, every message key and discovery id.")
    tls: MqttTls | None = Field(None, description="Connect with TLS, verifying the broker against ca_file.")
    username: str | None = Field(
        None, min_length=1, max_length=256, description="User name, if the broker needs one (then give a password)."
    )
    topic_prefix: Annotated[str | None, AfterValidator(_topic_prefix)] = Field(
        None, description="Prefix of every edgeanon topic; empty: edgeanon/<site>."
    )
    live: bool = Field(
        True,
        description="Publish live occupancy per camera and zone, in/out per line and site occupancy (retained, QoS 0), "
        "at most once a second per topic and only when the value changes.",
    )
    discovery: bool = Field(
        False,
        description="Publish Home Assistant MQTT discovery configs (retained) for zone occupancy, line in/out, site "
        "occupancy and camera up.",
    )
    discovery_prefix: Annotated[str, AfterValidator(_topic_prefix)] = Field(
        "homeassistant", description="Home Assistant's discovery prefix."
    )
    client_id: Name | None = Field(None, description="MQTT client id; empty: edgeanon-<site>. Unique per broker.")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keep-alive: a dead connection is noticed after 1.5x.")
    reconnect_max_s: int = Field(
        30, ge=1, le=600, description="Cap of the reconnect back-off (1 s, doubling) while the broker is down."
    )
    close_timeout_s: float = Field(
        5.0,
        gt=0,
        le=60,
        description="At shutdown, while connected, wait at most this long for waiting buckets to reach the broker "
        "(a broker that is away is not waited for: the buckets are counted as dropped).",
    )

    @model_validator(mode="after")
    def _credentials(self) -> MqttConfig:
        if self.has_password and self.username is None:
            raise ValueError(at_field(("username",), "a password needs a username"))
        return self
