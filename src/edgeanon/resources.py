"""Where shipped files live, in a source checkout and in an installed wheel alike."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT_ROOT = PACKAGE_DIR.parent.parent  # src/edgeanon -> repository root

MODELS_ENV = "EDGEANON_MODELS_DIR"
SAMPLE_CLIP_NAME = "vtest-0-249.avi"


def models_dir() -> Path:
    """``$EDGEANON_MODELS_DIR``, else the wheel's ``edgeanon/models``, else the checkout's ``models/``."""
    env = os.environ.get(MODELS_ENV)
    if env:
        return Path(env).expanduser()
    packaged = PACKAGE_DIR / "models"
    if (packaged / "manifest.json").is_file():
        return packaged
    return _CHECKOUT_ROOT / "models"


def sample_clip() -> Path:
    """The bundled cut of OpenCV's vtest.avi (see tests/data/README.md)."""
    packaged = PACKAGE_DIR / "data" / SAMPLE_CLIP_NAME
    if packaged.is_file():
        return packaged
    return _CHECKOUT_ROOT / "tests" / "data" / SAMPLE_CLIP_NAME


def default_config() -> Path:
    """The demo config that ``edgeanon run`` uses without arguments."""
    packaged = PACKAGE_DIR / "data" / "default.yaml"
    if packaged.is_file():
        return packaged
    return _CHECKOUT_ROOT / "configs" / "default.yaml"
