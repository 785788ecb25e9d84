"""Validated configuration: pydantic models (frozen, extra="forbid") loaded from YAML with file:line errors."""

from __future__ import annotations

import os
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from edgeanon.config.names import NAME_PATTERN, PBKDF2_MIN_ITERATIONS, is_loopback
from edgeanon.errors import EdgeanonError
from edgeanon.guidebook import policy

Name = Annotated[
    str,
    Field(pattern=NAME_PATTERN, description="Lower-case name (a-z, 0-9, _ and -, at most 32): used as a label value."),
]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Point = tuple[FiniteFloat, FiniteFloat]  # NaN would pass every range check below (all comparisons are False)


class ConfigError(EdgeanonError):
    """A config problem, already formatted as ``file:line: path: message``."""


def _at(path: tuple[str | int, ...], message: str) -> str:
    """A cross-field error message that carries the path of the field it is about (see ``parse_config``)."""
    return f"[@{'.'.join(map(str, path))}] {message}"


_AT = re.compile(r"^\[@([^\]]*)\] ")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- sources


class DeviceSource(_Model):
    kind: Literal["device"] = Field(description="A local camera by index, e.g. /dev/video0 is 0.")
    index: int = Field(ge=0, le=63, description="Camera device index.")


class FileSource(_Model):
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


class PasswordRefs(_Model):
    """Where a password comes from, besides an inline ``password``: a file or an environment variable, so the
    config file itself can hold no secret. At most one of the three; read when the service starts."""

    password_file: str | None = Field(
        None,
        min_length=1,
        description="File whose first line is the password (keep it readable only by the service user); "
        "never logged or exported.",
    )
    password_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$",
        description="Name of an environment variable that holds the password; never logged or exported.",
    )

    @model_validator(mode="after")
    def _one_password(self) -> PasswordRefs:
        given = [f for f in ("password", "password_file", "password_env") if getattr(self, f, None) is not None]
        if len(given) > 1:
            raise ValueError(_at((given[1],), f"give only one of {', '.join(given)}"))
        return self

    @property
    def has_password(self) -> bool:
        return any(getattr(self, f, None) is not None for f in ("password", "password_file", "password_env"))

    def read_password(self, where: str) -> str | None:
        """The password from wherever the config says, or None; ``where`` (e.g. ``mqtt``) names it in errors,
        which never contain the value."""
        inline = getattr(self, "password", None)
        if inline is not None:
            return inline.get_secret_value()
        if self.password_file is not None:
            path = Path(self.password_file).expanduser()
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or type(exc).__name__
                raise ConfigError(f"{where}.password_file: cannot read {path}: {reason}") from None
            first = text.splitlines()[0] if text.strip() else ""
            if not first:
                raise ConfigError(f"{where}.password_file: {path} is empty")
            return first
        if self.password_env is not None:
            value = os.environ.get(self.password_env, "")
            if not value:
                raise ConfigError(f"{where}.password_env: environment variable {self.password_env} is not set or empty")
            return value
        return None


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


# ---------------------------------------------------------------- geometry


class Zone(_Model):
    name: Name
    polygon: list[Point] = Field(min_length=3, max_length=64, description="Corner points [x, y], in order.")
    normalized: bool = Field(False, description="Points are 0-1 fractions of the frame width and height.")
    queue: bool = Field(False, description="Also estimate queue length and waiting time for this zone.")

    @model_validator(mode="after")
    def _check(self) -> Zone:
        _check_points(self.polygon, self.normalized)
        _check_polygon(self.polygon)
        return self


class Line(_Model):
    name: Name
    a: Point = Field(description="First point [x, y].")
    b: Point = Field(description="Second point [x, y].")
    normalized: bool = Field(False, description="Points are 0-1 fractions of the frame width and height.")
    in_side: Literal["left", "right"] = Field(
        "left", description="Which side of the directed line a->b is 'in', as seen on screen by a walker from a to b."
    )
    band: float = Field(
        0.01,
        ge=0,
        le=0.2,
        description="Hysteresis half-width as a fraction of the frame diagonal: a person must move this far past "
        "the line before a crossing counts, so jitter on the line never counts.",
    )

    @model_validator(mode="after")
    def _check(self) -> Line:
        _check_points([self.a, self.b], self.normalized)
        if self.a == self.b:
            raise ValueError("a and b are the same point")
        return self


