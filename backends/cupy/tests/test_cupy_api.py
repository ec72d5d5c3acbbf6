"""The cupy API that flambeau calls exists in the installed cupy (no GPU needed: only names are looked up).

Code that runs only on a GPU (the backend, fused kernels, CUDA graphs, the cuBLAS binding) would
otherwise meet a renamed or missing cupy function only on a machine with a GPU. Every attribute
chain on a name ``cupy`` (the module, or a parameter holding it) in the installed flambeau sources
is resolved here; methods called on cupy objects are listed by hand below. Skipped where cupy is
not installed; ``nox -s gpu-offline`` installs it.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

cupy = pytest.importorskip("cupy", reason="cupy is not installed (nox -s gpu-offline installs it)")

# Methods of cupy objects that flambeau calls (where; the objects need a device to be made).
METHODS = {
    "cuda.Stream": ["begin_capture", "end_capture", "record", "synchronize", "wait_event"],  # autograd/graphs.py
    "cuda.MemoryPool": ["malloc", "total_bytes"],  # autograd/graphs.py
    "cuda.graph.Graph": ["launch"],  # autograd/graphs.py
    "cuda.MemoryPointer": ["ptr"],  # backends/cupy/cublas.py (array.data.ptr)
    "cuda.runtime": ["streamCaptureModeThreadLocal"],  # autograd/graphs.py (read with getattr)
}


def _sources() -> list[Path]:
    """Every installed flambeau module that names cupy."""
    spec = importlib.util.find_spec("flambeau")
    assert spec is not None and spec.submodule_search_locations
    files = [p for d in spec.submodule_search_locations for p in Path(d).rglob("*.py")]
    return [p for p in files if "cupy" in p.read_text(encoding="utf-8")]


def _chains(path: Path) -> dict[tuple[str, ...], int]:
    """``cupy.a.b`` attribute chains (each prefix too) and the line of their first use."""
    found: dict[tuple[str, ...], int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        parts: list[str] = []
        n: ast.AST = node
        while isinstance(n, ast.Attribute):
            parts.append(n.attr)
            n = n.value
        if parts and isinstance(n, ast.Name) and n.id == "cupy":
            found.setdefault(tuple(reversed(parts)), node.lineno)
    return found


# cupy's modules of CUDA libraries that are loaded on first use and not installed by
# `nox -s gpu-offline` (libcurand is large): their names cannot be looked into here.
UNLOADABLE = {"curand"}


def _resolve(chain: tuple[str, ...] | list[str]) -> str:
    """'' when ``cupy.<chain>`` exists (or goes into an :data:`UNLOADABLE` module); else what is
    missing, or what failed to import."""
    obj = cupy
    for k, name in enumerate(chain):
        try:
            if not hasattr(obj, name):
                return "cupy." + ".".join(chain[: k + 1])
        except ImportError as e:
            return "" if name in UNLOADABLE else f"cupy.{'.'.join(chain[: k + 1])} ({e})"
        obj = getattr(obj, name)
    return ""


def test_every_cupy_attribute_flambeau_names_exists() -> None:
    sources = _sources()
    names = {p.name for p in sources}
    assert {"graphs.py", "fusion.py", "cublas.py", "__init__.py"} <= names, names  # the scan sees the GPU code
    missing = []
    count = 0
    for path in sources:
        for chain, line in _chains(path).items():
            count += 1
            if gone := _resolve(chain):
                missing.append(f"{path.name}:{line}: {gone}")
    assert count >= 20 and not missing, missing


def test_the_methods_flambeau_calls_on_cupy_objects_exist() -> None:
    missing = [f"cupy.{owner}.{m}" for owner, ms in METHODS.items() for m in ms if _resolve([*owner.split("."), m])]
    assert not missing, missing


def test_a_missing_name_is_reported() -> None:
    assert _resolve(("cuda", "runtime", "streamBeginCapture")) == ""
    assert _resolve(("cuda", "runtime", "streamBeginCaptureX")) == "cupy.cuda.runtime.streamBeginCaptureX"


def test_a_module_that_fails_to_import_is_reported_unless_known_unloadable(monkeypatch: pytest.MonkeyPatch) -> None:
    class Lazy:  # as cupy.cuda's __getattr__ for a CUDA library that is not installed
        def __getattr__(self, name: str) -> object:
            raise ImportError(f"no library for {name}")

    monkeypatch.setattr(cupy, "lazy_stand_in", Lazy(), raising=False)
    assert _resolve(("lazy_stand_in", "curand")) == ""
    assert _resolve(("lazy_stand_in", "cusolver")) == "cupy.lazy_stand_in.cusolver (no library for cusolver)"
