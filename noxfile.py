"""The one task runner of the flambeau monorepo.

    python3 -m pip install nox && python3 -m nox      # every default session (what CI runs)
    python3 -m nox -s demo                            # the demo
    python3 -m nox -l                                 # list the sessions

Default sessions: tests (one per package with a tests/ dir), integration, devices (every package's
device suites on the `boxed` plugin backend, a GPU stand-in), gpu-offline (fused kernels' CUDA compiled by
NVRTC and cupy's API looked up, no GPU needed), doctests, lint, typecheck, examples, docs (the Sphinx site,
warnings as errors). Run only when named: demo, bench (timings against numpy, HIPS
autograd and PyTorch) and gpu (the device suites on cuda and the `-m gpu` tests, for a machine with a
CUDA device and cupy; tools/gpu_check.py does the same on a machine without nox or network).

Every session gets a fresh virtual environment and installs the first-party dists NON-editable from
this checkout, so tests see what a user's `pip install` would give. Packages are found by listing
directories (packages/*, backends/*, integration-tests/plugins/*): adding a package needs no edit here.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from pathlib import Path

import nox

nox.needs_version = ">=2024.4.15"
nox.options.default_venv_backend = "uv|virtualenv"  # uv when installed, plain virtualenv otherwise
nox.options.reuse_venv = "no"
nox.options.sessions = [
    *("tests", "integration", "devices", "gpu-offline", "doctests", "lint", "typecheck", "examples", "docs"),
]

ROOT = Path(__file__).resolve().parent
TEST_TOOLS = ["pytest>=8.1", "hypothesis>=6"]
RUFF = "ruff==0.17.6"
MYPY = "mypy==2.4.1"
PYTEST = ["python", "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT)]
GPU_CUPY = os.environ.get("FLAMBEAU_CUPY", "cupy-cuda12x")  # the cupy wheel of the gpu session


# --------------------------------------------------------------------------- discovery of the dists


def _dist_dirs(*groups: str) -> list[Path]:
    """Every directory under the given groups (e.g. "packages") holding a pyproject.toml."""
    return sorted(p.parent for g in groups for p in (ROOT / g).glob("*/pyproject.toml"))


def _dist_name(path: Path) -> str:
    with open(path / "pyproject.toml", "rb") as f:
        return str(tomllib.load(f)["project"]["name"])


def _dependencies(path: Path) -> list[str]:
    with open(path / "pyproject.toml", "rb") as f:
        return list(tomllib.load(f)["project"].get("dependencies", []))


FIRST_PARTY = _dist_dirs("packages", "backends")  # the dists we ship
PLUGINS = _dist_dirs("integration-tests/plugins")  # third-party-style dists used by integration tests
BY_NAME = {_dist_name(p): p for p in FIRST_PARTY + PLUGINS}
SRC_DIRS = [p / "src" for p in FIRST_PARTY if (p / "src" / "flambeau").is_dir()]


def _tested() -> dict[str, Path]:
    """Session ids -> dists with a tests/ dir: "tensor", "numpy" (group-prefixed only if names clash)."""
    with_tests = [p for p in FIRST_PARTY if (p / "tests").is_dir()]
    names = [p.name for p in with_tests]
    return {(p.name if names.count(p.name) == 1 else f"{p.parent.name}-{p.name}"): p for p in with_tests}


TESTED = _tested()


def _test_dependencies(path: Path) -> list[str]:
    """A dist's optional extras and its test group: first-party ones must come from the checkout too."""
    with open(path / "pyproject.toml", "rb") as f:
        pyproject = tomllib.load(f)
    extras = [r for reqs in pyproject["project"].get("optional-dependencies", {}).values() for r in reqs]
    return extras + [r for r in pyproject.get("dependency-groups", {}).get("test", []) if isinstance(r, str)]


def _local_closure(*dists: Path) -> list[Path]:
    """The dists and every first-party dist they depend on, found through their pyproject files.

    The dists named here bring their extras and test groups' first-party dists too (autograd's
    tests need flambeau-nn); their dependencies only their own dependencies.
    """
    seen: dict[Path, None] = {}
    todo = list(dists)
    for d in dists:
        todo += [
            BY_NAME[n] for r in _test_dependencies(d) if (n := re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0]) in BY_NAME
        ]
    while todo:
        d = todo.pop()
        if d in seen:
            continue
        seen[d] = None
        for req in _dependencies(d):
            name = re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0]
            if name in BY_NAME:
                todo.append(BY_NAME[name])
    return sorted(seen)


