"""The Torch7 coverage list: every maths and random name of Torch7 mapped to flambeau or marked
not provided with a reason, and docs/coverage.md rendered from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import flambeau.tensor as ft
from flambeau.tensor import coverage
from flambeau.tensor.coverage import COVERAGE, ENTRIES, Entry, NotProvided

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs"
IN_REPO = (DOCS / "conf.py").is_file() and (ROOT / "packages" / "tensor" / "tests").is_dir()
needs_repo = pytest.mark.skipif(not IN_REPO, reason="not running from a repository checkout (no docs/)")

# Torch7's maths (doc/maths.md, 132 names, by section of the inventory), `match`, the 8 RNG draws
# and the 6 RNG-management names: the 147 names the coverage list must hold, typed out independently.
TORCH7_MATHS = {
    "2.1": "cat diag eye histc bhistc linspace logspace multinomial multinomialAliasSetup multinomialAlias"
    " ones zeros rand randn range randperm reshape tril triu",
    "2.2": "abs sign acos asin atan atan2 ceil floor round trunc frac cos sin tan cosh sinh tanh exp log log1p"
    " sqrt rsqrt neg cinv pow sigmoid",
    "2.3": "equal add csub mul div clamp cmul cdiv cpow cmax cmin addcmul addcdiv fmod cfmod remainder cremainder"
    " mod cmod lshift rshift clshift crshift bitand bitor bitxor cbitand cbitor cbitxor dot mv mm bmm ger"
    " addmv addmm addr addbmm baddbmm lerp",
    "2.4": "cross cumsum cumprod max min mean sum prod median mode kthvalue sort topk std var",
    "2.5": "norm renorm dist numel trace match",
    "2.6": "conv2 xcorr2 conv3 xcorr3",
    "2.7": "gesv trtrs potrf pstrf potrs potri gels symeig eig svd inverse qr geqrf orgqr ormqr",
    "2.8": "lt le gt ge eq ne all any",
    "2.9": "random uniform normal exponential cauchy logNormal geometric bernoulli"
    " seed manualSeed initialSeed getRNGState setRNGState Generator",
}
# Tensor functions of Torch7's section 1 that its maths chapter names.
TORCH7_TENSOR_FUNCTIONS = (
    "zero fill gather scatter nonzero squeeze expand view split chunk permute repeatTensor totable"
)


def test_the_list_holds_every_torch7_maths_and_random_name_in_its_section() -> None:
    for section, names in TORCH7_MATHS.items():
        assert [e.torch7 for e in ENTRIES if e.section == section] == names.split(), section
    assert sum(len(v.split()) for v in TORCH7_MATHS.values()) == 147
    assert set(TORCH7_TENSOR_FUNCTIONS.split()) <= {e.torch7 for e in ENTRIES if e.section == "1"}
    assert len(ENTRIES) >= 147 and len(COVERAGE) == len(ENTRIES)


def test_every_name_is_provided_or_marked_not_provided_with_a_reason() -> None:
    assert coverage.problems() == []
    for e in ENTRIES:
        if isinstance(e.flambeau, NotProvided):
            assert e.flambeau.reason.strip(), e.torch7
        else:
            assert callable(coverage.resolve(e.flambeau)), f"{e.torch7} -> {e.flambeau} does not exist"


def test_mapped_names_are_python_style() -> None:
    for e in ENTRIES:
        if isinstance(e.flambeau, str) and e.flambeau != "Generator":
            assert re.fullmatch(r"[a-z][a-z0-9_]*", e.flambeau), f"{e.torch7} -> {e.flambeau} is not snake_case"
    assert COVERAGE["logNormal"] == "log_normal_" and COVERAGE["repeatTensor"] == "repeat_tensor"
    assert COVERAGE["getRNGState"] == "get_rng_state" and COVERAGE["manualSeed"] == "manual_seed"


def test_resolve_finds_functions_and_methods_but_not_modules() -> None:
    assert coverage.resolve("cmul") is ft.cmul
    assert coverage.resolve("fill_") is ft.Tensor.fill_  # a method only
    assert coverage.resolve("random") is None  # ft.random is the generator module, not a sampler
    assert coverage.resolve("no_such_op") is None


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        ((Entry("cmul", "cmul", "2.3"), Entry("cmul", NotProvided("why"), "2.3")), "cmul: listed twice"),
        ((Entry("foo", NotProvided(" "), "2.1"),), "foo: not provided, with no reason"),
        ((Entry("foo", "", "2.1"),), "foo: neither mapped"),
        ((Entry("foo", None, "2.1"),), "foo: neither mapped"),  # type: ignore[arg-type]
        ((Entry("foo", "no_such_op", "2.1"),), "foo -> no_such_op: no such flambeau function"),
        ((Entry("cmul", "cmul", "9.9"),), "cmul: unknown section"),
    ],
)
def test_problems_catches_every_kind_of_bad_entry(entries: tuple[Entry, ...], problem: str) -> None:
    found = coverage.problems(entries)
    assert any(p.startswith(problem) for p in found), found


def test_render_lists_every_name_once_with_its_mapping_or_reason() -> None:
    text = coverage.render()
    for e in ENTRIES:
        row = [line for line in text.splitlines() if line.startswith(f"| `{e.torch7}` |")]
        assert len(row) == 1, e.torch7
        expected = "*not provided*" if isinstance(e.flambeau, NotProvided) else f"`{e.flambeau}`"
        assert row[0].split(" | ")[1] == expected
    assert "## 2.9 Random sampling and generators" in text


def test_main_prints_the_page(capsys: pytest.CaptureFixture[str]) -> None:
    assert coverage.main() == 0
    assert capsys.readouterr().out == coverage.render()


@needs_repo
def test_docs_coverage_md_is_the_rendered_list() -> None:
    path = DOCS / "coverage.md"
    assert path.is_file(), "docs/coverage.md is missing: run `python -m flambeau.tensor.coverage > docs/coverage.md`"
    assert path.read_text(encoding="utf-8") == coverage.render(), (
        "docs/coverage.md is stale: regenerate it with `python -m flambeau.tensor.coverage > docs/coverage.md`"
    )


@needs_repo
def test_docs_index_links_the_coverage_and_op_reference_pages() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    toctree = re.search(r"```\{toctree\}\n(.*?)```", index, re.S)
    assert toctree is not None
    assert {"ops", "coverage", "torch7-mapping"} <= set(toctree[1].split())