class Exclude(_Model):
    polygon: list[Point] = Field(
        min_length=3, max_length=64, description="Detections whose feet fall here are ignored."
    )
    normalized: bool = Field(False, description="Points are 0-1 fractions of the frame width and height.")

    @model_validator(mode="after")
    def _check(self) -> Exclude:
        _check_points(self.polygon, self.normalized)
        _check_polygon(self.polygon)
        return self


def _cross(o: Point, a: Point, b: Point) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _segments_meet(p: Point, q: Point, r: Point, s: Point) -> bool:
    """Whether segments pq and rs share a point (crossing, touching or overlapping), in exact arithmetic on the
    given floats: orientation signs plus the collinear bounding-box cases."""
    d1, d2, d3, d4 = _cross(r, s, p), _cross(r, s, q), _cross(p, q, r), _cross(p, q, s)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True

    def on(a: Point, b: Point, c: Point, d: float) -> bool:  # c on segment ab, given c is collinear with it
        return d == 0 and min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])

    return on(r, s, p, d1) or on(r, s, q, d2) or on(p, q, r, d3) or on(p, q, s, d4)


def _check_polygon(points: list[Point]) -> None:
    """A zone or exclude polygon must be a simple polygon with an area.

    Counting decides "inside" by the even-odd rule, so a polygon whose edges cross (a bow-tie, corners listed
    out of order) silently leaves out the parts covered twice: refuse it, saying which edges cross."""
    n = len(points)
    for i in range(n):
        for j in range(i):
            if points[i] == points[j]:
                raise ValueError(f"corners {j} and {i} are the same point {list(points[i])}")
    if all(_cross(points[0], points[1], p) == 0 for p in points[2:]):
        raise ValueError("polygon has no area (all its points are on one line)")
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # adjacent through the closing edge
            if _segments_meet(points[i], points[(i + 1) % n], points[j], points[(j + 1) % n]):
                raise ValueError(
                    f"polygon crosses itself: edge {i}-{(i + 1) % n} meets edge {j}-{(j + 1) % n}; list the corners "
                    "in order around the area (clockwise or anticlockwise)"
                )


def _check_points(points: list[Point], normalized: bool) -> None:
    for x, y in points:
        if normalized and not (0 <= x <= 1 and 0 <= y <= 1):
            raise ValueError(f"normalized point {[x, y]} is outside 0-1")
        if not normalized and (x < 0 or y < 0 or x > 16384 or y > 16384):
            raise ValueError(f"pixel point {[x, y]} is outside 0-16384")


# ---------------------------------------------------------------- cameras and pipeline


class HeatmapConfig(_Model):
    rows: int = Field(4, ge=1, le=8, description="Grid rows (at most 8: coarse on purpose, so no path can be traced).")
    cols: int = Field(4, ge=1, le=8, description="Grid columns (at most 8).")


