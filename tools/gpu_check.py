"""The GPU check: flambeau's device suites and GPU benchmark on a machine with an NVIDIA GPU.

That machine needs Python with cupy, numpy, scipy, pluggy, pytest (pytest-xdist optional) and
PyTorch with CUDA, and no network: the packages travel as wheels built here.

    python3 tools/gpu_check.py build                 # here: wheels of every dist into .gpu/wheels
    # carry the checkout (with .gpu/) to the GPU machine, then there:
    python3 tools/gpu_check.py run [--out DIR] [--quick] [--no-suites] [--only WORKLOADS]

``run`` installs the wheels with ``pip install --no-index --no-deps --target .gpu/site``, puts
that folder first on ``PYTHONPATH`` (entry points are found through the installed dist-info),
prints what the backend registry sees, runs every package's tests with
``--flambeau-device cuda`` (the device suites, see ``flambeau.tensor.testing``) plus the tests
marked ``gpu``, then ``benchmarks/gpu.py``, and prints one summary: per package the passed,
failed and skipped counts, each failure's first line, and the benchmark table. Logs and JSON go
to ``--out`` (default ``.gpu/out``). The exit status is 0 only if no test failed.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GPU = ROOT / ".gpu"
DISTS = sorted(p.parent for g in ("packages", "backends") for p in (ROOT / g).glob("*/pyproject.toml"))
TEST_DIRS = [p / "tests" for p in DISTS if (p / "tests").is_dir()]


def build() -> int:
    wheels = GPU / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    wheels.mkdir(parents=True)
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), *map(str, DISTS)]
    subprocess.run(cmd, check=True)
    print(f"{len(list(wheels.glob('*.whl')))} wheels in {wheels.relative_to(ROOT)}")
    return 0


def _env(site: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _pytest(env: dict[str, str], out: Path, name: str, extra: list[str], timeout: int) -> Path:
    junit = out / f"{name}.xml"
    cmd = [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT)]
    # -v: every test's outcome is in the log as it happens, so a run stopped by the timeout still
    # says which tests failed (the junit file is only written at the end).
    cmd += ["--import-mode=importlib", "-p", "no:cacheprovider", "-v", "--tb=short", f"--junitxml={junit}", *extra]
    try:
        import xdist  # noqa: F401

        cmd += ["-n", str(min(12, os.cpu_count() or 1))]
    except ImportError:
        pass
    cmd += [str(d) for d in TEST_DIRS]
    with open(out / f"{name}.log", "w") as log:
        try:
            subprocess.run(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            log.write(f"\n*** stopped after {timeout} s\n")
    return junit


def _summarize(junit: Path) -> tuple[int, list[str]]:
    """Print per-package counts and the distinct failure messages of a junit file.

    Returns (failures, one line per distinct message). Every failure's traceback is kept in
    ``<name>-failures.txt.gz`` beside the junit file, which is then removed, with the log
    compressed (both can be large).
    """
    if not junit.exists():  # stopped by the timeout: the log's -v lines still name the failures
        log = junit.with_suffix(".log")
        failed = [line.split(" FAILED ")[-1].split(" - ")[0] for line in _lines(log) if " FAILED " in line]
        print(f"  no junit results (stopped?): {len(failed)} failure(s) in {log.name}")
        return max(1, len(failed)), failed
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    messages: collections.Counter[str] = collections.Counter()
    example: dict[str, str] = {}
    skip_reasons: collections.Counter[str] = collections.Counter()
    details: list[str] = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        test = f"{case.get('classname')}::{case.get('name')}"
        pkg = (case.get("classname") or "?").split(".tests.")[0].split(".")[-1]
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        skipped = case.find("skipped")
        if bad is not None:
            counts[pkg]["failed"] += 1
            lines = (bad.get("message") or "").strip().splitlines()
            msg = re.sub(r"0x[0-9a-f]+|\d+(\.\d+)?(e[-+]?\d+)?", "#", lines[0][:200] if lines else "?")
            messages[msg] += 1
            example.setdefault(msg, test)
            details.append(f"=== {test}\n" + "\n".join((bad.text or "").splitlines()[-40:]))
        elif skipped is not None:
            counts[pkg]["skipped"] += 1
            skip_reasons[(skipped.get("message") or "")[:120]] += 1
        else:
            counts[pkg]["passed"] += 1
    for pkg, c in sorted(counts.items()):
        print(f"  {pkg:<14} passed {c['passed']:5d}  failed {c['failed']:4d}  skipped {c['skipped']:5d}")
    for reason, n in skip_reasons.most_common(4):
        print(f"  skipped x{n}: {reason}")
    stem = junit.with_suffix("")
    with gzip.open(f"{stem}-failures.txt.gz", "wt") as f:
        f.write("\n".join(details))
    log = junit.with_suffix(".log")
    if log.exists():
        with open(log, "rb") as src, gzip.open(f"{log}.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        log.unlink()
    junit.unlink()
    distinct = [f"x{n:<4} {m}\n         e.g. {example[m]}" for m, n in messages.most_common()]
    return sum(messages.values()), distinct


def _lines(path: Path) -> list[str]:
    return path.read_text(errors="replace").splitlines() if path.exists() else []


def run(out: Path, quick: bool, timeout: int, suites: bool = True, only: str | None = None) -> int:
    site = GPU / "site"
    shutil.rmtree(site, ignore_errors=True)
    wheels = sorted(map(str, (GPU / "wheels").glob("*.whl")))
    if not wheels:
        print("no wheels in .gpu/wheels: run `python3 tools/gpu_check.py build` where pip can reach an index")
        return 2
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile"]
    subprocess.run([*pip, "--target", str(site), *wheels], check=True)
    out.mkdir(parents=True, exist_ok=True)
    env = _env(site)
    probe = "import flambeau.tensor as ft\nfor b in ft.backends(): print(' ', b)"
    print("backends:")
    subprocess.run([sys.executable, "-c", probe], env=env, cwd=ROOT)

    failed, lines = 0, []
    if suites:
        print("\n== device suites: --flambeau-device cuda")
        failed, lines = _summarize(_pytest(env, out, "cuda", ["--flambeau-device", "cuda"], timeout))
    print("\n== tests marked gpu")
    f2, l2 = _summarize(_pytest(env, out, "gpu", ["-m", "gpu"], timeout // 4))
    failed, lines = failed + f2, lines + l2
    if lines:
        print(f"\n== {len(lines)} distinct failure messages (tracebacks: {out}/*-failures.txt.gz)")
    for line in lines[:60]:
        print("  " + line)
    if len(lines) > 60:
        print(f"  ... and {len(lines) - 60} more")

    print("\n== benchmarks/gpu.py")
    bench = [sys.executable, str(ROOT / "benchmarks" / "gpu.py"), "--json", str(out / "bench.json")]
    try:
        bench += (["--quick"] if quick else []) + (["--only", only] if only else [])
        subprocess.run(bench, env=env, cwd=ROOT, timeout=timeout // 2)
    except subprocess.TimeoutExpired:
        print(f"  benchmark stopped after {timeout // 2} s")
    print(f"\nsummary: {failed} test failure(s); logs in {out}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help="build the wheels (here, with an index reachable)")
    r = sub.add_parser("run", help="install the wheels and run the suites and the benchmark (on the GPU machine)")
    r.add_argument("--out", type=Path, default=GPU / "out")
    r.add_argument("--quick", action="store_true", help="a short benchmark")
    # An H200 machine with 16 cores ran the device suites in about 100 s (cupy compiling its kernels).
    r.add_argument("--timeout", type=int, default=400, help="seconds for the device suites (default 400)")
    r.add_argument(
        "--no-suites", action="store_true", help="skip the device suites: the gpu tests and the benchmark only"
    )
    r.add_argument("--only", help="the benchmark's workloads (comma-separated; default all)")
    a = ap.parse_args(argv)
    return build() if a.cmd == "build" else run(a.out, a.quick, a.timeout, not a.no_suites, a.only)


if __name__ == "__main__":
    raise SystemExit(main())
