"""``edgeanon bench``: how fast this box runs the pipeline, and how many cameras it carries.

Integrators size hardware by asking how many cameras one box can carry, so the figures come from the
code path of ``edgeanon run`` itself (a real ``Runner`` with the real sinks), never from a separate
benchmark loop that could flatter it: ``throughput`` measures the share of the model's speed that the
pipeline keeps, ``capacity`` how many realtime cameras hold.

Every configuration runs in a fresh child process by default, so that its peak RSS is its own; this
module is also that child's entry point (``python -m edgeanon.bench.command --task ...``, see ``sweep``).
Only the standard library is imported here at import time: the CLI registers the subcommand cheaply.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from edgeanon.bench import baseline, sweep
from edgeanon.bench.machine import describe_machine, load_average
from edgeanon.bench.recommend import DEFAULT_BUDGET_S
from edgeanon.bench.report import json_default, print_machine
from edgeanon.bench.workload import parse_source
from edgeanon.errors import EdgeanonError

log = logging.getLogger("edgeanon.bench")

DEFAULT_THREADS = (1, 2)


def _camera_counts(text: str) -> list[int]:
    """'4', '1-6' or '1,2,4'."""
    out: list[int] = []
    try:
        for part in text.split(","):
            lo, dash, hi = part.partition("-")
            out.extend(range(int(lo), int(hi) + 1) if dash else [int(lo)])
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected N, A-B or A,B,C") from None
    if not out or min(out) < 1 or max(out) > 64:
        raise argparse.ArgumentTypeError(f"{text!r}: camera counts are 1 to 64")
    return out


def _spin(text: str) -> bool:
    if text not in {"on", "off"}:
        raise argparse.ArgumentTypeError("expected on or off")
    return text == "on"


DESCRIPTION = """\
Measure this machine on the real `edgeanon run` code path (a Runner with the real sinks) and print a table.

Throughput (default): for each model and thread count, alternate in rounds within one process
  (a) session.run alone on a fixed input, with the very session the pipeline uses, and
  (b) the whole pipeline (decode, preprocess, inference, decoding+NMS, tracking, analytics, sinks) over the
      clip as fast as possible; a file that is not realtime is read in blocking mode, so 0 frames drop.
  pipeline_efficiency = fps(b) / fps(a): the share of the model's speed the pipeline keeps (target >= 0.90).
  Also: the per-stage time, CPU cores used and peak RSS.

Capacity (--cameras N --fps F): N realtime copies of the clip in one Runner. Reports dropped frames, the
  frame rate each camera achieved, and the p50/p99 delay from capture to aggregate. A count "holds" with 0
  dropped and p99 < 200 ms. --find-max raises N until it no longer holds.

Recommend (--recommend CONFIG): which model, input size and threads carry the most cameras like CONFIG's on
  this box, and how many. CONFIG's cameras keep their geometry, fps, roi and input; their sources are replaced
  by the bundled clip played in real time (real RTSP sources cannot be assumed reachable), replicated
  round-robin to N. Every person model (fp32, int8) x threads 1..physical cores at the config's input size,
  then a smaller and a larger input with the best: each searched for the largest N that holds (grow, then
  bisect; each camera at 95 % of its own fps; a setting stops once it fails below the best count held), within
  --budget seconds. The best is run again at its count; if it fails there, the search resumes below it.
  Prints every run, what each setting held and one recommendation line; nothing is extrapolated.

