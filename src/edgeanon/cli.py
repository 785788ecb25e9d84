"""Command line: ``edgeanon <command>``; every user-fixable problem exits 2 with one line on stderr."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from edgeanon import __version__
from edgeanon.errors import EdgeanonError

log = logging.getLogger("edgeanon")


class _Parser(argparse.ArgumentParser):
    """argparse with the one-line error form of every other user-fixable problem (exit 2)."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("edgeanon").strip()
        hint = f" (see `edgeanon {command} --help`)" if command else " (see `edgeanon --help`)"
        self.exit(2, f"edgeanon: error: {message}{hint}\n")


def _number(kind: type, *, low: float, high: float | None = None, open_low: bool = False, open_high: bool = False):
    """An argparse type for a number in a range; the message says the range, so a typo is caught at once."""

    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        too_low = v <= low if open_low else v < low
        too_high = high is not None and (v >= high if open_high else v > high)
        if too_low or too_high:
            lo = f"{'above' if open_low else 'at least'} {low:g}"
            hi = "" if high is None else f" and {'below' if open_high else 'at most'} {high:g}"
            raise argparse.ArgumentTypeError(f"must be {lo}{hi}, not {text}")
        return v

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


_POSITIVE_INT = _number(int, low=1)
_SECONDS = _number(float, low=0, open_low=True)
_FRACTION = _number(float, low=0, high=1, open_low=True, open_high=True)
_PIXELS = _number(float, low=0)


def _add_detector_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("detector")
    g.add_argument("--model", metavar="NAME", help="model name from the manifest (default: the manifest's default)")
    g.add_argument(
        "--threads",
        type=_POSITIVE_INT,
        metavar="N",
        help="onnxruntime intra-op threads (default: number of physical cores)",
    )
    g.add_argument(
        "--spinning",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="let idle onnxruntime threads spin: a little faster, but burns CPU that capture may need",
    )
    g.add_argument("--score", type=_FRACTION, default=0.5, metavar="S", help="person score threshold (default 0.5)")
    g.add_argument("--iou", type=_FRACTION, default=0.5, metavar="T", help="NMS IoU threshold (default 0.5)")
    g.add_argument(
        "--min-box",
        type=_PIXELS,
        default=8.0,
        metavar="PX",
        help="drop boxes with a side shorter than this many pixels (default 8)",
    )
    g.add_argument(
        "--max-box",
        type=_number(float, low=0, open_low=True),
        default=None,
        metavar="PX",
        help="drop boxes with a side longer than this many pixels (default: no limit)",
    )


def _detector_from_args(args: argparse.Namespace):
    from edgeanon.pixels.detector import SessionSettings, Thresholds, load_detector

    if args.threads is not None and args.threads < 1:
        raise EdgeanonError("--threads must be at least 1")
    return load_detector(
        args.model,
        SessionSettings(threads=args.threads, spinning=args.spinning),
        Thresholds(score=args.score, iou=args.iou, min_box=args.min_box, max_box=args.max_box),
    )


def cmd_detect(args: argparse.Namespace) -> int:
    from edgeanon.pixels.media import is_image, iter_video, read_image, video_info
    from edgeanon.resources import sample_clip

    path = Path(args.path) if args.path else sample_clip()
    detector = _detector_from_args(args)
    if is_image(path):
        frames = iter([(0, read_image(path))])
        fps = 0.0
    else:
        fps, _ = video_info(path)
        frames = iter_video(path, args.max_frames)
    out = sys.stdout
    total = people = 0
    t0 = time.perf_counter()
    for index, frame in frames:
        if args.every > 1 and index % args.every:
            continue
        dets = detector(frame)
        total += 1
        people += len(dets)
        t = round(index / fps, 3) if fps > 0 else None
        if args.json:
            boxes = [
                [*map(lambda v: round(float(v), 1), b), round(float(s), 3)]
                for b, s in zip(dets.xyxy, dets.score, strict=True)
            ]
            out.write(json.dumps({"frame": index, "t": t, "count": len(dets), "boxes": boxes}) + "\n")
        else:
            out.write(f"frame {index:6d}  t={t if t is not None else '-':>8}  people={len(dets)}\n")
    dt = time.perf_counter() - t0
    log.info(
        "%s: %d frames, %.2f people/frame on average, %.1f frames/s with %s on %d threads",
        path.name,
        total,
        people / max(total, 1),
        total / dt if dt > 0 else 0.0,
        detector.name,
        detector.threads,
    )
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from edgeanon.pixels.detector.manifest import load_manifest, read_verified

    manifest, root = load_manifest()
    print(f"models directory: {root}")
    failed = 0
    for name, entry in manifest.models.items():
        mark = " (default)" if name == manifest.default else ""
        status = "not checked"
        if args.verify:
            try:
                read_verified(root / entry.file, entry)
                status = "sha256 ok"
            except EdgeanonError as exc:
                status = f"FAILED: {exc}"
                failed += 1
        print(
            f"  {name}{mark}: {entry.task} {entry.file} {entry.precision} {entry.family} "
            f"{entry.input.width}x{entry.input.height} [{status}]"
        )
        print(f"      source: {entry.source}")
        for lic in entry.licences:
            print(f"      licence: {lic.spdx} - {lic.applies_to}")
        if args.verbose:
            if entry.params:
                print(f"      params: {entry.params:,}  GFLOPs: {entry.gflops}")
            if entry.training_data:
                print(f"      training data: {entry.training_data}")
    return 2 if failed else 0