class MovementConfig(_Model):
    """How heading, speed band and group size are measured on one camera (purpose ``flow``).

    Per camera, not global: the ground-plane scale depends on each camera's mounting height and angle, and the
    thresholds may differ between, say, a doorway and an escalator landing. The defaults are general figures
    for people walking in a store, not fitted to any clip.
    """

    px_per_metre: float | None = Field(
        None,
        gt=0,
        le=10000,
        allow_inf_nan=False,
        description="Ground-plane scale in pixels per metre, if measured (e.g. from floor tiles of known size). "
        "Empty: distances are estimated from each person's box height, assuming people are 1.7 m tall (rough: "
        "children, clipped boxes and steep views make it wrong by tens of percent).",
    )
    slow_below_mps: float = Field(
        0.5,
        gt=0,
        le=10,
        allow_inf_nan=False,
        description="A zone visit whose mean speed is below this (m/s) counts as 'slow' (typical walking is "
        "1.2-1.4 m/s; a general default, not fitted to a site).",
    )
    fast_above_mps: float = Field(
        1.8,
        gt=0,
        le=20,
        allow_inf_nan=False,
        description="A zone visit whose mean speed is above this (m/s) counts as 'fast'; in between is 'normal' "
        "(a general default, not fitted to a site).",
    )
    min_move_m: float = Field(
        1.0,
        ge=0,
        le=100,
        allow_inf_nan=False,
        description="A zone visit counts in the heading histogram only if the person's net displacement from "
        "entering to last being inside is at least this (m): someone who lingers has no heading (a general "
        "default, not fitted to a site).",
    )
    group_window_s: float = Field(
        2.0,
        gt=0,
        le=30,
        allow_inf_nan=False,
        description="Counted crossings of one line in one direction within this many seconds of a group's first "
        "crossing (and within group_distance_m) form one group (a general default, not fitted to a site).",
    )
    group_distance_m: float = Field(
        1.5,
        gt=0,
        le=20,
        allow_inf_nan=False,
        description="Maximum ground distance (m) from a crossing to some member of a group for it to join the "
        "group (a general default, not fitted to a site).",
    )

    @model_validator(mode="after")
    def _order(self) -> MovementConfig:
        if self.fast_above_mps <= self.slow_below_mps:
            raise ValueError(_at(("fast_above_mps",), "must be greater than slow_below_mps"))
        return self


def _estimate(word: str) -> str:
    problem = policy.attribute_problem(word)
    if problem is not None:
        raise ValueError(problem)
    return word.strip().lower()


EstimateName = Annotated[
    str, AfterValidator(_estimate), Field(description=f"One of: {', '.join(policy.ATTRIBUTE_ESTIMATES)}.")
]
ATTRIBUTE_JUSTIFICATION_MIN = 20  # characters, stripped: "marketing" alone says nothing a customer can predict


class AttributesConfig(_Model):
    """Opt-in machine estimation of coarse attributes (purpose ``attributes``); anything else is refused."""

    estimate: list[EstimateName] = Field(
        default_factory=list,
        description="Attributes to estimate: age_band (10-year bins, e.g. <20, 20s ... 60+) and/or gender. Race, "
        "ethnicity, emotion, religion, disability, health, identity and face embeddings are refused.",
    )
    min_face_px: int = Field(
        32, ge=12, le=1024, description="Skip (and count) faces smaller than this many pixels on a side."
    )
    face_score: float = Field(0.6, gt=0, lt=1, description="Face detector score threshold.")
    threads: int = Field(1, ge=1, le=64, description="onnxruntime threads of the face and attribute models.")

    @field_validator("estimate")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        for i, word in enumerate(v):
            if word in v[:i]:
                raise ValueError(_at((i,), f"{word!r} is listed twice"))
        return v

    @property
    def enabled(self) -> bool:
        """Whether anything is estimated at all (an empty list loads no model)."""
        return bool(self.estimate)


class Camera(_Model):
    id: Name
    source: Source = Field(description="Where frames come from: kind device, file or url.")
    fps: float = Field(10.0, gt=0, le=60, description="Target analysis rate; extra frames are skipped, not queued.")
    zones: list[Zone] = Field(default_factory=list, description="Named areas to count people in.")
    lines: list[Line] = Field(default_factory=list, description="Named lines to count crossings of.")
    exclude: list[Exclude] = Field(default_factory=list, description="Areas where detections are ignored.")
    heatmap: HeatmapConfig | None = Field(None, description="Optional coarse presence grid per bucket.")
    movement: MovementConfig | None = Field(
        None, description="Scale and thresholds for heading, speed band and group size (purpose flow); empty: defaults."
    )
    open_timeout_s: float = Field(10.0, gt=0, le=120, description="Give up opening the source after this long.")
    read_timeout_s: float = Field(
        5.0, gt=0, le=120, description="A read that blocks this long means the source is down."
    )
    reconnect_max_s: float = Field(4.0, gt=0, le=300, description="Cap of the exponential reconnect back-off.")

    @model_validator(mode="after")
    def _unique(self) -> Camera:
        _unique_names("zones", [z.name for z in self.zones], ("zones",))
        _unique_names("lines", [ln.name for ln in self.lines], ("lines",))
        return self


