#!/usr/bin/env bash
# The device check: run flambeau's test suites on a lent GPU machine (no network, its own Python).
#
# Here, first:   pip wheel --no-deps -w dist/wheels packages/* backends/* integration-tests/plugins/*
# Then run this script there, carrying dist/wheels (the device tool's `carry`). It installs the
# wheels with --no-index next to the machine's own numpy/scipy/pytest/cupy, prints what the machine
# has, and runs every package's tests, the integration tests and the gpu-marked tests.
set -uo pipefail
cd "$(dirname "$0")/.."
site="${TMPDIR:-/tmp}/flambeau-site"
rm -rf "$site"
python3 -m pip install -q --no-index --no-deps --target "$site" dist/wheels/*.whl || exit 1
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
python3 - <<'PY'
import importlib, platform
print("python", platform.python_version())
for m in ("numpy", "scipy", "pluggy", "pytest", "cupy", "torch"):
    try:
        print(m, importlib.import_module(m).__version__)
    except Exception as e:  # report, do not stop: cupy may be missing or unusable
        print(m, "unavailable:", type(e).__name__, e)
import flambeau.tensor as ft
print(*ft.backends(), sep="\n")
PY
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
status=0
for t in packages/*/tests backends/*/tests integration-tests; do
  [ -d "$t" ] || continue
  echo "== $t"
  python3 -m pytest -q -p no:cacheprovider -c pyproject.toml --rootdir . "$t" || status=1
done
echo "== gpu-marked tests"
python3 -m pytest -q -p no:cacheprovider -c pyproject.toml --rootdir . -m gpu packages backends integration-tests
rc=$?
[ $rc -eq 0 ] || [ $rc -eq 5 ] || status=1  # 5: no gpu tests exist yet
exit $status