def _load_config(path: str | None):
    from edgeanon.config.loader import default_config_path, load_config

    return load_config(path or default_config_path())


def _config_path(path: str | None) -> Path:
    from edgeanon.config.loader import default_config_path

    return Path(path) if path else default_config_path()


def cmd_run(args: argparse.Namespace) -> int:
    import hashlib

    from edgeanon.config.errors import ConfigError
    from edgeanon.run.coredumps import forbid_core_dumps
    from edgeanon.run.service import RunOptions, serve

    forbid_core_dumps()  # first: before any frame, key or password is in memory
    path = _config_path(args.config)
    try:
        cfg = _load_config(str(path))
    except ConfigError as exc:
        if "refused:" in str(exc):
            _audit_refusal(path, str(exc))
        raise
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return serve(cfg, RunOptions(quiet=args.quiet, duration=args.duration, port=args.port, config_sha256=digest))


def _audit_refusal(path: Path, message: str) -> None:
    """Record a refused config in the audit log it names (best effort: the config is invalid by definition)."""
    import re

    import yaml

    from edgeanon.config.governance import Retention
    from edgeanon.config.outputs import Storage
    from edgeanon.errors import AuditError
    from edgeanon.guidebook.audit.writer import AuditLog

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        storage = Storage.model_validate(raw.get("storage") or {})
        days = Retention.model_fields["audit_days"].default
        key = storage.audit_key()
    except Exception:  # the refusal itself is reported on stderr either way
        return
    for line in message.splitlines():
        if "refused:" in line:
            rule = re.search(r"Rule (R[0-9]+-[a-z-]+)", line)
            try:
                with AuditLog(storage.audit_path(), retention_days=days, key=key) as audit:
                    audit.record("refusal", reason=line[:1000], rule=rule.group(1) if rule else None)
            except (AuditError, OSError, ValueError):
                return


def cmd_notice(args: argparse.Namespace) -> int:
    from edgeanon.guidebook.notice.render import render_notice

    sys.stdout.write(render_notice(_load_config(args.config), args.lang, args.format))
    return 0


def cmd_assess(args: argparse.Namespace) -> int:
    from edgeanon.guidebook.assess.checklist import assess
    from edgeanon.guidebook.assess.report import exit_code, render

    path = _config_path(args.config)
    items = assess(_load_config(str(path)), path=path)
    sys.stdout.write(render(items, args.format))
    return exit_code(items)