def _unique_names(what: str, names: list[str], path: tuple[str | int, ...]) -> None:
    seen: set[str] = set()
    for i, n in enumerate(names):
        if n in seen:
            raise ValueError(_at((*path, i), f"name {n!r} is used twice in {what}"))
        seen.add(n)


class EntranceRef(_Model):
    camera: Name = Field(description="Camera id.")
    line: Name = Field(description="Name of a line on that camera.")


class DetectorConfig(_Model):
    model: str | None = Field(None, description="Model name from the models manifest; empty means its default.")
    threads: int | None = Field(None, ge=1, le=64, description="onnxruntime threads; empty means physical cores.")
    spinning: bool = Field(
        False,
        description="Let idle onnxruntime threads spin: slightly faster inference, but it burns CPU that capture "
        "and other cameras need (see benchmarks/results).",
    )
    score: float = Field(0.5, gt=0, lt=1, description="Person score threshold.")
    iou: float = Field(0.5, gt=0, lt=1, description="NMS IoU threshold.")
    min_box: float = Field(8.0, ge=0, description="Ignore boxes with a side shorter than this (pixels).")
    max_box: float | None = Field(None, gt=0, description="Ignore boxes with a side longer than this (pixels).")
    sessions: int = Field(
        1, ge=1, le=8, description="Detector sessions (worker threads) shared by all cameras; each has `threads`."
    )


class TrackerConfig(_Model):
    low_score: float = Field(
        0.1,
        gt=0,
        lt=1,
        description="Detections between this and detector.score only extend existing tracks (ByteTrack's second "
        "stage), so people who are partly hidden for a moment keep their track.",
    )
    new_track_score: float = Field(0.6, gt=0, le=1, description="Minimum score to start a new track.")
    confirm_hits: int = Field(3, ge=1, le=30, description="Consecutive detections before a track counts.")
    max_age: float = Field(1.0, gt=0, le=30, description="Seconds a lost track is kept before it ends.")
    capacity: int = Field(256, ge=8, le=4096, description="Maximum simultaneous tracks per camera (bounded memory).")


class AggregationConfig(_Model):
    bucket_seconds: int = Field(60, ge=10, le=3600, description="Length of one aggregate time bucket.")
    timezone: str = Field("Asia/Tokyo", description="IANA timezone of the site (for day boundaries).")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {v!r}") from None
        return v


SETUP_MAX_AHEAD_S = 24 * 3600  # http.setup_until: installer mode lasts at most a day from loading the config
_PBKDF2_HASH = re.compile(r"^pbkdf2_sha256\$([0-9]{1,10})\$([A-Za-z0-9+/=]{16,})\$([A-Za-z0-9+/=]{43,44})$")


class HttpUser(_Model):
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
                _at(
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


class HttpAuth(_Model):
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
        _unique_names("users", [u.name for u in self.users], ("users",))
        return self


class HttpTls(_Model):
    cert: str = Field(description="PEM certificate file (with any intermediate certificates after it).")
    key: str = Field(description="PEM private key file (unencrypted); readable only by the service user.")


class HttpConfig(_Model):
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
                _at(
                    ("host",),
                    f"{self.host!r} is reachable from the network, so http.auth is required (users from `edgeanon "
                    "hash-password`); on a trusted network set http.allow_unauthenticated: true instead",
                )
            )
        return self


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
        from edgeanon.outputs.push import check_url

        return check_url(v)


_TOPIC_LEVELS = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


def _topic_prefix(v: str | None) -> str | None:
    if v is not None and not _TOPIC_LEVELS.match(v):
        raise ValueError("must be topic levels of A-Z, a-z, 0-9, '_', '.' or '-' separated by '/' (no wildcards)")
    return v


class MqttTls(_Model):
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
            raise ValueError(_at(("username",), "a password needs a username"))
        return self


# ---------------------------------------------------------------- policy (guidebook)