Each configuration runs in a fresh child process (--no-isolate: in this one), so peak RSS is its own.
The machine is probably shared: look at the load average printed with the figures, and compare ratios."""

EPILOG = """\
examples:
  edgeanon bench                                   # every person model, 1 and 2 threads, bundled clip
  edgeanon bench --models nanodet-coco-int8 --threads 2 --rounds 5 --json bench.json
  edgeanon bench --source my.mp4 --spinning off on   # your own video; compare spinning on the whole pipeline
  edgeanon bench --source 0 --seconds 10             # a camera: (b) is capped by the camera's frame rate
  edgeanon bench --cameras 4 --fps 10 --models nanodet-coco-int8 --threads 2
  edgeanon bench --cameras 1-6 --fps 10 --threads 1 2     # scaling sweep
  edgeanon bench --cameras 1 --fps 10 --find-max
  edgeanon bench --recommend my-store.yaml --json rec.json      # what this box should run, measured (~5 min)
  edgeanon bench --recommend my-store.yaml --models nanodet-coco-int8 --threads 2 --budget 60
  edgeanon bench --baseline   # compare with a typical hand-written pipeline (needs: pip install 'edgeanon[bench]')
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("what to measure")
    g.add_argument(
        "--models",
        nargs="+",
        metavar="NAME",
        help="model names from the manifest (default: every person model in it, fp32 and int8)",
    )
    g.add_argument(
        "--threads",
        nargs="+",
        type=int,
        metavar="N",
        help="onnxruntime intra-op thread counts to measure (default: 1 2; --recommend: 1 to the physical cores)",
    )
    g.add_argument(
        "--spinning",
        nargs="+",
        type=_spin,
        metavar="on|off",
        default=None,
        help="thread spinning values to measure (default: the config default, detector.spinning)",
    )
    g.add_argument(
        "--attributes",
        type=int,
        metavar="MIN_FACE_PX",
        help="also run the opt-in attribute stage (age band and gender) with this minimum face size in pixels, "
        "to measure its cost; compare with a run without it",
    )
    g.add_argument(
        "--source",
        metavar="PATH|INDEX",
        help="video file, or a camera index such as 0 (default: the bundled sample clip)",
    )
    g.add_argument(
        "--rounds",
        type=int,
        default=3,
        metavar="N",
        help="alternating rounds of (a), (b) [and the baseline] per configuration (default 3)",
    )
    g.add_argument(
        "--max-frames",
        type=int,
        metavar="N",
        help="stop each pipeline pass after N inferred frames (default: the whole clip)",
    )
    g.add_argument(
        "--baseline",
        action="store_true",
        help="also run benchmarks/baselines/typical.py (cv2 + numpy + supervision + trackers ByteTrack) in the "
        "same rounds and report ours/baseline; needs the bench extra",
    )
    g.add_argument("--baseline-script", metavar="PATH", help=argparse.SUPPRESS)
    g.add_argument("--graph-optimization", choices=("all", "extended", "basic", "disable"), help=argparse.SUPPRESS)
    c = p.add_argument_group("capacity mode")
    c.add_argument(
        "--cameras",
        type=_camera_counts,
        metavar="N|A-B",
        help="run N realtime copies of the clip (a range such as 1-6 sweeps) instead of the throughput test",
    )
    c.add_argument("--fps", type=float, default=10.0, metavar="F", help="analysis frame rate per camera (default 10)")
    c.add_argument(
        "--seconds",
        type=float,
        metavar="S",
        help="capacity: measured seconds per camera count (default 20, after a short warm-up); "
        "--recommend: per run (default a 25th of --budget, 2 to 12); "
        "throughput with a camera source: seconds per pass (default 10)",
    )
    c.add_argument(
        "--find-max",
        action="store_true",
        help="raise the camera count from --cameras (default 1) until it no longer holds; report the largest",
    )
    c.add_argument(
        "--sessions",
        type=int,
        default=1,
        metavar="N",
        help="detector sessions (worker threads) shared by the cameras, as detector.sessions (default 1)",
    )
    c.add_argument(
        "--batch",
        type=int,
        default=1,
        metavar="N",
        help="most frames of different cameras per inference run, as detector.batch (default 1: off)",
    )
    r = p.add_argument_group("recommend mode")
    r.add_argument(
        "--recommend",
        metavar="CONFIG",
        help="measure which model, input size and threads carry the most cameras like CONFIG's on this box, and "
        "how many; every source is replaced by the bundled clip played in real time",
    )
    r.add_argument(
        "--budget",
        type=float,
        default=DEFAULT_BUDGET_S,
        metavar="SECONDS",
        help="--recommend: wall-clock seconds for all of it (default %(default)g); a run that would not fit is not "
        "started",
    )
    r.add_argument(
        "--inputs",
        nargs="+",
        metavar="SIZE",
        help="--recommend: input sizes: 'config' (as the config sets them), 'auto' or WxH (every camera alike), or "
        "a scale such as x0.8 (each camera's own size on the clip, scaled); the first is tried with every model "
        "and thread count, the others with the best of those (default: config x0.8 x1.25)",
    )
    o = p.add_argument_group("output")
    o.add_argument("--json", metavar="FILE", help="write every figure, the machine and the command as JSON")
    o.add_argument(
        "--no-isolate",
        dest="isolate",
        action="store_false",
        help="run every configuration in this process (faster to start; peak RSS then accumulates)",
    )
    o.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    p.add_argument("--task", help=argparse.SUPPRESS)


