"""Command line: ``edgeanon <command>``; every user-fixable problem exits 2 with one line on stderr."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from edgeanon import __version__
from edgeanon.errors import EdgeanonError


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
    g.add_argument(
        "--input",
        type=_input_size,
        default="auto",
        metavar="WxH",
        help="model input size: auto (default: the frame's long side at the model's trained size, e.g. 768x576 "
        "runs at 416x320) or WxH in multiples of the model's input.multiple (32 for NanoDet)",
    )
    g.add_argument(
        "--resize",
        choices=("stretch", "letterbox"),
        default=None,
        help="stretch each side on its own or letterbox (keep the aspect, pad); default: the model manifest's "
        "(stretch for NanoDet)",
    )


def _input_size(text: str) -> str:
    word = text.strip().lower()
    if word != "auto" and re.fullmatch(r"[1-9][0-9]{0,4}x[1-9][0-9]{0,4}", word) is None:
        raise argparse.ArgumentTypeError(f"must be auto or WxH like 416x320, not {text}")
    return word


def _detector_from_args(args: argparse.Namespace):
    from edgeanon.pixels.detector import InputGeometry, SessionSettings, Thresholds, load_detector

    if args.threads is not None and args.threads < 1:
        raise EdgeanonError("--threads must be at least 1")
    return load_detector(
        args.model,
        SessionSettings(threads=args.threads, spinning=args.spinning),
        Thresholds(score=args.score, iou=args.iou, min_box=args.min_box, max_box=args.max_box),
        geometry=InputGeometry(input=args.input, resize=args.resize),
    )


def cmd_detect(args: argparse.Namespace) -> int:
    from edgeanon.pixels.detect import detect
    from edgeanon.resources import sample_clip

    path = Path(args.path) if args.path else sample_clip()
    return detect(path, _detector_from_args(args), every=args.every, max_frames=args.max_frames, as_json=args.json)


def cmd_models(args: argparse.Namespace) -> int:
    from edgeanon.pixels.detector.inventory import list_models

    return list_models(verify=args.verify, verbose=args.verbose > 0)


def _load_config(path: str | None):
    from edgeanon.config.loader import default_config_path, load_config

    return load_config(path or default_config_path())


def _config_path(path: str | None) -> Path:
    from edgeanon.config.loader import default_config_path

    return Path(path) if path else default_config_path()


def cmd_run(args: argparse.Namespace) -> int:
    from edgeanon.run.command import run

    return run(_config_path(args.config), quiet=args.quiet, duration=args.duration, port=args.port)


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


def cmd_export(args: argparse.Namespace) -> int:
    from edgeanon.run.export import export

    cfg = _load_config(args.config)
    return export(cfg, since=args.since, until=args.until, camera=args.camera, every=args.every, fmt=args.format)


def cmd_audit(args: argparse.Namespace) -> int:
    import re

    from edgeanon.config.credentials import load_key
    from edgeanon.guidebook.audit.check import check_audit_log

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
    return check_audit_log(path, key, head.strip().lower() if head else None)


def cmd_check_config(args: argparse.Namespace) -> int:
    from edgeanon.run.check import check_config

    return check_config(_config_path(args.config), args.config or "default config")


def cmd_hash_password(args: argparse.Namespace) -> int:
    from edgeanon.web.password_prompt import print_password_hash

    return print_password_hash(args.iterations)


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
