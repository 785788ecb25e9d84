"""edgeanon: count people on the edge, export only anonymous aggregates."""

import os

__version__ = "0.1.0"

# onnxruntime >= 1.29 ships POSIX telemetry: it writes a device database under ~/.cache/Microsoft and
# tries to upload usage events. A privacy product sends nothing and writes nothing it does not declare,
# so it is switched off before onnxruntime can be imported anywhere in this process.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"