def add_parser(subparsers, common_parent: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Register ``edgeanon bench`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "bench",
        parents=[common_parent],
        help="measure frames/s, pipeline efficiency and camera capacity on this machine",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p)
    p.set_defaults(func=cmd_bench)
    return p


def _check_recommend(args: argparse.Namespace) -> None:
    if args.recommend is None:
        if args.inputs:
            raise EdgeanonError("--inputs needs --recommend CONFIG")
        return
    given = [
        name
        for name, value in (
            ("--cameras", args.cameras),
            ("--find-max", args.find_max or None),
            ("--source", args.source),
            ("--baseline", args.baseline or None),
            ("--attributes", args.attributes),
            ("--spinning", args.spinning),
            ("--batch", args.batch if args.batch != 1 else None),
        )
        if value is not None
    ]
    if given:
        raise EdgeanonError(
            "--recommend takes the config's cameras and settings and finds the camera count itself: drop "
            + ", ".join(given)
        )
    if not args.budget > 0:
        raise EdgeanonError("--budget must be above 0 seconds")
    from edgeanon.bench import recommend
    from edgeanon.bench.site import check_site

    check_site(args.recommend)  # the config loader's own messages, before anything is measured
    recommend.check_options(args)


def _check(args: argparse.Namespace) -> dict[str, Any]:
    """Refuse bad values before anything is measured; the source to measure."""
    _check_recommend(args)
    if min(args.threads or [1]) < 1 or args.rounds < 1 or args.sessions < 1 or args.batch < 1:
        raise EdgeanonError("--threads, --rounds, --sessions and --batch must be at least 1")
    if not 0 < args.fps <= 60:
        raise EdgeanonError("--fps must be above 0 and at most 60")
    from edgeanon.bench.recommend import person_models
    from edgeanon.config.stages import DetectorConfig
    from edgeanon.pixels.detector.manifest import resolve

    for m in args.models or []:
        resolve(m)  # an unknown name fails now, with the list of known ones
    source = parse_source(args.source)
    if args.recommend is None:
        args.models = args.models or person_models()
        args.threads = args.threads or list(DEFAULT_THREADS)
        if args.spinning is None:
            args.spinning = [DetectorConfig().spinning]
    return source


def _start_report(args: argparse.Namespace, out: TextIO) -> dict[str, Any]:
    """Print the machine and the load average, and start the JSON report with them."""
    machine = describe_machine()
    print_machine(machine, out)
    load_before = load_average()
    out.write(f"load average before: {' '.join(map(str, load_before))}\n\n")
    out.flush()
    started = datetime.now(UTC)
    return {
        "tool": "edgeanon bench",
        "date": started.isoformat(timespec="seconds"),
        "command": "edgeanon bench " + shlex.join(args.argv) if hasattr(args, "argv") else shlex.join(sys.argv),
        "machine": machine,
        "load_average_before": load_before,
        "isolated": args.isolate,
    }


def cmd_bench(args: argparse.Namespace) -> int:
    if args.task:  # a child process of an isolated run
        print(json.dumps(sweep.execute(json.loads(args.task))), flush=True)
        return 0
    out = sys.stdout
    if args.baseline:
        if baseline.extra_missing():
            print(f"edgeanon: error: {baseline.HINT}", file=sys.stderr)
            return 2
        baseline_script = str(baseline.find_script(args.baseline_script))
    else:
        baseline_script = None
    source = _check(args)
    report = _start_report(args, out)
    if args.recommend is not None:
        from edgeanon.bench.recommend import recommend

        report["recommend"] = recommend(args, report["machine"], out)
    elif args.cameras is not None or args.find_max:
        if source["kind"] != "file":
            raise EdgeanonError("capacity mode plays copies of a video file in real time: pass a file, not a camera")
        report["capacity"] = sweep.capacity_sweep(args, source, out)
    else:
        report["throughput"] = sweep.throughput_sweep(args, source, baseline_script, out)
    report["load_average_after"] = load_average()
    out.write(f"\nload average after: {' '.join(map(str, report['load_average_after']))}\n")
    if args.json:
        path = Path(args.json)
        path.write_text(json.dumps(report, indent=2, default=json_default) + "\n", encoding="utf-8")
        out.write(f"wrote {path}\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="edgeanon bench",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    add_arguments(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point (``python -m edgeanon.bench.command``), also used for isolated child processes."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = [a for a in argv if not a.startswith("--task")]
    level = logging.WARNING if args.verbose == 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return cmd_bench(args)
    except EdgeanonError as exc:
        print(f"edgeanon: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
