"""A local wheelhouse repacked from the distributions installed in this environment.

The wheel test installs edgeanon into an isolated venv with no network and no system site packages. Its
dependencies must then come from somewhere: they are repacked, file for file as their RECORD lists them, from
the environment the tests run in, so the test needs nothing outside the project's own environment and still
proves that the wheel's declared dependencies resolve and import.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as md
import re
import zipfile
from pathlib import Path

from pip._vendor.packaging.requirements import Requirement


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_closure(root: str) -> list[md.Distribution]:
    """``root`` and everything it needs at run time (extras ignored), as installed here."""
    seen: dict[str, md.Distribution] = {}
    todo = [root]
    while todo:
        name = _norm(todo.pop())
        if name in seen:
            continue
        dist = md.distribution(name)
        seen[name] = dist
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return list(seen.values())


def _record_line(arcname: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def repack(dist: md.Distribution, out_dir: Path) -> Path:
    """Write ``dist`` back into a wheel; files outside site-packages (console scripts) are left out, since
    pip regenerates entry-point scripts from ``entry_points.txt``."""
    tags = [
        ln.split(":", 1)[1].strip().split("-") for ln in dist.read_text("WHEEL").splitlines() if ln.startswith("Tag:")
    ]
    # a wheel built for several tags (py2.py3-none-any) names all of them, each part as a dotted set
    tag = "-".join(".".join(dict.fromkeys(t[i] for t in tags)) for i in range(3))
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    version = dist.version
    whl = out_dir / f"{name}-{version}-{tag}.whl"
    records: list[str] = []
    record_name = None
    with zipfile.ZipFile(whl, "w", zipfile.ZIP_STORED) as z:
        for f in dist.files or []:
            arc = f.as_posix()
            if arc.startswith("..") or "__pycache__" in arc or arc.endswith(".pyc"):
                continue
            if arc.endswith(".dist-info/RECORD"):
                record_name = arc
                continue
            if arc.endswith(("INSTALLER", "REQUESTED", "direct_url.json")) and ".dist-info/" in arc:
                continue
            path = Path(dist.locate_file(f))
            if not path.is_file():
                continue
            data = path.read_bytes()
            z.writestr(arc, data)
            records.append(_record_line(arc, data))
        if record_name is None:
            raise RuntimeError(f"{dist.metadata['Name']} has no RECORD; it cannot be repacked")
        records.append(f"{record_name},,")
        z.writestr(record_name, "\n".join(records) + "\n")
    return whl


def build(root: str, out_dir: Path, skip: set[str] = frozenset()) -> list[Path]:
    """Repack ``root``'s run-time closure into ``out_dir``, leaving out the names in ``skip``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return [repack(d, out_dir) for d in runtime_closure(root) if _norm(d.metadata["Name"]) not in skip]
