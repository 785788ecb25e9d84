"""The deployment files' assumptions, checked without a Docker engine or a running systemd.

- Dockerfile: stages, copied paths (against .dockerignore and what the wheel build needs), commands, route, port,
  user; then the entrypoint itself runs the real pipeline with the image's environment, and its HEALTHCHECK
  command is run against it.
- systemd unit: the required keys, `systemd-analyze verify`, and the hardening tried for real: the pipeline runs
  under the seccomp rules of MemoryDenyWriteExecute=yes, and strace shows it uses no system call outside
  SystemCallFilter=@system-service and no socket family outside RestrictAddressFamilies=.
- Prometheus and Grafana: promtool on the configs and rules (with unit tests of the rules), and every metric a
  rule or dashboard names exists.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENTRYPOINT = ROOT / "deploy" / "docker" / "entrypoint.sh"
DOCKER_CONFIG = ROOT / "deploy" / "docker" / "edgeanon.yaml"
UNIT = ROOT / "deploy" / "systemd" / "edgeanon.service"
PROM = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "edgeanon-dashboard.json"
PROMTOOL = shutil.which("promtool")
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
STRACE = shutil.which("strace")
IN_CI = bool(os.environ.get("CI"))


# ---------------------------------------------------------------- Dockerfile model


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, instr: str) -> list[str]:
        return [rest for i, rest in self.instructions if i == instr]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARGs and the stages, with continuation lines joined and comments dropped (as Docker does)."""
    logical: list[str] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append(buf + line)
        buf = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        instr, _, rest = line.partition(" ")
        instr, rest = instr.upper(), rest.strip()
        if instr == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name, parts[0]))
        elif instr == "ARG" and not stages:
            key, _, value = rest.partition("=")
            args[key] = value
        elif stages:
            stages[-1].instructions.append((instr, rest))
    return args, stages


def split_flags(rest: str) -> tuple[dict[str, str], list[str]]:
    """``--from=build --chmod=0755 a b`` -> ({'from': 'build', 'chmod': '0755'}, ['a', 'b']); exec (JSON) forms too,
    also after HEALTHCHECK's ``CMD``."""
    flags: dict[str, str] = {}
    while m := re.match(r"--([\w-]+)(?:=(\S*))?\s*", rest):
        flags[m.group(1)] = m.group(2) or ""
        rest = rest[m.end() :]
    head = re.match(r"(CMD\s+)?(\[.*\])$", rest, re.S)
    if head:
        return flags, (["CMD"] if head.group(1) else []) + json.loads(head.group(2))
    return flags, shlex.split(rest)


def exec_form(rest: str) -> list[str]:
    value = json.loads(rest)
    assert isinstance(value, list), f"use the exec (JSON) form, not {rest!r}"
    return value


def dockerignore_excludes(rel: str, rules: list[str]) -> bool:
    """Docker's rules: patterns match a path or any of its parents, ``!`` re-includes, the last match wins."""

    def to_regex(pattern: str) -> re.Pattern[str]:
        out, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out, i = out + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                out, i = out + ".*", i + 2
            elif pattern[i] == "*":
                out, i = out + "[^/]*", i + 1
            elif pattern[i] == "?":
                out, i = out + "[^/]", i + 1
            else:
                out, i = out + re.escape(pattern[i]), i + 1
        return re.compile(out + "$")

    parts = rel.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for rule in rules:
        negate = rule.startswith("!")
        pattern = rule[1:] if negate else rule
        rx = to_regex(pattern.strip("/"))
        if any(rx.match(c) for c in candidates):
            excluded = not negate
    return excluded