def _install_local(session: nox.Session, dists: list[Path], *extra: str, test: bool = False) -> None:
    """Install local dists non-editable, together so pip takes the siblings from this checkout.

    With test=True, a dist's test requirements come too: its `[dependency-groups] test` (PEP 735)
    or its `test` extra (`[project.optional-dependencies] test`).
    """
    specs: list[str] = []
    for d in dists:
        pyproject = nox.project.load_toml(d / "pyproject.toml")
        extras = pyproject["project"].get("optional-dependencies", {})
        specs.append(f"{d}[test]" if test and "test" in extras else str(d))
        if test and "test" in pyproject.get("dependency-groups", {}):
            # First-party dists of the group come as local paths (their closure): a bare name would
            # send pip to an index.
            specs += [
                r
                for r in nox.project.dependency_groups(pyproject, "test")
                if re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0] not in BY_NAME
            ]
    session.install(*specs, *extra)
    # Guard (after dagster): every flambeau dist in the venv must come from this checkout, never an index.
    session.run("python", "-c", _FROM_CHECKOUT, silent=True)


_FROM_CHECKOUT = """
import importlib.metadata as md, json, sys
bad = []
for d in md.distributions():
    name = (d.metadata["Name"] or "").lower()
    if name == "flambeau" or name.startswith("flambeau-"):
        raw = d.read_text("direct_url.json")
        url = json.loads(raw).get("url", "") if raw else ""
        if not url.startswith("file:"):
            bad.append(f"{name} {d.version} (from {url or 'an index'})")
sys.exit("first-party dists not installed from the checkout: " + ", ".join(bad) if bad else 0)
"""


def _packages_of(src: Path) -> list[str]:
    """Importable package names under a src dir, e.g. flambeau.tensor, flambeau.backends.numpy."""
    names = []
    for init in sorted(src.glob("flambeau/*/__init__.py")) + sorted(src.glob("flambeau/backends/*/__init__.py")):
        names.append(".".join(init.parent.relative_to(src).parts))
    return names


# --------------------------------------------------------------------------------------- sessions


@nox.session
@nox.parametrize("package", [nox.param(name, id=name) for name in TESTED])
def tests(session: nox.Session, package: str) -> None:
    """Run one package's tests/ against its non-editable install (+ its first-party dependencies)."""
    path = TESTED[package]
    _install_local(session, _local_closure(path), *TEST_TOOLS, test=True)
    session.run(*PYTEST, str(path / "tests"), *session.posargs)


@nox.session
def integration(session: nox.Session) -> None:
    """Cross-package tests with every first-party dist and every plugin dist of integration-tests/plugins."""
    _install_local(session, FIRST_PARTY + PLUGINS, *TEST_TOOLS, test=True)
    session.run(*PYTEST, str(ROOT / "integration-tests"), *session.posargs)


@nox.session
def devices(session: nox.Session) -> None:
    """Every package's device suites (tests marked `device`) on the `boxed` backend plugin.

    `boxed` (integration-tests/plugins/boxed-backend) keeps numpy arrays in a type of its own whose maths
    refuses host arrays, as cupy does: a host/device mix-up in any package fails here, on a CPU.
    """
    boxed = [p for p in PLUGINS if p.name == "boxed-backend"]
    _install_local(session, FIRST_PARTY + boxed, *TEST_TOOLS, test=True)
    dirs = [str(p / "tests") for p in TESTED.values()]
    session.run(*PYTEST, "--flambeau-device", "boxed", *dirs, *session.posargs)


# What the GPU code needs from cupy, checkable without a GPU: cupy's code generators and its API, and
# NVRTC (a host library). Pinned: nvrtc.py uses cupy internals; CUDA 13 as on the lent GPU machines.
OFFLINE_CUDA = ["cupy-cuda13x==14.2.0", "nvidia-cuda-nvrtc==13.5.37"]


@nox.session(name="gpu-offline")
def gpu_offline(session: nox.Session) -> None:
    """What of the GPU code can be checked on a machine without a GPU (a default session: ~1 min).

    The CUDA of fused kernels compiled by NVRTC for sm_90 as cupy would compile it on a first call
    (every fusable op on every dtype, the benchmark programs, every train_step optimizer), and every
    cupy attribute flambeau's sources name resolved in the installed cupy. These tests skip in the
    other sessions (no cupy); here FLAMBEAU_NVRTC=required makes a missing compiler a failure.
    """
    if sys.platform == "darwin":
        session.skip("cupy and NVRTC have no macOS wheels")
    _install_local(session, FIRST_PARTY, *TEST_TOOLS, *OFFLINE_CUDA, test=True)
    tests = [ROOT / "packages/autograd/tests/test_fusion_nvrtc.py", ROOT / "backends/cupy/tests/test_cupy_api.py"]
    session.run(*PYTEST, *map(str, tests), *session.posargs, env={"FLAMBEAU_NVRTC": "required"})