def _parse_time(value: str | None, flag: str, timezone: str = "UTC") -> float | None:
    """ISO 8601 date or time; without an offset it is read in ``timezone`` (the site's)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise EdgeanonError(
            f"{flag}: {value!r} is not an ISO 8601 date or time (e.g. 2026-11-26 or 2026-11-26T09:00+09:00)"
        ) from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=ZoneInfo(timezone))).timestamp()


def cmd_export(args: argparse.Namespace) -> int:
    import time
    from zoneinfo import ZoneInfo

    from edgeanon.counting.rollup import render, roll_up
    from edgeanon.guidebook.audit.writer import AuditBusy, AuditLog
    from edgeanon.outputs.store import AggregateStore

    cfg = _load_config(args.config)
    path = cfg.storage.store_path()
    tz = cfg.aggregation.timezone
    since, until = _parse_time(args.since, "--since", tz), _parse_time(args.until, "--until", tz)
    if since is not None and until is not None and since >= until:  # an empty answer would hide the mistake
        raise EdgeanonError(f"--since {args.since} is not before --until {args.until}")
    if not path.is_file():
        raise EdgeanonError(f"{path}: no aggregate store yet (run `edgeanon run` first)")
    days = cfg.retention.aggregates_days
    try:  # retention is applied first, and every purge is audited: this purge too
        audit: AuditLog | None = AuditLog(
            cfg.storage.audit_path(), retention_days=cfg.retention.audit_days, key=cfg.storage.audit_key()
        )
    except AuditBusy:
        audit = None  # the running service holds the log; it purges (and audits) hourly itself
    try:
        if audit is not None:
            log = audit

            def on_purge(rows: int, cutoff: float) -> None:
                if rows:  # an export that deleted nothing changed nothing: no record on every read
                    log.record("purge", table="aggregates", rows=rows, cutoff=cutoff, by="export")

            store = AggregateStore(path, retention_days=days, on_purge=on_purge)
        else:
            store = AggregateStore(path, retention_days=days, purge_on_open=False)
            since = max(since or 0.0, time.time() - days * 86400)  # print nothing past retention all the same
        try:
            # another site's store read through this config would be labelled with this site's names
            store.claim_site(cfg.storage.site or cfg.operator.name, cfg.storage.allow_mixed_sites)
            if args.camera is not None:
                known = {c.id for c in cfg.cameras} | set(store.cameras())
                if args.camera not in known:
                    raise EdgeanonError(f"--camera {args.camera!r}: no such camera (known: {', '.join(sorted(known))})")
            rows = store.rows(since, until, args.camera, attributes=True)
        finally:
            store.close()
    finally:
        if audit is not None:
            audit.close()
    sys.stdout.write(render(roll_up(rows, ZoneInfo(tz), args.every, cfg.privacy.k), args.format))
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    import re

    from edgeanon.config.credentials import load_key
    from edgeanon.guidebook.audit.chain import format_verify, verify

    head = args.expected_head
    if head is not None and not re.fullmatch(r"[0-9a-f]{64}", head.strip().lower()):
        raise EdgeanonError(f"--expected-head: {head!r} is not a 64-digit hex hash")
    if args.file:
        path, key = Path(args.file), None
    else:
        storage = _load_config(args.config).storage
        path, key = storage.audit_path(), storage.audit_key()
    if args.key_file:
        key = load_key(args.key_file)
    # exit 2, not 1: a log that is missing or unreadable is "never ran" or "wrong path", not "tampered"
    if not path.exists():
        raise EdgeanonError(f"{path}: no audit log (wrong path, or `edgeanon run` never ran with this config)")
    if not path.is_file():
        raise EdgeanonError(f"{path}: not a file")
    try:
        path.open("rb").close()
    except OSError as exc:
        raise EdgeanonError(f"{path}: cannot read the audit log: {exc.strerror or exc}") from None
    ok, msg, n = verify(path, expected_head=head.strip().lower() if head else None, key=key)
    print(format_verify(ok, msg, n))
    return 0 if ok else 1


def cmd_check_config(args: argparse.Namespace) -> int:
    from edgeanon.config.loader import located_errors
    from edgeanon.config.sources import FileSource
    from edgeanon.errors import ModelError
    from edgeanon.pixels.detector.manifest import resolve

    path = _config_path(args.config)
    cfg = _load_config(str(path))
    problems: list[tuple[tuple[str | int, ...], str]] = []
    try:
        resolve(cfg.detector.model)  # the same lookup `run` makes, so an unknown name fails here, not later
    except ModelError as exc:
        problems.append((("detector", "model"), str(exc)))
    for i, cam in enumerate(cfg.cameras):
        if isinstance(cam.source, FileSource) and (cam.zones or cam.lines or cam.exclude):
            problems += [((("cameras", i, *loc)), msg) for loc, msg in _file_geometry(cam)]
    if problems:
        raise located_errors(path, problems)
    cams = ", ".join(f"{c.id} ({len(c.zones)} zones, {len(c.lines)} lines)" for c in cfg.cameras)
    print(f"{args.config or 'default config'}: ok: {len(cfg.cameras)} camera(s): {cams}")
    return 0


MIN_PASSWORD_CHARS = 8  # shorter ones are hashed anyway, with a warning: the operator decides


def _file_geometry(cam) -> list[tuple[tuple[str | int, ...], str]]:
    """A file camera's geometry against the frame size the container states (metadata only, no frame decoded)."""
    from edgeanon.config.placement import geometry_problems
    from edgeanon.pixels.media import frame_size
    from edgeanon.pixels.sources import resolve_file

    video = resolve_file(cam.source)
    try:
        size = frame_size(video)
    except EdgeanonError as exc:
        return [(("source", "path"), f"cannot read the frame size: {exc}")]
    if size is None:
        log.warning(
            "camera %s: %s does not state its frame size; geometry is checked on the first frame", cam.id, video
        )
        return []
    return geometry_problems(cam, size)