class Operator(_Model):
    name: str = Field(min_length=1, max_length=200, description="Legal name of the business operating the cameras.")
    accountable: str = Field(min_length=1, max_length=200, description="Person or role accountable for the cameras.")
    contact: str = Field(
        min_length=3, max_length=200, description="One inquiry contact for the public: email, phone or URL."
    )
    notice_url: str | None = Field(None, description="Where the notice is published on the web.")

    @field_validator("contact")
    @classmethod
    def _contact(cls, v: str) -> str:
        if not (
            re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v)
            or re.fullmatch(r"\+?[0-9][0-9 ()-]{5,}", v)
            or re.match(r"https?://\S+$", v)
        ):
            raise ValueError("must be an email address, a phone number or an http(s) URL")
        return v


class Justification(_Model):
    """A justification in both notice languages, so the Japanese notice never shows English text."""

    ja: str = Field(min_length=1, max_length=1000, description="The justification in Japanese (Japanese notice).")
    en: str = Field(min_length=1, max_length=1000, description="The justification in English (English notice).")


class Purpose(_Model):
    id: str = Field(description=f"One of: {', '.join(policy.PURPOSES)}.")
    justification: Annotated[str, Field(min_length=1, max_length=1000)] | Justification = Field(
        description="Why this purpose needs cameras, in words a customer can follow; shown in the notice. One text "
        "for both notices, or {ja: ..., en: ...} with one per language.",
    )

    def justification_in(self, lang: str) -> str:
        """The text for a notice in ``lang`` ("ja" or "en"); a plain string serves both."""
        j = self.justification
        return j if isinstance(j, str) else (j.ja if lang == "ja" else j.en)

    @property
    def justifications(self) -> tuple[str, ...]:
        """Every text given (one or two), for checks that each must pass."""
        j = self.justification
        return (j,) if isinstance(j, str) else (j.ja, j.en)

    @field_validator("id")
    @classmethod
    def _known(cls, v: str) -> str:
        key = v.strip().lower().replace("-", "_").replace(" ", "_")
        if key in policy.FORBIDDEN_PURPOSES:
            raise ValueError(policy.refusal(policy.FORBIDDEN_PURPOSES[key], f"purpose {v!r}"))
        if key not in policy.PURPOSES:
            raise ValueError(f"unknown purpose {v!r}; declare one of: {', '.join(policy.PURPOSES)}")
        return key


class Retention(_Model):
    raw_frames_seconds: int = Field(
        0, description="How long raw frames are kept: must be 0 (frames are zeroed right after inference)."
    )
    aggregates_days: int = Field(
        90, ge=1, description=f"Days aggregates are kept in the store (at most {policy.MAX_AGGREGATE_RETENTION_DAYS})."
    )
    audit_days: int = Field(
        400, ge=1, description=f"Days audit records are kept (at most {policy.MAX_AUDIT_RETENTION_DAYS})."
    )

    @field_validator("raw_frames_seconds")
    @classmethod
    def _no_frames(cls, v: int) -> int:
        if v != 0:
            raise ValueError(policy.refusal("R2-discard", f"keeping raw frames for {v} s"))
        return v

    @field_validator("aggregates_days")
    @classmethod
    def _agg_max(cls, v: int) -> int:
        if v > policy.MAX_AGGREGATE_RETENTION_DAYS:
            raise ValueError(
                policy.refusal(
                    "R6-retention", f"{v} days is above the policy maximum of {policy.MAX_AGGREGATE_RETENTION_DAYS}"
                )
            )
        return v

    @field_validator("audit_days")
    @classmethod
    def _audit_max(cls, v: int) -> int:
        if v > policy.MAX_AUDIT_RETENTION_DAYS:
            raise ValueError(
                policy.refusal(
                    "R6-retention", f"{v} days is above the policy maximum of {policy.MAX_AUDIT_RETENTION_DAYS}"
                )
            )
        return v


class ThirdParty(_Model):
    provided: bool = Field(False, description="Whether aggregates are given to anyone outside the operator.")
    recipients: list[str] = Field(default_factory=list, description="Named recipients, when provided.")

    @model_validator(mode="after")
    def _named(self) -> ThirdParty:
        if self.provided and not self.recipients:
            raise ValueError(_at(("recipients",), "name every recipient when aggregates are provided to third parties"))
        return self


