#!/usr/bin/env bash
# Recreate the test media in tests/data from the Debian package opencv-doc
# (OpenCV sample data). See tests/data/README.md for provenance, licence and
# checksums. Requires: opencv-doc, ffmpeg.
set -euo pipefail

SRC_DIR=/usr/share/doc/opencv-doc/examples/data
SRC="$SRC_DIR/vtest.avi"
STILLS=(basketball1.png basketball2.png messi5.jpg fruits.jpg)

cd "$(dirname "$0")"

if [[ ! -r "$SRC" ]]; then
    echo "missing $SRC (apt-get install opencv-doc)" >&2
    exit 1
fi

# Frames 0-249 of vtest.avi as a lossless stream copy (no re-encode).
# vtest.avi has keyframes only at 0/250/500/750, so 0-249 is the first
# GOP and can be cut without decoding.
ffmpeg -v error -y -i "$SRC" -c copy -frames:v 250 vtest-0-249.avi

mkdir -p stills
for f in "${STILLS[@]}"; do
    cp "$SRC_DIR/$f" "stills/$f"
done

sha256sum vtest-0-249.avi "${STILLS[@]/#/stills/}"