@nox.session
def doctests(session: nox.Session) -> None:
    """Docstring examples of every installed flambeau package, the op-table example tests, README.md and docs/.

    The modules are collected from the installed dists (`--pyargs flambeau.tensor ...`), not from src/:
    with `consider_namespace_packages` pytest names them `flambeau.tensor.x` as the namespace requires.
    Every hand-written page of docs/ runs as one doctest per page: its code is in ```pycon blocks, and a
    Python block that would not run (```python, or a fence without a language) fails the session; shell
    commands, configuration and templates are ```sh, ```toml and ```text. The pages generated from the code
    (the op, nn, randomkit, special and coverage references) are left out: their examples are the
    docstrings and op records run above.
    """
    generated = {"ops.md", "nn.md", "randomkit.md", "special.md", "coverage.md"}  # top-level docs/ pages only
    docs = ROOT / "docs"
    pages = sorted(
        p
        for p in docs.rglob("*.md")
        if "_build" not in p.relative_to(docs).parts and not (p.parent == docs and p.name in generated)
    )
    not_run: list[str] = []
    for page in pages:
        fence = None
        for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("```") and fence is None:
                fence = line[3:].strip()
                if fence in ("", "python", "py", "python3"):
                    not_run.append(f"docs/{page.relative_to(docs)}:{n}")
            elif line.strip() == "```":
                fence = None
    if not_run:
        session.error("code blocks that no doctest runs (make them ```pycon doctests): " + ", ".join(not_run))
    _install_local(session, FIRST_PARTY, *TEST_TOOLS, test=True)
    packages = [name for src in SRC_DIRS for name in _packages_of(src)]
    example_tests = sorted(str(p) for d in FIRST_PARTY for p in d.glob("tests/test_op_examples.py"))
    session.run(*PYTEST, "--doctest-modules", "--doctest-glob=README.md", "--doctest-glob=*.md", "--pyargs",
                *packages, *example_tests, str(ROOT / "README.md"), *map(str, pages), *session.posargs)  # fmt: skip


LINTED = ["packages", "backends", "integration-tests", "examples", "benchmarks", "docs", "tools", "noxfile.py"]


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over all the Python of the repository."""
    session.install(RUFF)
    targets = [t for t in LINTED if (ROOT / t).exists()]
    session.run("ruff", "check", *targets, *session.posargs)
    session.run("ruff", "format", "--check", *targets)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy over every src tree (flambeau is a PEP 420 namespace: the src dirs are the package bases)."""
    # brings numpy, pluggy, ... for their type information; pytest for flambeau.tensor.testing (a pytest plugin)
    _install_local(session, FIRST_PARTY, MYPY, "pytest>=8.1")
    env = {"MYPYPATH": os.pathsep.join(str(s) for s in SRC_DIRS)}
    session.run("mypy", *(str(s) for s in SRC_DIRS), *session.posargs, env=env)