class Privacy(_Model):
    k: int = Field(
        5,
        ge=1,
        le=100,
        description="Small-cell threshold: heatmap cells, dwell histograms, queue waits and attribute breakdowns "
        "of fewer than k people in a bucket are suppressed (a breakdown as a whole). Plain counts (occupancy, "
        "in/out) are not.",
    )
    third_party: ThirdParty = Field(default_factory=ThirdParty)


class OpeningHours(_Model):
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        min_length=1, description="Days these hours apply to: mon, tue, wed, thu, fri, sat, sun."
    )
    open: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="Local opening time, HH:MM.")
    close: str = Field(pattern=r"^([01][0-9]|2[0-4]):[0-5][0-9]$", description="Local closing time, HH:MM.")

    @model_validator(mode="after")
    def _order(self) -> OpeningHours:
        if self.close <= self.open:
            raise ValueError(_at(("close",), "must be after open (split overnight hours into two entries)"))
        return self


class Schedule(_Model):
    hours: list[OpeningHours] = Field(
        min_length=1, description="When counting is needed. Outside these hours the cameras are not opened at all."
    )


class Storage(_Model):
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
        from edgeanon.guidebook.audit.key import load_key

        return load_key(self.audit_hmac_key_file)


class Config(_Model):
    """One site: who is accountable, why it counts, its cameras and what to count."""

    operator: Operator = Field(description="Who operates the cameras and answers questions (guidebook: planning).")
    purposes: list[Purpose] = Field(
        min_length=1, description="Why the site counts people; every analytic needs a declared purpose."
    )
    retention: Retention = Field(default_factory=Retention)
    privacy: Privacy = Field(default_factory=Privacy)
    schedule: Schedule | None = Field(None, description="Opening hours; without it the cameras run all day.")
    storage: Storage = Field(default_factory=Storage)
    push: PushConfig | None = Field(
        None, description="Also push the metrics to a Prometheus Pushgateway (boxes that head office cannot scrape)."
    )
    mqtt: MqttConfig | None = Field(
        None, description="Also publish the aggregates to an MQTT broker (store systems, Home Assistant)."
    )
    cameras: list[Camera] = Field(min_length=1, description="The cameras of this site.")
    entrances: list[EntranceRef] = Field(
        default_factory=list, description="Lines whose in/out together give the site occupancy."
    )
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)
    aggregation: AggregationConfig = Field(default_factory=AggregationConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    attributes: AttributesConfig | None = Field(
        None,
        description="Opt-in coarse age band and gender estimation; needs the purpose 'attributes' with a "
        "justification.",
    )

    @property
    def purpose_ids(self) -> frozenset[str]:
        return frozenset(p.id for p in self.purposes)

    def setup_until_ts(self) -> float | None:
        """``http.setup_until`` as a Unix time; a time without an offset is local to ``aggregation.timezone``."""
        until = self.http.setup_until
        if until is None:
            return None
        if until.tzinfo is None:
            until = until.replace(tzinfo=ZoneInfo(self.aggregation.timezone))
        return until.timestamp()

    @model_validator(mode="after")
    def _setup_mode(self) -> Config:
        """Installer mode shows live per-person outlines: it must expire soon, and never be open to a network."""
        until = self.setup_until_ts()
        if until is None:
            return self
        if until - time.time() > SETUP_MAX_AHEAD_S:
            raise ValueError(
                _at(
                    ("http", "setup_until"),
                    "is more than 24 h ahead; installer mode shows live outlines of people, so it must expire "
                    "within a day of loading the config",
                )
            )
        if self.http.auth is None and not is_loopback(self.http.host):
            raise ValueError(
                _at(
                    ("http", "setup_until"),
                    f"installer mode needs http.auth when http.host ({self.http.host}) is not loopback: anyone who "
                    "can reach the port would see live outlines of people",
                )
            )
        return self

    @model_validator(mode="after")
    def _purposes(self) -> Config:
        declared = [p.id for p in self.purposes]
        for i, pid in enumerate(declared):
            if pid in declared[:i]:
                raise ValueError(_at(("purposes", i), f"purpose {pid!r} is declared twice"))
        have = set(declared)

        def need(ok: bool, path: tuple[str | int, ...], what: str, purposes: str) -> None:
            if not ok:
                raise ValueError(_at(path, policy.refusal("R1-purpose", f"{what} needs the purpose {purposes}")))

        for ci, cam in enumerate(self.cameras):
            for li in range(len(cam.lines)):
                need("flow" in have, ("cameras", ci, "lines", li), "counting line crossings", "'flow'")
            for zi, zone in enumerate(cam.zones):
                need(
                    bool(have & {"occupancy", "dwell", "queue"}),
                    ("cameras", ci, "zones", zi),
                    "a zone",
                    "'occupancy', 'dwell' or 'queue'",
                )
                if zone.queue:
                    need("queue" in have, ("cameras", ci, "zones", zi, "queue"), "a queue zone", "'queue'")
            if cam.heatmap is not None:
                need("heatmap" in have, ("cameras", ci, "heatmap"), "a heatmap", "'heatmap'")
            if cam.movement is not None:
                need("flow" in have, ("cameras", ci, "movement"), "movement settings", "'flow'")
        if self.entrances:
            need("occupancy" in have, ("entrances",), "site occupancy from entrances", "'occupancy'")
        self._attribute_purpose(have)
        return self

    def _attribute_purpose(self, have: set[str]) -> None:
        """``attributes.estimate`` and the purpose ``attributes`` come together, with a real justification."""
        estimate = self.attributes.estimate if self.attributes is not None else []
        if estimate and "attributes" not in have:
            raise ValueError(
                _at(
                    ("attributes", "estimate"),
                    policy.refusal("R1-purpose", "estimating attributes needs the purpose 'attributes'"),
                )
            )
        if "attributes" not in have:
            return
        i = next(i for i, p in enumerate(self.purposes) if p.id == "attributes")
        if not estimate:
            raise ValueError(
                _at(
                    ("purposes", i, "id"),
                    policy.refusal(
                        "R1-purpose", "the purpose 'attributes' without attributes.estimate (say what is estimated)"
                    ),
                )
            )
        if min(len(t.strip()) for t in self.purposes[i].justifications) < ATTRIBUTE_JUSTIFICATION_MIN:
            raise ValueError(
                _at(
                    ("purposes", i, "justification"),
                    policy.refusal(
                        "R1-purpose",
                        f"the purpose 'attributes' needs a specific justification (at least "
                        f"{ATTRIBUTE_JUSTIFICATION_MIN} characters saying why age band or gender is needed)",
                    ),
                )
            )
        for ci, cam in enumerate(self.cameras):  # age band and gender are keyed by place: zone or line name
            zones = {z.name for z in cam.zones}
            for li, ln in enumerate(cam.lines):
                if ln.name in zones:
                    raise ValueError(
                        _at(
                            ("cameras", ci, "lines", li, "name"),
                            f"{ln.name!r} names both a zone and a line; with attributes every place name must be "
                            "unique on a camera",
                        )
                    )

    @model_validator(mode="after")
    def _refs(self) -> Config:
        if self.tracker.low_score > self.detector.score:
            raise ValueError(_at(("tracker", "low_score"), "must not exceed detector.score"))
        if self.tracker.new_track_score < self.detector.score:
            raise ValueError(_at(("tracker", "new_track_score"), "must be at least detector.score"))
        _unique_names("cameras", [c.id for c in self.cameras], ("cameras",))
        lines = {(c.id, ln.name) for c in self.cameras for ln in c.lines}
        for i, e in enumerate(self.entrances):
            if (e.camera, e.line) not in lines:
                raise ValueError(_at(("entrances", i), f"{e.camera}/{e.line}: no such camera line"))
        return self


# ---------------------------------------------------------------- YAML with line numbers


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (YAML would silently keep the last one), and reports a value its
    constructors cannot build (``!!int x``, a date like 2001-02-30, a 5000-digit number) as a YAML error on
    that value's line instead of a bare ValueError."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            tag = node.tag.rsplit(":", 1)[-1]
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value as {tag} ({_one_line(str(exc))})", node.start_mark
            ) from None


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    if not isinstance(node, yaml.MappingNode):  # e.g. ``!!map x``
        raise yaml.constructor.ConstructorError(None, None, f"expected a mapping, found a {node.id}", node.start_mark)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line_index(
    node: yaml.Node, path: tuple[Any, ...] = (), out: dict | None = None, seen: set[int] | None = None
) -> dict[tuple, int]:
    """Map every path in the document to the 1-based line where its value starts.

    An aliased node is indexed once: below a second use of it, lines fall back to the alias's own line. (A
    recursive alias would never end, and nested aliases would be walked exponentially often.)"""
    out = {} if out is None else out
    seen = set() if seen is None else seen
    out[path] = node.start_mark.line + 1
    if id(node) in seen:
        return out
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k)
            out[(*path, key)] = k.start_mark.line + 1
            _line_index(v, (*path, key), out, seen)
            out[(*path, key)] = k.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _line_index(v, (*path, i), out, seen)
    return out


