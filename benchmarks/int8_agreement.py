"""int8 vs fp32 person counts on the 50 sampled frames (every 5th of tests/data/vtest-0-249.avi), issue 15 item 5.

Runs each model at 416x416 stretch (the shipped geometry), score 0.5, NMS IoU 0.5, min box 8 px (the runtime's
defaults, through benchmarks/nanodet_runner.py), and writes per-frame counts to JSON. The first model is the
reference (fp32). Under emulation of an AVX2-only CPU run it as

    nohup qemu-x86_64 -cpu EPYC-Milan .venv/bin/python benchmarks/int8_agreement.py --threads 1 \
        --out /tmp/agree-avx2.json models/nanodet-coco.onnx models/nanodet-coco-int8.onnx &

(1 thread and no spinning: 2 threads hang under qemu user emulation). The JSON records numpy's view of the
CPU features, so it shows whether the run saw AVX-512 or not. Timing under emulation means nothing.

    python benchmarks/int8_agreement.py --summary /tmp/agree-avx2.json [more.json ...]   # the agreement table
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def summarise(data: dict) -> list[str]:
    names = list(data["counts"])
    ref = data["counts"][names[0]]
    rows = [
        f"reference: {names[0]}; frames: {len(ref)}; size {data.get('size', '416x416')}; machine: {data['machine']}",
        "| model | equal | within 1 | mean diff | mean abs diff | max abs diff |",
        "|---|---|---|---|---|---|",
    ]
    for n in names[1:]:
        c = data["counts"][n]
        d = [c[k] - ref[k] for k in ref]
        rows.append(
            f"| {n} | {sum(x == 0 for x in d)}/{len(d)} | {sum(abs(x) <= 1 for x in d)}/{len(d)} | "
            f"{sum(d) / len(d):+.2f} | {sum(map(abs, d)) / len(d):.2f} | {max(map(abs, d))} |"
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", type=Path, help="first = reference")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--size", default="416x416", help="WxH stretch input (free-dims models for other sizes)")
    ap.add_argument("--every", type=int, default=5, help="every n-th frame of the 250 (5: the 50 sampled frames)")
    ap.add_argument("--out", type=Path)
    ap.add_argument(
        "--summary", type=Path, nargs="+", help="print the table of earlier --out files (merged, first = reference)"
    )
    args = ap.parse_args()
    if args.summary:
        merged = json.loads(args.summary[0].read_text())
        for extra in args.summary[1:]:
            other = json.loads(extra.read_text())
            merged["counts"].update(other["counts"])
            merged["seconds"].update(other["seconds"])
        print("\n".join(summarise(merged)))
        return
    from nanodet_runner import CLIP, Runner, machine, read_frames

    wanted = list(range(0, 250, args.every))
    w, h = (int(v) for v in args.size.split("x"))
    frames = read_frames(CLIP, set(wanted))
    data: dict = {
        "machine": machine(),
        "frames": wanted,
        "size": args.size,
        "threads": args.threads,
        "counts": {},
        "seconds": {},
    }
    for path in args.models:
        t0 = time.time()
        r = Runner(path, w, h, threads=args.threads)
        data["counts"][path.name] = {str(k): r.count(frames[k]) for k in wanted}
        data["seconds"][path.name] = round(time.time() - t0, 1)
        print(path.name, data["seconds"][path.name], "s", flush=True)
        if args.out:  # write as we go: emulated runs are long
            args.out.write_text(json.dumps(data, indent=1))
    print("\n".join(summarise(data)))


if __name__ == "__main__":
    main()