def cmd_hash_password(args: argparse.Namespace) -> int:
    from edgeanon.web.server import PBKDF2_ITERATIONS, hash_password

    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise EdgeanonError("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise EdgeanonError("empty password")
    if len(password) < MIN_PASSWORD_CHARS:
        print(
            f"edgeanon: warning: the password has only {len(password)} characters; use at least "
            f"{MIN_PASSWORD_CHARS} (a long passphrase is better: anyone on the network can try passwords)",
            file=sys.stderr,
        )
    try:
        print(hash_password(password, args.iterations or PBKDF2_ITERATIONS))
    except ValueError as exc:
        raise EdgeanonError(str(exc)) from None
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from edgeanon.config.schema import Config

    print(json.dumps(Config.model_json_schema(), indent=2, ensure_ascii=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="edgeanon",
        description="Count people in camera video on a small CPU and export only anonymous aggregates. "
        "No command ever writes pixels.",
    )
    parser.add_argument("--version", action="version", version=f"edgeanon {__version__}")
    common = _Parser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "detect",
        parents=[common],
        help="run the person detector on an image or a video file and print counts",
        description="Run the person detector on an image or a video and print the person count per frame "
        "(or boxes as JSON lines). Without PATH it uses the bundled sample clip. Writes no image.",
    )
    p.add_argument("path", nargs="?", help="image or video file (default: the bundled sample clip)")
    p.add_argument("--json", action="store_true", help="print one JSON object per frame with boxes and scores")
    p.add_argument("--every", type=_POSITIVE_INT, default=1, metavar="N", help="analyse every Nth frame (default 1)")
    p.add_argument("--max-frames", type=_POSITIVE_INT, metavar="N", help="stop after N decoded frames")
    _add_detector_args(p)
    p.set_defaults(func=cmd_detect)

    p = sub.add_parser(
        "run",
        parents=[common],
        help="count people from the configured cameras and serve /metrics",
        description="Run the pipeline: read the cameras, detect and track people, count zones and lines, and "
        "export only aggregates (Prometheus /metrics, bucket summaries). Frames are zeroed right after "
        "inference; nothing writes pixels. Without CONFIG it runs the bundled demo (configs/default.yaml: "
        "the sample clip in a realtime loop). SIGINT/SIGTERM flush the current bucket and exit 0.",
    )
    p.add_argument("config", nargs="?", help="YAML config file (default: the bundled demo config)")
    p.add_argument("-q", "--quiet", action="store_true", help="no live line and no bucket summaries on stdout")
    p.add_argument("--duration", type=_SECONDS, metavar="S", help="stop by itself after S seconds")
    p.add_argument(
        "--port", type=_number(int, low=0, high=65535), metavar="N", help="override http.port (0 picks a free port)"
    )
    p.add_argument(
        "--log-format",
        choices=["plain", "json"],
        default="plain",
        help="log lines on stderr: plain text, or one JSON object per line for journald/Docker (default plain)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "hash-password",
        parents=[common],
        help="print a PBKDF2 hash for http.auth (reads the password, never takes it as an argument)",
        description="Read a password (prompted twice on a terminal, else the first line of stdin) and print the "
        "PBKDF2-SHA256 hash to put in http.auth.users[].password_hash. The password itself never goes into "
        "the config, the shell history or the log.",
    )
    p.add_argument("--iterations", type=int, default=None, metavar="N", help="PBKDF2 iterations (default 600000)")
    p.set_defaults(func=cmd_hash_password)

    p = sub.add_parser(
        "check-config",
        parents=[common],
        help="validate a config file and exit",
        description="Validate a config. Errors print as file:line: path.to.field: message; "
        "the exit code is 2 when the config is invalid.",
    )
    p.add_argument("config", nargs="?", help="YAML config file (default: the bundled demo config)")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser(
        "schema",
        parents=[common],
        help="print the config's JSON Schema",
        description="Print the JSON Schema of the config file, with a description of every field.",
    )
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser(
        "notice",
        parents=[common],
        help="render the prior notice (事前告知) from a config",
        description="Render the camera notice for signage and the web from the config: who operates "
        "the cameras, why, what is captured and discarded, what is kept and for how long, third "
        "parties, and whom to contact. The running device also serves it at /notice.",
    )
    p.add_argument("config", nargs="?", help="YAML config file (default: the bundled demo config)")
    p.add_argument("--lang", choices=["ja", "en"], default="ja", help="language (default ja)")
    p.add_argument("--format", choices=["html", "txt"], default="txt", help="output format (default txt)")
    p.set_defaults(func=cmd_notice)

    p = sub.add_parser(
        "assess",
        parents=[common],
        help="planning checklist (企画時) for a config",
        description="Check a config against the guidebook, phase by phase: each item passes, warns "
        "or fails with a reason. Exit code 1 when anything fails, 2 when the config is invalid.",
    )
    p.add_argument("config", nargs="?", help="YAML config file (default: the bundled demo config)")
    p.add_argument("--format", choices=["text", "markdown"], default="text", help="output format (default text)")
    p.set_defaults(func=cmd_assess)

    p = sub.add_parser(
        "export",
        parents=[common],
        help="export stored aggregates as CSV or JSON",
        description="Read the aggregate store named by the config and print one row per period, camera, "
        "zone/line and metric (after applying the retention): per stored bucket, or rolled up with --every. "
        "Times are ISO 8601 in the site's timezone (aggregation.timezone) with the offset; --since/--until "
        "without an offset are read in that timezone too.",
    )
    p.add_argument("config", nargs="?", help="YAML config file (default: the bundled demo config)")
    p.add_argument(
        "--since", metavar="TIME", help="first bucket start to include, e.g. 2026-11-26T09:00 (site time) or ...+09:00"
    )
    p.add_argument("--until", metavar="TIME", help="buckets starting before this time")
    p.add_argument("--camera", metavar="ID", help="only this camera (an unknown camera is an error)")
    p.add_argument(
        "--every",
        choices=["hour", "day"],
        help="roll the buckets up into hours or days of the site's local time (default: one period per bucket)",
    )
    p.add_argument("--format", choices=["csv", "json"], default="csv", help="output format (default csv)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "audit",
        parents=[common],
        help="verify the hash-chained audit log",
        description="`edgeanon audit verify [CONFIG]` checks that no audit record was edited, "
        "removed, inserted or reordered. Exit code 1 when the chain is broken, 2 when the log is missing or "
        "unreadable.",
    )
    p.add_argument("action", choices=["verify"], help="what to do")
    p.add_argument("config", nargs="?", help="YAML config file naming the log (default: the bundled demo config)")
    p.add_argument("--file", metavar="PATH", help="verify this audit log file instead")
    p.add_argument(
        "--expected-head",
        metavar="HASH",
        help="the head hash kept elsewhere (from /readyz or an earlier verify): fail if the log's last record differs, "
        "i.e. records were cut from the end or the log was replaced",
    )
    p.add_argument(
        "--key-file",
        metavar="PATH",
        help="HMAC key of a keyed log (default: the config's storage.audit_hmac_key_file)",
    )
    p.set_defaults(func=cmd_audit)

    from edgeanon.bench.command import add_parser as add_bench_parser  # stdlib-only at import time

    add_bench_parser(sub, common)

    p = sub.add_parser(
        "models",
        parents=[common],
        help="list the shipped models, their sources and licences, and verify their sha256",
        description="List the models in the manifest with their sources and licences (-v adds size, cost and "
        "training data); --verify checks every file's sha256.",
    )
    p.add_argument("--verify", action="store_true", help="check each file's size and sha256 against the manifest")
    p.set_defaults(func=cmd_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # OpenCV's own warnings duplicate the one-line errors below; keep its log for real errors only.
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    parser = build_parser()
    args = parser.parse_args(argv)
    args.verbose = getattr(args, "verbose", 0)
    level = logging.WARNING if args.verbose == 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    if args.command in {"detect", "run", "bench"}:
        level = min(level, logging.INFO)
    from edgeanon import logs

    # `run` opens streams: fd 2 goes through the redactor in plain mode too, since FFmpeg prints URLs there.
    logs.setup(level, getattr(args, "log_format", "plain"), redact_native=args.command == "run")
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except EdgeanonError as exc:
        print(f"edgeanon: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
