"""`edgeanon models`: the models the manifest ships, with their sources and licences, each file's sha256 checked
on request. A model that fails the check makes the exit code 2: the same file would be refused at load time."""

from __future__ import annotations

from edgeanon.errors import EdgeanonError
from edgeanon.pixels.detector.manifest import load_manifest, read_verified


def list_models(*, verify: bool = False, verbose: bool = False) -> int:
    """Print the manifest's models (``verbose``: size, cost and training data too); the exit code."""
    manifest, root = load_manifest()
    print(f"models directory: {root}")
    failed = 0
    for name, entry in manifest.models.items():
        mark = " (default)" if name == manifest.default else ""
        status = "not checked"
        if verify:
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
        if verbose:
            if entry.params:
                print(f"      params: {entry.params:,}  GFLOPs: {entry.gflops}")
            if entry.training_data:
                print(f"      training data: {entry.training_data}")
    return 2 if failed else 0