def _lookup_line(lines: dict[tuple, int], loc: tuple[Any, ...]) -> int:
    path = tuple(str(p) if not isinstance(p, int) else p for p in loc)
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path, 1)


_SOURCE_TAGS = {"device", "file", "url"}


def _yaml_path(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the discriminator tag pydantic inserts after ``source`` so the path matches the YAML."""
    out: list[Any] = []
    for i, p in enumerate(loc):
        if i and loc[i - 1] == "source" and p in _SOURCE_TAGS:
            continue
        out.append(p)
    return tuple(out)


def _one_line(text: str) -> str:
    return " ".join(text.split())  # also splits at \r, \x1c-\x1f, \x85, \u2028, \u2029


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_@/+-]+")


def _field(loc: tuple[Any, ...]) -> str:
    """``a.0.b``; a key that is not plain is quoted with its colons escaped, so the line keeps its form."""
    parts = [
        str(p) if isinstance(p, int) or _PLAIN_KEY.fullmatch(str(p)) else repr(str(p)).replace(":", "\\x3a")
        for p in loc
    ]
    return ".".join(parts) or "(top level)"


def parse_config(text: str, filename: str = "<config>") -> Config:
    """Parse and validate; every error becomes one ConfigError line ``file:line: path: message``."""
    try:
        node = yaml.compose(text, Loader=_LineLoader)
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError(f"{filename}:{line}: YAML: {_one_line(str(exc.problem or exc.context))}") from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise ConfigError(f"{filename}:{line}: YAML: unacceptable character #x{char:04x}: {exc.reason}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{filename}:1: YAML: {_one_line(str(exc))}") from None
    except RecursionError:
        raise ConfigError(f"{filename}:1: YAML: nested too deeply") from None
    if data is None:
        raise ConfigError(f"{filename}:1: (top level): the file is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{filename}:1: (top level): must be a mapping of settings, got {type(data).__name__}")
    lines = _line_index(node) if node is not None else {}
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        msgs = []
        for err in exc.errors(include_url=False):
            loc = _yaml_path(err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            m = _AT.match(msg)
            if m:  # a cross-field check names the field itself, relative to where it was raised
                rel = tuple(int(p) if p.isdigit() else p for p in m.group(1).split("."))
                loc, msg = (*loc, *rel), msg[m.end() :]
            msgs.append(f"{filename}:{_lookup_line(lines, loc)}: {_field(loc)}: {_one_line(msg)}")
        raise ConfigError("\n".join(msgs)) from None


def located_errors(path: str | Path, problems: list[tuple[tuple[str | int, ...], str]]) -> ConfigError:
    """Checks made after validation (against the frame size, the model manifest), in the same
    ``file:line: path: message`` form as validation errors; ``path`` must be the file just loaded."""
    text = Path(path).read_text(encoding="utf-8")
    node = yaml.compose(text, Loader=_LineLoader)
    lines = _line_index(node) if node is not None else {}
    return ConfigError(
        "\n".join(f"{path}:{_lookup_line(lines, loc)}: {_field(loc)}: {_one_line(m)}" for loc, m in problems)
    )


def load_config(path: str | Path) -> Config:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}:1: cannot read config: {exc}") from None
    return parse_config(text, str(p))


def default_config_path() -> Path:
    from edgeanon.resources import default_config

    return default_config()
