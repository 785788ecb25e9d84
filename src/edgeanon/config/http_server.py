"""The HTTP server's settings: where it listens, who may read the pages and /metrics (basic auth with PBKDF2
hashes, TLS), readiness, and the time-limited installer mode."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator

from edgeanon.config.base import StrictModel, unique_names
from edgeanon.config.errors import at_field
from edgeanon.config.names import PBKDF2_MIN_ITERATIONS, is_loopback

SETUP_MAX_AHEAD_S = 24 * 3600  # http.setup_until: installer mode lasts at most a day from loading the config
_PBKDF2_HASH = re.compile(r"^pbkdf2_sha256\$([0-9]{1,10})\$([A-Za-z0-9+/=]{16,})\$([A-Za-z0-9+/=]{43,44})$")


class HttpUser(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$", description="User name for HTTP basic auth.")
    password_hash: SecretStr = Field(
        description="PBKDF2-SHA256 hash printed by `edgeanon hash-password`: "
        "pbkdf2_sha256$<iterations>$<salt base64>$<hash base64>. Never a plain password; never logged."
    )

    @model_validator(mode="before")
    @classmethod
    def _no_plain_password(cls, data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:  # never echo the value: it is a plain password
            raise ValueError(
                at_field(
                    ("password",),
                    "a plain password does not belong in the config: run `edgeanon hash-password` and put what it "
                    "prints in password_hash",
                )
            )
        return data

    @field_validator("password_hash")
    @classmethod
    def _hash(cls, v: SecretStr) -> SecretStr:
        m = _PBKDF2_HASH.match(v.get_secret_value())
        if not m:  # the message must not echo the value: it may be a plain password pasted by mistake
            raise ValueError(
                "must be a hash from `edgeanon hash-password` (pbkdf2_sha256$<iterations>$<salt>$<hash>), "
                "not a plain password"
            )
        if int(m.group(1)) < PBKDF2_MIN_ITERATIONS:
            raise ValueError(f"has {int(m.group(1))} iterations; use at least {PBKDF2_MIN_ITERATIONS}")
        return v


class HttpAuth(StrictModel):
    users: list[HttpUser] = Field(
        min_length=1, max_length=32, description="Who may open the pages and /metrics (HTTP basic auth)."
    )
    protect_healthz: bool = Field(
        False,
        description="Also require credentials for /healthz and /readyz. Off by default so Docker's HEALTHCHECK and "
        "probes need no password; those endpoints show only camera states, never counts. /notice is always open.",
    )

    @model_validator(mode="after")
    def _unique(self) -> HttpAuth:
        unique_names("users", [u.name for u in self.users], ("users",))
        return self


class HttpTls(StrictModel):
    cert: str = Field(description="PEM certificate file (with any intermediate certificates after it).")
    key: str = Field(description="PEM private key file (unencrypted); readable only by the service user.")


class HttpConfig(StrictModel):
    host: str = Field("127.0.0.1", description="Bind address; loopback by default, so nothing is exposed.")
    port: int = Field(9108, ge=0, le=65535, description="Port for /metrics and the pages (0: pick a free one).")
    auth: HttpAuth | None = Field(
        None, description="HTTP basic auth for every page and /metrics; required when the host is not loopback."
    )
    allow_unauthenticated: bool = Field(
        False,
        description="Serve a non-loopback host without http.auth: only for a trusted network where every device "
        "that can reach the port may read the counts and the setup page.",
    )
    tls: HttpTls | None = Field(
        None, description="Serve HTTPS with this certificate and key (checked at start-up); empty: plain HTTP."
    )
    ready_stale_s: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="/readyz fails when a camera that should be running has delivered no frame for this long.",
    )
    setup_until: datetime | None = Field(
        None,
        description="Installer mode: /setup shows live person outlines until this time (local to "
        "aggregation.timezone unless it carries an offset), at most 24 h ahead when the config is loaded. Needs "
        "http.auth unless the host is loopback. Empty (the default), or once it has passed: /setup answers 404.",
    )

    @model_validator(mode="after")
    def _exposed_needs_auth(self) -> HttpConfig:
        if self.auth is None and not self.allow_unauthenticated and not is_loopback(self.host):
            raise ValueError(
                at_field(
                    ("host",),
                    f"{self.host!r} is reachable from the network, so http.auth is required (users from `edgeanon "
                    "hash-password`); on a trusted network set http.allow_unauthenticated: true instead",
                )
            )
        return self
