"""Guards of the monorepo's shape (DESIGN.md section 1).

- `flambeau` and `flambeau.backends` are PEP 420 namespaces: no dist ships their `__init__.py`.
- All first-party dists (packages/*, backends/*) share one version, and pin their first-party
  dependencies to it.
- Each dist's pyproject.toml is short: name, version, dependencies, entry points; tool config
  lives once in the root pyproject.toml, which is not a distribution.
"""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = sorted(p.parent for g in ("packages", "backends") for p in (ROOT / g).glob("*/pyproject.toml"))
PLUGINS = sorted(p.parent for p in (ROOT / "integration-tests" / "plugins").glob("*/pyproject.toml"))
ALL_DISTS = FIRST_PARTY + PLUGINS
SKIP_DIRS = {".nox", ".venv", "build", "dist", "node_modules", ".git", "__pycache__"}

ALLOWED_PROJECT_KEYS = {
    "name",
    "version",
    "description",
    "readme",
    "license",
    "authors",
    "requires-python",
    "dependencies",
    "optional-dependencies",
    "entry-points",
}
MAX_PYPROJECT_LINES = 40


def _load(dist: Path) -> dict[str, Any]:
    with open(dist / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def _ids(dists: list[Path]) -> list[str]:
    return [str(d.relative_to(ROOT)) for d in dists]


def _namespace_dirs(dist: Path) -> list[Path]:
    """Every `flambeau` directory inside a dist (src layout or flat), and its `backends` child."""
    found = []
    for path in dist.rglob("flambeau"):
        if path.is_dir() and not SKIP_DIRS.intersection(path.relative_to(dist).parts):
            found.append(path)
            if (path / "backends").is_dir():
                found.append(path / "backends")
    return found


def test_the_repository_has_first_party_dists_tensor_and_numpy() -> None:
    names = {_load(d)["project"]["name"] for d in FIRST_PARTY}
    assert {"flambeau-tensor", "flambeau-numpy"} <= names


@pytest.mark.parametrize("dist", ALL_DISTS, ids=_ids(ALL_DISTS))
def test_no_dist_ships_an_init_for_the_namespace(dist: Path) -> None:
    offenders = [d / "__init__.py" for d in _namespace_dirs(dist) if (d / "__init__.py").exists()]
    assert not offenders, f"PEP 420 namespace broken by {[str(p.relative_to(ROOT)) for p in offenders]}"


@pytest.mark.parametrize("dist", FIRST_PARTY, ids=_ids(FIRST_PARTY))
def test_first_party_code_dists_use_the_src_layout(dist: Path) -> None:
    project = _load(dist)["project"]
    if project["name"] == "flambeau":  # the meta dist has no code
        return
    assert (dist / "src" / "flambeau").is_dir(), f"{dist.relative_to(ROOT)} has no src/flambeau/"
    assert not (dist / "src" / "flambeau" / "__init__.py").exists()
    assert not (dist / "src" / "flambeau" / "backends" / "__init__.py").exists()


@pytest.mark.parametrize("name", ["flambeau", "flambeau.backends"])
def test_installed_namespaces_are_pep420(name: str) -> None:
    module = importlib.import_module(name)
    assert getattr(module, "__file__", None) is None, f"{name} is a regular package at {module.__file__}"
    assert module.__spec__ is not None and module.__spec__.origin in (None, "namespace")


def test_all_first_party_dists_share_one_version() -> None:
    versions = {_load(d)["project"]["name"]: _load(d)["project"]["version"] for d in FIRST_PARTY}
    assert len(set(versions.values())) == 1, f"first-party versions differ: {versions}"


@pytest.mark.parametrize("dist", FIRST_PARTY, ids=_ids(FIRST_PARTY))
def test_first_party_dependencies_are_pinned_to_the_shared_version(dist: Path) -> None:
    project = _load(dist)["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    for req in requirements:
        match = re.match(r"\s*(flambeau(?:-[A-Za-z0-9_.-]+)?)(?![A-Za-z0-9_.-])\s*(\[[^\]]*\])?\s*(.*)", req)
        if match:
            assert match.group(3).split(";")[0].strip() == f"=={project['version']}", (
                f"{project['name']}: first-party requirement {req!r} must pin =={project['version']}"
            )


@pytest.mark.parametrize("dist", ALL_DISTS, ids=_ids(ALL_DISTS))
def test_dist_pyproject_is_short_and_holds_no_tool_config(dist: Path) -> None:
    data = _load(dist)
    text = (dist / "pyproject.toml").read_text()
    assert len(text.splitlines()) <= MAX_PYPROJECT_LINES, f"{dist.relative_to(ROOT)}/pyproject.toml is long"
    assert set(data) <= {"build-system", "project", "dependency-groups", "tool"}, set(data)
    assert {"name", "version"} <= set(data["project"]), "name and version are required"
    assert set(data["project"]) <= ALLOWED_PROJECT_KEYS, set(data["project"]) - ALLOWED_PROJECT_KEYS
    # only build-target settings; ruff, mypy and pytest are configured once at the root
    assert set(data.get("tool", {})) <= {"hatch"}, f"tool config belongs in the root pyproject: {set(data['tool'])}"


def test_root_pyproject_is_tool_config_not_a_distribution() -> None:
    with open(ROOT / "pyproject.toml", "rb") as f:
        data = tomllib.load(f)
    assert "project" not in data and "build-system" not in data
    assert {"ruff", "mypy", "pytest"} <= set(data["tool"])
