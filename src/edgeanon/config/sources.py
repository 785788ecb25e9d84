"""Where a camera's frames come from: a local device, a video file, or a network stream whose credentials stay
out of its URL (they would be logged and shown as the last error)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator

from edgeanon.config.base import StrictModel
from edgeanon.config.credentials import PasswordRefs


class DeviceSource(StrictModel):
    kind: Literal["device"] = Field(description="A local camera by index, e.g. /dev/video0 is 0.")
    index: int = Field(ge=0, le=63, description="Camera device index.")


class FileSource(StrictModel):
    kind: Literal["file"] = Field(description="A video file, for demos, tests and benchmarks.")
    path: str | None = Field(None, description="Video file path; empty means the bundled sample clip.")
    realtime: bool = Field(True, description="Play at the file's native frame rate (false: as fast as possible).")
    loop: bool = Field(False, description="Start again at the end instead of stopping the camera.")


QUERY_CREDENTIALS = frozenset(
    {
        "user", "username", "usr", "login", "password", "passwd", "pwd", "pass", "pw", "token", "access_token",
        "auth", "authorization", "apikey", "api_key", "key", "secret", "session", "sessionid", "sid",
    }
)  # fmt: skip
"""Query parameters that carry credentials in camera URLs (?user=admin&password=..., ?token=...)."""


class UrlSource(PasswordRefs):
    kind: Literal["url"] = Field(description="A network stream: rtsp://, rtsps://, http:// or https://.")
    url: str = Field(description="Stream URL without credentials; put them in username/password.")
    username: str | None = Field(None, description="Stream user name, if the camera needs one.")
    password: SecretStr | None = Field(
        None, description="Stream password, inline; prefer password_file or password_env. Never logged or exported."
    )

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        m = re.match(r"^(rtsps?|https?)://[^/\s@]+", v)
        if not m:
            raise ValueError("must start with rtsp://, rtsps://, http:// or https:// followed by a host")
        if "@" in v.split("://", 1)[1].split("/", 1)[0]:
            raise ValueError("put credentials in username/password, not in the URL (they would be logged)")
        from urllib.parse import parse_qsl, urlsplit

        for name, _ in parse_qsl(urlsplit(v).query, keep_blank_values=True):  # the value is never echoed
            if name.lower().replace("-", "_") in QUERY_CREDENTIALS:
                raise ValueError(
                    f"credentials in the URL's query string ({name}=) would be logged and shown as the last error; "
                    "put them in username/password"
                )
        return v

    def open_url(self) -> str:
        """The URL with credentials, for the capture backend only. Never log this."""
        if self.username is None:
            return self.url
        from urllib.parse import quote

        scheme, rest = self.url.split("://", 1)
        secret = self.read_password("source")
        pw = "" if secret is None else ":" + quote(secret, safe="")
        return f"{scheme}://{quote(self.username, safe='')}{pw}@{rest}"


Source = Annotated[DeviceSource | FileSource | UrlSource, Field(discriminator="kind")]