def _run_scripts(session: nox.Session, scripts: list[Path]) -> None:
    env = {"MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}  # no plot windows; plots go to files
    session.chdir(session.create_tmp())  # files an example writes land in the session's tmp dir
    for script in scripts:
        session.log(f"--- {script.relative_to(ROOT)}")
        session.run("python", str(script), *session.posargs, env=env)


@nox.session
def examples(session: nox.Session) -> None:
    """Smoke-run every examples/*.py (each asserts a few real values, so a wrong result fails)."""
    scripts = sorted((ROOT / "examples").glob("*.py"))
    if not scripts:
        session.error("no examples/*.py to run")
    # demo.py trains on scikit-learn's digits, with tqdm; distributed_training.py needs an MPI library
    _install_local(session, FIRST_PARTY, *DEMO_TOOLS, "mpich>=4.2")  # distlearn's [mpich] extra
    _run_scripts(session, scripts)


DEMO_TOOLS = ["scikit-learn", "tqdm"]  # examples/demo.py only: the bundled 8x8 digits and the progress bar


@nox.session
def demo(session: nox.Session) -> None:
    """Run examples/demo.py: train the talk's MLP and convnet on scikit-learn's 8x8 digits (~10 s).

    Prints per-epoch loss and accuracy, writes loss.png and confusion_*.png into the session's tmp dir
    (.nox/demo/tmp) and checks 95% test accuracy. Arguments after `--` go to the script:
    `nox -s demo -- --mnist PATH` trains on MNIST's idx files instead, `-- --quick` runs 2 epochs.
    """
    _install_local(session, FIRST_PARTY, *DEMO_TOOLS)
    _run_scripts(session, [ROOT / "examples" / "demo.py"])


DOCS_TOOLS = ["sphinx==9.0.4", "myst-parser==5.2.0"]  # pinned: a new release's warnings would fail -W
# Pages of docs/ generated from the installed code: page -> module whose main() prints it.
GENERATED_DOCS = {
    "ops.md": "flambeau.tensor.opref",
    "coverage.md": "flambeau.tensor.coverage",
    "randomkit.md": "flambeau.random.reference",
    "special.md": "flambeau.special.reference",
}

_CHECK_GENERATED = """
import contextlib, importlib, io, pathlib, sys
module, path = sys.argv[1], pathlib.Path(sys.argv[2])
out = io.StringIO()
with contextlib.redirect_stdout(out):
    status = importlib.import_module(module).main()
if out.getvalue() != path.read_text(encoding="utf-8"):
    sys.exit(f"docs/{path.name} is stale: regenerate it with `python -m {module} > docs/{path.name}`")
sys.exit(status)
"""


@nox.session
def docs(session: nox.Session) -> None:
    """Build the Sphinx site of docs/ into docs/_build/html, warnings as errors (a default session: ~2 s of build).

    First checks that the generated pages (the op reference, the Torch7 coverage table) are what the
    installed code renders, so the site never shows a stale table.
    """
    _install_local(session, FIRST_PARTY, *DOCS_TOOLS)
    for page, module in GENERATED_DOCS.items():
        session.run("python", "-c", _CHECK_GENERATED, module, str(ROOT / "docs" / page))
    session.run("python", "-m", "sphinx", "-W", "--keep-going", "-b", "html", str(ROOT / "docs"),
                str(ROOT / "docs/_build/html"), *session.posargs)  # fmt: skip


@nox.session
def bench(session: nox.Session) -> None:
    """Side-by-side timings: flambeau vs hand-written numpy, HIPS autograd and PyTorch (not a test).

    Prints the table and writes it to benchmarks/results/latest.json and, as a chart, latest.png
    (the committed record benchmarks/README.md shows); a `--json PATH` or `--chart PATH` after `--`
    writes there instead.
    """
    if not (ROOT / "benchmarks" / "run.py").exists():
        session.error("benchmarks/run.py is missing")
    _install_local(session, FIRST_PARTY, "torch==2.13.0", "autograd", "matplotlib")
    results = ROOT / "benchmarks" / "results"
    args = list(session.posargs)
    for option, default in (("--json", results / "latest.json"), ("--chart", results / "latest.png")):
        if not any(a == option or a.startswith(option + "=") for a in args):
            args += [option, str(default)]
    session.run("python", str(ROOT / "benchmarks" / "run.py"), *args)


# The property and fuzz tests: a short deterministic sample runs in CI; `nox -s fuzz` runs them long.
FUZZ_TESTS = [
    "packages/tensor/tests/test_hostile_files.py",  # ft.load / ft.load_t7 on damaged files
    "packages/tensor/tests/test_properties.py",  # every op of the table: shapes, dtypes, layouts, forms
    "packages/autograd/tests/test_grad_properties.py",  # every gradient rule at random points
]


@nox.session
def fuzz(session: nox.Session) -> None:
    """The long property and fuzz runs (run only when named; CI runs a short sample of each).

    FLAMBEAU_FUZZ=long for: the hostile-file loads of ft.load and ft.load_t7 (every truncation, flipped bit
    and field rewrite of their corpus), the op-table properties and the gradient properties (hundreds of
    examples per op). FLAMBEAU_FUZZ_SEED picks another sample of the larger files. About 15 min on 2 cores.
    """
    _install_local(session, FIRST_PARTY, *TEST_TOOLS, test=True)
    # (FLAMBEAU_FUZZ_SEED passes through from the environment; the tests hold its default)
    session.run(*PYTEST, *(str(ROOT / t) for t in FUZZ_TESTS), *session.posargs, env={"FLAMBEAU_FUZZ": "long"})


@nox.session
def gpu(session: nox.Session) -> None:
    """Every package's device suites on cuda plus the `gpu`-marked tests; for a machine with CUDA and cupy.

    Installs cupy ($FLAMBEAU_CUPY, default cupy-cuda12x) with every dist. On a machine without network,
    use `tools/gpu_check.py` (wheels built elsewhere, no nox needed).
    """
    _install_local(session, FIRST_PARTY, *TEST_TOOLS, GPU_CUPY, test=True)
    session.run("python", "-c", "import cupy; print('cupy', cupy.__version__, cupy.cuda.runtime.getDeviceCount())")
    dirs = [str(p / "tests") for p in TESTED.values()]
    session.run(*PYTEST, "--flambeau-device", "cuda", *dirs, *session.posargs)
    session.run(*PYTEST, "-m", "gpu", *dirs, str(ROOT / "integration-tests"), *session.posargs)


if __name__ == "__main__":  # `python3 noxfile.py` works too
    nox.main()