@pytest.fixture(scope="module")
def dockerfile() -> tuple[dict[str, str], list[Stage]]:
    return parse_dockerfile(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def ignore_rules() -> list[str]:
    lines = [ln.strip() for ln in DOCKERIGNORE.read_text().splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


@pytest.fixture(scope="module")
def cli_help() -> dict[str, str]:
    """`edgeanon --help` and each subcommand's help, from the installed console script when there is one."""
    script = shutil.which("edgeanon", path=str(Path(sys.executable).parent))
    cmd = [script] if script else [sys.executable, "-m", "edgeanon"]
    top = subprocess.run([*cmd, "--help"], capture_output=True, text=True, check=True, timeout=60).stdout
    subs = re.findall(r"^ {4}([a-z][a-z-]+)", top, re.M)
    helps = {"": top}
    for sub in subs:
        helps[sub] = subprocess.run(
            [*cmd, sub, "--help"], check=False, capture_output=True, text=True, timeout=60
        ).stdout
    return helps


def test_dockerfile_stages_reference_each_other(dockerfile):
    args, stages = dockerfile
    assert [s.name for s in stages] == ["build", "runtime"]
    assert re.fullmatch(r"python:3\.11-slim(-[a-z]+)?", args["PYTHON_IMAGE"]), args
    for i, stage in enumerate(stages):
        assert stage.base == "${PYTHON_IMAGE}"
        earlier = {s.name for s in stages[:i]}
        for instr, rest in stage.instructions:
            refs = re.findall(r"--from=([\w.-]+)|\bfrom=([\w.-]+)", rest) if instr in {"COPY", "RUN"} else []
            for ref in (a or b for a, b in refs):
                assert ref in earlier, f"{stage.name}: {instr} uses stage {ref!r}, which is not an earlier stage"
    # the build stage writes the wheel where the runtime stage mounts it from
    build_runs = " ".join(stages[0].all("RUN"))
    assert "pip wheel" in build_runs and "--wheel-dir /dist" in build_runs
    (install,) = [r for r in stages[1].all("RUN") if "from=build" in r]
    mount = dict(kv.split("=", 1) for kv in re.search(r"--mount=(\S+)", install).group(1).split(","))
    assert mount["from"] == "build" and mount["source"] == "/dist" and "/dist/edgeanon-*.whl" in install


def test_dockerfile_copies_exist_in_the_context_and_cover_the_wheel_build(dockerfile, ignore_rules):
    _, stages = dockerfile
    copied: list[str] = []
    for stage in stages:
        for rest in stage.all("COPY") + stage.all("ADD"):
            flags, words = split_flags(rest)
            if "from" in flags:
                continue
            *sources, _dest = words
            for src in sources:
                rel = src.rstrip("/")
                path = ROOT / rel
                assert path.exists(), f"COPY source {src} does not exist"
                files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
                for f in files:
                    frel = f.relative_to(ROOT).as_posix()
                    if "__pycache__" in frel or frel.endswith(".pyc"):
                        continue
                    assert not dockerignore_excludes(frel, ignore_rules), f"{frel} is copied but .dockerignore drops it"
                copied.append(rel)
    # The wheel build (pyproject.toml) needs its readme, the package and every force-included path: missing any of
    # them fails `pip wheel` inside the build stage, so each must be copied.
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = [meta["project"]["readme"], *meta["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]]
    needed += list(meta["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"])
    for need in needed:
        assert any(need == c or need.startswith(c + "/") for c in copied), f"the wheel needs {need}, not copied"
    # nothing else of the repository leaks into the build context
    for private in [".git/HEAD", ".venv/bin/python", "tests/test_deploy.py", "edgeanon-data/aggregates.db"]:
        assert dockerignore_excludes(private, ignore_rules), private


def test_dockerfile_commands_resolve(dockerfile, cli_help):
    _, stages = dockerfile
    runtime = stages[-1]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "edgeanon" in scripts
    (entry,) = runtime.all("ENTRYPOINT")
    assert exec_form(entry) == ["edgeanon-entrypoint"]
    installs = [split_flags(r) for r in runtime.all("COPY")]
    assert ({"chmod": "0755"}, ["deploy/docker/entrypoint.sh", "/usr/local/bin/edgeanon-entrypoint"]) in installs
    assert os.access(ENTRYPOINT, os.X_OK) and ENTRYPOINT.read_text().startswith("#!/bin/sh\n")
    subprocess.run(["sh", "-n", str(ENTRYPOINT)], check=True, timeout=30)
    script = ENTRYPOINT.read_text()
    assert 'exec edgeanon "$@"' in script  # PID 1 is edgeanon itself, so docker stop's SIGTERM flushes the bucket
    (cmd,) = runtime.all("CMD")
    subcommand = exec_form(cmd)[0]
    assert subcommand in cli_help and subcommand != ""
    # every `edgeanon <sub> --flag` the image runs (build steps and the entrypoint) exists
    code = "\n".join(ln for ln in [*runtime.all("RUN"), *script.splitlines()] if not ln.lstrip().startswith("#"))
    uses = re.findall(r"(?<!-)\bedgeanon ([a-z][a-z-]*)((?: --[a-z-]+)*)", code)
    assert ("models", " --verify") in uses
    for sub, opts in uses:
        assert sub in cli_help, f"`edgeanon {sub}` is not a subcommand"
        for opt in opts.split():
            assert opt in cli_help[sub], f"`edgeanon {sub}` has no {opt}"


def test_dockerfile_runtime_settings(dockerfile):
    from edgeanon.config.http_server import HttpConfig
    from edgeanon.config.loader import load_config

    _, stages = dockerfile
    runtime = stages[-1]
    (user,) = runtime.all("USER")
    assert user.split(":")[0] not in {"root", "0", ""}, "the image must not run as root"
    assert [int(p) for e in runtime.all("EXPOSE") for p in e.split()] == [HttpConfig().port]
    (volume,) = runtime.all("VOLUME")
    assert exec_form(volume) == ["/var/lib/edgeanon"]
    assert runtime.all("WORKDIR")[-1] == "/var/lib/edgeanon"  # a relative storage.directory lands in the volume
    env = image_env(runtime)
    assert env["ORT_DISABLE_TELEMETRY"] == "1" and env["OPENCV_LOG_LEVEL"] == "ERROR"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"  # a read-only root: no .pyc writes to attempt
    assert not env["HOME"].startswith(("/var/lib/edgeanon", "/root", "/tmp"))
    (health,) = runtime.all("HEALTHCHECK")
    flags, words = split_flags(health)
    assert words[0] == "CMD" and _seconds(flags["start-period"]) >= 30  # loading and warming up the detector
    assert env["EDGEANON_HEALTHZ_URL"] == f"http://127.0.0.1:{HttpConfig().port}/healthz"
    # the documented container config: binds all addresses inside the container, with auth, storing in the volume
    cfg = load_config(DOCKER_CONFIG)
    assert cfg.http.host == "0.0.0.0" and cfg.http.port == HttpConfig().port and cfg.http.auth is not None
    assert cfg.storage.directory == "/var/lib/edgeanon"


def _seconds(value: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)([smh])", value))


def image_env(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for rest in stage.all("ENV"):
        for word in shlex.split(rest):
            key, _, value = word.partition("=")
            env[key] = value
    return env


# ---------------------------------------------------------------- one real run, the way the image and unit run it

# Installs the seccomp rules that systemd's MemoryDenyWriteExecute=yes installs (systemd 252, seccomp-util.c:
# mmap with PROT_WRITE|PROT_EXEC, mprotect/pkey_mprotect adding PROT_EXEC and shmat with SHM_EXEC fail with
# EPERM), checks that they bite, then execs the command: the filter holds for every process it starts.
MDWE_WRAPPER = r"""
import ctypes, mmap, os, sys
lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
class Cmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]
lib.seccomp_init.restype = ctypes.c_void_p
lib.seccomp_init.argtypes = [ctypes.c_uint32]
lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                       ctypes.POINTER(Cmp)]
lib.seccomp_load.argtypes = [ctypes.c_void_p]
ALLOW, ERRNO_EPERM, MASKED_EQ = 0x7FFF0000, 0x00050000 | 1, 7
ctx = lib.seccomp_init(ALLOW)
for name, mask in (("mmap", mmap.PROT_WRITE | mmap.PROT_EXEC), ("mprotect", mmap.PROT_EXEC),
                   ("pkey_mprotect", mmap.PROT_EXEC), ("shmat", 0o100000)):
    rule = (Cmp * 1)(Cmp(2, MASKED_EQ, mask, mask))
    assert lib.seccomp_rule_add_array(ctx, ERRNO_EPERM, lib.seccomp_syscall_resolve_name(name.encode()), 1, rule) == 0
assert ctypes.CDLL(None).prctl(38, 1, 0, 0, 0) == 0  # PR_SET_NO_NEW_PRIVS, as NoNewPrivileges=yes
assert lib.seccomp_load(ctx) == 0
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    sys.exit("the W+X mapping was allowed: the filter is not active")
except PermissionError:
    print("mdwe-wrapper: write+execute memory is now refused", file=sys.stderr, flush=True)
os.execvp(sys.argv[1], sys.argv[1:])
"""


@dataclass
class ContainerLikeRun:
    returncode: int
    stdout: str
    stderr: str
    cwd: Path
    mdwe: bool
    trace: Path | None
    healthcheck: subprocess.CompletedProcess
    healthcheck_bad_path: subprocess.CompletedProcess


def _libseccomp() -> bool:
    try:
        import ctypes

        ctypes.CDLL("libseccomp.so.2")
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def container_like_run(dockerfile, tmp_path_factory) -> ContainerLikeRun:
    """The image's entrypoint running the bundled demo with the image's environment, HOME and working directory,
    under the MemoryDenyWriteExecute seccomp rules, traced by strace; its HEALTHCHECK command runs meanwhile."""
    _, stages = dockerfile
    runtime = stages[-1]
    env = image_env(runtime)
    bindir = Path(sys.executable).parent
    if shutil.which("edgeanon", path=str(bindir)) is None:
        pytest.skip(f"no edgeanon console script next to {sys.executable} (pip install -e . puts one there)")
    env["PATH"] = env["PATH"].replace("/opt/edgeanon/bin", str(bindir)).replace("$PATH", "/usr/bin:/bin")
    state = tmp_path_factory.mktemp("var-lib-edgeanon")  # the volume: the only writable place
    mdwe = _libseccomp()
    cmd = ["sh", str(ENTRYPOINT), "run", "--duration", "8", "--port", "0"]
    if mdwe:
        cmd = [sys.executable, "-c", MDWE_WRAPPER, *cmd]
    trace = None
    if STRACE:
        trace = state.parent / f"{state.name}.strace"
        cmd = [STRACE, "-f", "-qq", "-o", str(trace), *cmd]
    proc = subprocess.Popen(cmd, cwd=state, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    err_lines: list[str] = []
    port = None
    deadline = time.monotonic() + 120
    while port is None and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        err_lines.append(line)
        if m := re.search(r"serving https?://[^:]+:(\d+)/metrics", line):
            port = int(m.group(1))
    if port is None:
        proc.kill()
        raise AssertionError("the entrypoint did not start edgeanon:\n" + "".join(err_lines)[-3000:])
    (health,) = runtime.all("HEALTHCHECK")
    probe = split_flags(health)[1][1:]  # the command after CMD
    base = env["EDGEANON_HEALTHZ_URL"].replace(":9108/", f":{port}/")
    time.sleep(1.0)
    hc = subprocess.run(
        probe, check=False, env={**env, "EDGEANON_HEALTHZ_URL": base}, capture_output=True, text=True, timeout=30
    )
    bad = subprocess.run(
        probe,
        check=False,
        env={**env, "EDGEANON_HEALTHZ_URL": base.replace("/healthz", "/no-such-page")},
        capture_output=True,
        text=True,
        timeout=30,
    )
    out, rest = proc.communicate(timeout=120)
    return ContainerLikeRun(proc.returncode, out, "".join(err_lines) + rest, state, mdwe, trace, hc, bad)


@pytest.mark.slow
def test_entrypoint_runs_the_pipeline_with_the_image_environment(container_like_run):
    run = container_like_run
    assert run.returncode == 0, run.stderr[-3000:]
    assert "frame accounting balanced: True" in run.stderr
    inferred = sum(int(n) for n in re.findall(r"sample: frames (\d+) inferred", run.stdout))
    assert inferred >= 20, run.stdout[-2000:]  # the detector really ran, not just the process
    # the demo's relative storage directory landed in the working directory, which the image makes the volume
    assert sorted(p.name for p in run.cwd.rglob("*") if p.is_file()) == ["aggregates.db", "audit.jsonl"]
    # the HEALTHCHECK command, exactly as the Dockerfile has it: passes on /healthz, fails on a wrong path
    assert run.healthcheck.returncode == 0, run.healthcheck.stderr
    assert run.healthcheck_bad_path.returncode != 0


@pytest.mark.slow
def test_pipeline_runs_under_memory_deny_write_execute(container_like_run):
    if not container_like_run.mdwe:
        if IN_CI:
            pytest.fail("libseccomp.so.2 is missing; CI must try MemoryDenyWriteExecute for real")
        pytest.skip("libseccomp.so.2 is not installed: cannot reproduce MemoryDenyWriteExecute=yes")
    assert "write+execute memory is now refused" in container_like_run.stderr
    assert container_like_run.returncode == 0
    assert "MemoryDenyWriteExecute=yes" in UNIT.read_text().splitlines()
    if container_like_run.trace is not None:  # nothing in the run even tried (only the wrapper's own probe)
        refused = [
            ln
            for ln in container_like_run.trace.read_text().splitlines()
            if re.search(r"\b(mmap|mprotect|pkey_mprotect|shmat)\(.*= -1 EPERM", ln)
        ]
        assert len(refused) == 1 and "PROT_READ|PROT_WRITE|PROT_EXEC" in refused[0], refused[:5]


def _syscall_groups() -> dict[str, list[str]]:
    out = subprocess.run(
        [SYSTEMD_ANALYZE or "systemd-analyze", "syscall-filter", "--no-pager"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    groups: dict[str, list[str]] = {}
    current = None
    for line in out.splitlines():
        if line.startswith("@"):
            current = line.strip()
            groups[current] = []
        elif current and line.strip() and not line.strip().startswith("#"):
            groups[current].append(line.strip())
    return groups


def _expand(groups: dict[str, list[str]], name: str) -> set[str]:
    out: set[str] = set()
    for item in groups[name]:
        out |= _expand(groups, item) if item.startswith("@") else {item}
    return out


@pytest.mark.slow
def test_pipeline_stays_inside_the_units_syscall_filter_and_address_families(container_like_run):
    if container_like_run.trace is None:
        pytest.skip("strace is not installed (.ci/run installs it)")
    if SYSTEMD_ANALYZE is None:
        pytest.skip("systemd-analyze is not installed: cannot expand @system-service")
    unit = read_unit()
    (syscall_filter,) = unit["Service"]["SystemCallFilter"]
    allowed: set[str] = set()
    groups = _syscall_groups()
    for item in syscall_filter.split():
        allowed |= _expand(groups, item) if item.startswith("@") else {item}
    trace = container_like_run.trace.read_text()
    if container_like_run.mdwe:  # leave out the test's wrapper: everything before it execs the entrypoint
        start = re.search(r'^\d+\s+execve\("[^"]*/sh", \["sh"', trace, re.M)
        assert start, "the wrapper never exec'd the entrypoint"
        trace = trace[start.start() :]
    used = set(re.findall(r"^\d+\s+([a-z0-9_]+)\(", trace, re.M))
    assert {"openat", "mmap", "futex"} <= used  # the trace is real
    assert used - allowed == set(), f"system calls outside {syscall_filter}: {sorted(used - allowed)}"
    (families,) = unit["Service"]["RestrictAddressFamilies"]
    opened = set(re.findall(r"\bsocket\((AF_[A-Z0-9]+)", trace))
    assert opened <= set(families.split()), f"socket families outside RestrictAddressFamilies: {opened}"
    # and nothing written outside the state directory: a read-only root file system (and ProtectSystem=strict)
    # would refuse any such write
    writes = []
    for line in trace.splitlines():
        if " = -1 " in line:
            continue
        m = re.search(r'\b(?:openat|open|creat)\((?:AT_FDCWD, )?"([^"]+)", [^)]*(O_WRONLY|O_RDWR|O_CREAT)', line)
        m = m or re.search(r'\b(?:mkdir|mkdirat|rename|renameat2?|unlink|unlinkat)\((?:AT_FDCWD, )?"([^"]+)"', line)
        if m:
            path = Path(m.group(1)) if m.group(1).startswith("/") else container_like_run.cwd / m.group(1)
            if str(path) not in {"/dev/null", "/dev/tty"} and not path.is_relative_to(container_like_run.cwd):
                writes.append(line)
    assert writes == [], "\n".join(writes[:20])


# ---------------------------------------------------------------- systemd unit


def read_unit(path: Path = UNIT) -> dict[str, dict[str, list[str]]]:
    """configparser for the sections and keys; every value of a repeated key (Environment=) kept in order."""
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",), comment_prefixes=("#",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    repeated: dict[str, dict[str, list[str]]] = {s: {} for s in parser.sections()}
    section = None
    for line in path.read_text().splitlines():
        if m := re.match(r"^\[(\w+)\]$", line):
            section = m.group(1)
        elif section and (m := re.match(r"^([A-Za-z]+)=(.*)$", line)):
            repeated[section].setdefault(m.group(1), []).append(m.group(2))
    for s in parser.sections():
        for key in parser[s]:
            assert repeated[s][key][-1] == parser[s][key]  # the two readings agree
    return repeated


def test_systemd_unit_has_the_required_settings(cli_help):
    from edgeanon.config.loader import load_config
    from edgeanon.run.wiring import LIVENESS_S

    unit = read_unit()
    svc = {k: v[-1] for k, v in unit["Service"].items()}
    required = {
        "Type": "notify",
        "NotifyAccess": "main",
        "WatchdogSec": "30",
        "Restart": "on-failure",
        "DynamicUser": "yes",
        "StateDirectory": "edgeanon",
        "ConfigurationDirectory": "edgeanon",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
        "LimitCORE": "0",
        "SupplementaryGroups": "video",
        "MemoryDenyWriteExecute": "yes",
    }
    assert {k: svc.get(k) for k in required} == required
    assert "ORT_DISABLE_TELEMETRY=1" in unit["Service"]["Environment"]
    # systemd restarts a hung process only after /healthz would already have said so
    assert int(svc["WatchdogSec"]) > LIVENESS_S
    exe, sub, *args = shlex.split(svc["ExecStart"])
    assert exe == "/usr/local/bin/edgeanon" and sub == "run" and args[-1] == "/etc/edgeanon/config.yaml"
    for opt in args[:-1]:
        assert opt in cli_help["run"], f"`edgeanon run` has no {opt}"
    # ConfigurationDirectory is /etc/<it>; StateDirectory is /var/lib/<it>, where the example store config stores
    assert f"/etc/{svc['ConfigurationDirectory']}/" in args[-1]
    store_cfg = load_config(ROOT / "configs" / "store-example.yaml")
    assert store_cfg.storage.directory == f"/var/lib/{svc['StateDirectory']}"
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def _verifiable_copy(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at the edgeanon installed here (verify checks the binary exists)."""
    script = shutil.which("edgeanon", path=str(Path(sys.executable).parent)) or shutil.which("edgeanon")
    if script is None:
        pytest.skip("no edgeanon console script installed to point ExecStart at")
    unit = tmp_path / "edgeanon.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/edgeanon ", f"{script} "))
    return unit


def test_systemd_analyze_verify(tmp_path):
    if SYSTEMD_ANALYZE is None:
        pytest.skip("systemd-analyze is not installed here (Debian package systemd); only the keys were checked")
    unit = _verifiable_copy(tmp_path)
    proc = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", str(unit)], check=False, capture_output=True, text=True, timeout=120
    )
    complaints = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "edgeanon.service" in ln]
    assert proc.returncode == 0 and complaints == [], proc.stdout + proc.stderr
    # the hardening adds up: systemd's own exposure score stays low (0 best, 10 worst; the threshold is x10)
    sec = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=true", "--threshold=20", "--no-pager", str(unit)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert sec.returncode == 0, sec.stdout[-3000:] + sec.stderr


# ---------------------------------------------------------------- Prometheus and Grafana


def _promtool(*args: str) -> subprocess.CompletedProcess:
    if PROMTOOL is None:
        if IN_CI:
            pytest.fail("promtool is missing; .ci/run installs Debian's prometheus package, which ships it")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return subprocess.run([PROMTOOL, *args], check=False, capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus-head-office.yml"])
def test_promtool_check_config(config):
    proc = _promtool("check", "config", str(PROM / config))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 2 rule files found" in proc.stdout


def test_promtool_check_agent_config():
    proc = _promtool("check", "config", "--agent", str(PROM / "prometheus-agent.yml"))
    assert proc.returncode == 0 and "SUCCESS" in proc.stdout, proc.stdout + proc.stderr


def test_promtool_check_and_unit_test_rules():
    rules = sorted((PROM / "rules").glob("*.yml"))
    assert [r.name for r in rules] == ["edgeanon-alerts.yml", "edgeanon-recording.yml"]
    proc = _promtool("check", "rules", *map(str, rules))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = _promtool("test", "rules", str(PROM / "tests" / "edgeanon-rules.test.yml"))
    assert proc.returncode == 0 and "SUCCESS" in proc.stdout, proc.stdout + proc.stderr


def readme_metrics() -> set[str]:
    """Series names the README's metrics table promises, with a histogram's _bucket/_sum/_count."""
    rows = re.findall(r"^\| `(edgeanon_[a-z0-9_]+)` \| (\w+) \|", (ROOT / "README.md").read_text(), re.M)
    assert len(rows) >= 10
    names = set()
    for name, kind in rows:
        names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"} if kind == "histogram" else {name}
    return names


def recording_rules() -> dict[str, str]:
    doc = yaml.safe_load((PROM / "rules" / "edgeanon-recording.yml").read_text())
    return {r["record"]: r["expr"] for g in doc["groups"] for r in g["rules"]}


def alert_rules() -> dict[str, str]:
    doc = yaml.safe_load((PROM / "rules" / "edgeanon-alerts.yml").read_text())
    return {r["alert"]: r["expr"] for g in doc["groups"] for r in g["rules"]}


_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool"}


def promql_metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (enough PromQL for these files: no subqueries of strings)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # string literals
    s = re.sub(r"\{[^}]*\}", " ", s)  # label matchers
    s = re.sub(r"\[[^\]]*\]", " ", s)  # ranges
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)  # label lists
    s = re.sub(r"\boffset\s+-?\w+", " ", s)
    s = re.sub(r"\$\{?\w+\}?", " ", s)  # Grafana variables
    names = set()
    for m in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", s):
        word, call = m.group(1), m.group(2)
        if call or word in _KEYWORDS or re.fullmatch(r"(inf|nan|\d+\w*)", word, re.I):
            continue
        names.add(word)
    names |= set(re.findall(r'__name__\s*=\s*"([^"]+)"', expr))
    return names


def test_promql_metric_name_extraction():
    e = 'histogram_quantile(0.95, sum by (store, le) (rate(edgeanon_inference_seconds_bucket{camera=~"$c"}[5m])))'
    assert promql_metric_names(e) == {"edgeanon_inference_seconds_bucket"}
    e = 'a_total offset 2h == 1 and ignoring (line) min_over_time(up{job="x"}[2h]) > bool 0'
    assert promql_metric_names(e) == {"a_total", "up"}


def test_rules_and_dashboard_name_only_metrics_that_exist():
    known = readme_metrics() | set(recording_rules())
    # Prometheus' own `up` and the Pushgateway's `push_time_seconds` are not edgeanon's.
    pending: set[str] = set()
    outside = {"up", "push_time_seconds"}
    for name, expr in {**recording_rules(), **alert_rules()}.items():
        unknown = promql_metric_names(expr) - known - pending - outside
        assert unknown == set(), f"rule {name} uses unknown metrics {unknown}"
    for title, expr in dashboard_exprs():
        unknown = promql_metric_names(expr) - known
        assert unknown == set(), f"dashboard panel {title!r} uses unknown metrics {unknown}"


def dashboard_exprs() -> list[tuple[str, str]]:
    dash = json.loads(DASHBOARD.read_text())
    exprs = [(p["title"], t["expr"]) for p in dash["panels"] for t in p.get("targets", [])]
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            q = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", q)
            assert m, q
            exprs.append((f"${var['name']}", m.group(1)))
    return exprs


def test_dashboard_is_a_complete_grafana_dashboard():
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] and dash["title"] and isinstance(dash["schemaVersion"], int)
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    exprs = " ".join(e for _, e in dashboard_exprs())
    for needed in (
        "edgeanon_zone_occupancy",
        "edgeanon_line_crossings_total",
        "edgeanon_camera_up",
        "histogram_quantile(0.95",
        'fate="dropped"',
    ):
        assert needed in exprs, needed
    cells = set()
    for p in dash["panels"]:
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine, f"panel {p['title']!r} overlaps another"
        cells |= mine
        for t in p["targets"]:
            assert t["refId"] and t["expr"].count("(") == t["expr"].count(")")
    variables = {v["name"] for v in dash["templating"]["list"]}
    used = set(re.findall(r"\$(\w+)", json.dumps(dash["panels"]))) - {"__rate_interval"}
    assert used <= variables, used - variables


def test_shipped_configs_agree_with_the_unit_and_image():
    """The scrape config's targets use the device's default port, and the relabelling keeps every target labelled."""
    from edgeanon.config.http_server import HttpConfig

    cfg = yaml.safe_load((PROM / "prometheus.yml").read_text())
    (job,) = [j for j in cfg["scrape_configs"] if j["job_name"] == "edgeanon"]
    targets = [t for sc in job["static_configs"] for t in sc["targets"]]
    for sd in job["file_sd_configs"]:
        for f in sd["files"]:
            for group in (yaml.safe_load(p.read_text()) for p in PROM.glob(f)):
                for entry in group:
                    assert set(entry["labels"]) == {"store", "device"}
                    targets += entry["targets"]
    assert targets and all(t.endswith(f":{HttpConfig().port}") for t in targets)
    agent = yaml.safe_load((PROM / "prometheus-agent.yml").read_text())
    (job,) = agent["scrape_configs"]
    assert job["job_name"] == "edgeanon"
    assert all(t == f"127.0.0.1:{HttpConfig().port}" for sc in job["static_configs"] for t in sc["targets"])
    assert all(set(sc["labels"]) == {"store", "device"} for sc in job["static_configs"])
    # head office evaluates the alerts over federated series: every raw series they read is federated, except
    # the crossing counters (head office's recording rules would count them twice; the regions alert on those)
    head = yaml.safe_load((PROM / "prometheus-head-office.yml").read_text())
    (fed,) = [j for j in head["scrape_configs"] if j["job_name"] == "federate-regions"]
    federated = {n for m in fed["params"]["match[]"] for n in re.findall(r'__name__="(\w+)"', m)}
    read = {n for e in alert_rules().values() for n in promql_metric_names(e) if n.startswith("edgeanon_")}
    assert read - federated == {"edgeanon_line_crossings_total"}, read - federated
    assert set(alert_rules()) >= {
        "EdgeanonTargetDown",
        "EdgeanonCameraDown",
        "EdgeanonStoreErrors",
        "EdgeanonNoCrossings",
    }


def test_frame_share_rules_divide_by_captured_frames_only():
    """``edgeanon_frames_total`` has a series per fate *and* one for ``captured`` (the sum of the fates), so a
    ratio over all its series counts every frame twice: a dropped share must divide by ``fate="captured"``."""
    rules = yaml.safe_load((ROOT / "deploy/prometheus/rules/edgeanon-recording.yml").read_text())
    ratios = [r for g in rules["groups"] for r in g["rules"] if "edgeanon_frames_total" in r.get("expr", "")]
    assert ratios, "no recording rule reads edgeanon_frames_total: the check below would prove nothing"
    for rule in ratios:
        expr = " ".join(rule["expr"].split())
        selectors = re.findall(r"edgeanon_frames_total(\{[^}]*\})?", expr)
        assert all('fate="' in s for s in selectors), (rule["record"], expr)
        if "/" in expr:
            assert 'fate="captured"' in expr.split("/", 1)[1], (rule["record"], expr)
