"""optim.ConfusionMatrix: the counts, the rates (worked out by hand here), printing and rendering."""

from __future__ import annotations

import math
import re
import sys

import numpy as np
import pytest

import flambeau.optim as optim
import flambeau.tensor as ft
from flambeau.tensor.errors import ArgumentError

PNG = b"\x89PNG\r\n\x1a\n"

# The fixed example: 3 classes, class 2 never a target.
#            predicted 0  1  2
MAT = [[3, 1, 0],  # target 0: 4 samples
       [1, 4, 3],  # target 1: 8 samples
       [0, 0, 0]]  # target 2: none  # fmt: skip


def _pairs(mat: list[list[int]]) -> list[tuple[int, int]]:
    """(prediction, target) for each sample the counts describe, interleaved."""
    pairs = [(p, t) for t, row in enumerate(mat) for p, k in enumerate(row) for _ in range(k)]
    return pairs[::2] + pairs[1::2]


def _fixed() -> optim.ConfusionMatrix:
    cm = optim.ConfusionMatrix(["cat", "dog", "bird"])
    for i, (p, t) in enumerate(_pairs(MAT)):
        if i % 3 == 0:
            cm.add(p, t)
        elif i % 3 == 1:  # scores, and a one-hot target
            scores = ft.Tensor([0.1, 0.2, 0.3])
            scores[p] = 0.9
            cm.add(scores, ft.Tensor([1.0 if c == t else 0.0 for c in range(3)]))
        else:
            cm.add(ft.tensor(p), float(t))
    cm.add(1, -1)  # a negative target is a missing label: ignored
    cm.add(ft.Tensor([0.0, 0.0, 1.0]), -3)
    return cm


@pytest.mark.device
def test_mat_rows_are_targets_columns_predictions() -> None:
    cm = _fixed()
    assert cm.mat.dtype == ft.int64 and cm.mat.type().endswith(".LongTensor")  # flambeau[.<device>].LongTensor
    assert cm.mat.tolist() == MAT
    assert cm.nclasses == 3 and cm.classes == ["cat", "dog", "bird"]


@pytest.mark.device
def test_valids_by_hand() -> None:
    cm = _fixed()
    cm.update_valids()
    # rows [4, 8, 0], columns [4, 5, 3], diagonal [3, 4, 0]
    v = cm.valids.tolist()
    assert v[:2] == [3 / 4, 4 / 8] and math.isnan(v[2])  # recall; class 2 has no sample
    assert cm.unionvalids.tolist() == pytest.approx([3 / (4 + 4 - 3), 4 / (8 + 5 - 4), 0 / (0 + 3 - 0)], abs=1e-15)
    assert cm.total_valid == pytest.approx(7 / 12, abs=1e-15)
    assert cm.average_valid == pytest.approx((3 / 4 + 4 / 8) / 2, abs=1e-15)
    # Torch averages unionvalids over the classes whose valids is not NaN: class 2's 0 is left out
    assert cm.average_union_valid == pytest.approx((3 / 5 + 4 / 9) / 2, abs=1e-15)


@pytest.mark.device
def test_far_frr_by_hand() -> None:
    class_frrs, class_fars, frrs, fars = _fixed().far_frr()
    # FRR_i = 1 - mat[i,i]/row_i; FAR_i = mean over other classes j with samples of mat[j,i]/row_j
    assert class_frrs.tolist() == pytest.approx([1 - 3 / 4, 1 - 4 / 8, -1.0], abs=1e-15)
    assert class_fars.tolist() == pytest.approx([1 / 8, 1 / 4, -1.0], abs=1e-15)
    assert frrs.tolist() == pytest.approx([0.25, 0.5], abs=1e-15)
    assert fars.tolist() == pytest.approx([0.125, 0.25], abs=1e-15)


@pytest.mark.device
def test_far_frr_averages_over_every_other_class() -> None:
    cm = optim.ConfusionMatrix(3)
    cm.batch_add(ft.LongTensor([0, 1, 2, 2, 0, 1, 1]), ft.LongTensor([0, 0, 1, 1, 2, 2, 2]))
    # rows: [1,1,0] (2), [0,0,2] (2), [1,2,0] (3)
    class_frrs, class_fars, _, _ = cm.far_frr()
    assert class_frrs.tolist() == pytest.approx([1 - 1 / 2, 1 - 0 / 2, 1 - 0 / 3], abs=1e-15)
    assert class_fars.tolist() == pytest.approx(
        [(0 / 2 + 1 / 3) / 2, (1 / 2 + 2 / 3) / 2, (0 / 2 + 2 / 2) / 2], abs=1e-15
    )


@pytest.mark.device
def test_batch_add_equals_repeated_add() -> None:
    n, c = 200, 5
    scores = ft.randn(n, c)
    targets = (ft.rand(n) * (c + 1)).floor().long() - 1  # -1 .. 4: some ignored
    one = optim.ConfusionMatrix(c)
    for i in range(n):
        one.add(scores[i], int(targets[i].item()))
    many = optim.ConfusionMatrix(c)
    many.batch_add(scores, targets)
    assert many.mat.tolist() == one.mat.tolist()
    assert int(many.mat.sum().item()) == int(targets.ge(0).sum().item())
    # indices, N x 1 columns and one-hot target rows give the same
    kept = targets.ge(0)
    preds = scores.argmax(1)[kept]
    onehot = ft.zeros(int(kept.sum().item()), c)
    onehot.scatter_(1, targets[kept].view(-1, 1), 1.0)
    again = optim.ConfusionMatrix(c)
    again.batch_add(preds.view(-1, 1), onehot)
    assert again.mat.tolist() == one.mat.tolist()
    again.zero()
    again.batch_add(preds.double(), targets[kept].view(-1, 1))
    assert again.mat.tolist() == one.mat.tolist()


@pytest.mark.device
def test_batch_add_takes_inputs_from_any_device() -> None:
    # a model's outputs on the device under test, targets on the cpu, the counts on the device
    cm = optim.ConfusionMatrix(3)
    preds = ft.Tensor([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.6, 0.3, 0.1]])
    cm.batch_add(preds, ft.tensor([0, 1, 1, -1], device="cpu"))
    assert cm.mat.device == preds.device
    assert cm.mat.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 0]]
    on_cpu = optim.ConfusionMatrix(3)
    on_cpu.mat = on_cpu.mat.cpu()  # counts kept on the cpu, inputs from the device under test
    on_cpu.batch_add(preds, ft.LongTensor([0, 1, 1, -1]))
    assert on_cpu.mat.device == ft.device("cpu") and on_cpu.mat.tolist() == cm.mat.tolist()


@pytest.mark.device
def test_bad_input_raises() -> None:
    cm = optim.ConfusionMatrix(3)
    with pytest.raises(ArgumentError, match="out of range"):
        cm.add(3, 0)
    with pytest.raises(ArgumentError, match="out of range"):
        cm.add(0, 3)
    with pytest.raises(ArgumentError, match="out of range"):
        cm.batch_add(ft.LongTensor([0, 5]), ft.LongTensor([0, 1]))
    with pytest.raises(ArgumentError, match="2 predictions for 3 targets"):
        cm.batch_add(ft.LongTensor([0, 1]), ft.LongTensor([0, 1, 2]))
    with pytest.raises(ArgumentError, match="dimensions"):
        cm.batch_add(ft.zeros(2, 2, 2), ft.LongTensor([0, 1]))
    with pytest.raises(ArgumentError, match="whole class indices"):
        cm.batch_add(ft.Tensor([0.5]), ft.LongTensor([0]))
    with pytest.raises(ArgumentError, match="number of classes or a list"):
        optim.ConfusionMatrix("abc")
    assert cm.mat.sum().item() == 0  # nothing counted by the failed calls


@pytest.mark.device
def test_zero() -> None:
    cm = _fixed()
    cm.update_valids()
    cm.zero()
    assert cm.mat.tolist() == [[0] * 3] * 3
    assert cm.valids.tolist() == [0.0] * 3 and cm.unionvalids.tolist() == [0.0] * 3
    assert (cm.total_valid, cm.average_valid, cm.average_union_valid) == (0.0, 0.0, 0.0)


def _small(names: list[str] | None) -> optim.ConfusionMatrix:
    cm = optim.ConfusionMatrix(3, names)
    #                          [[2, 1, 0], [0, 3, 1], [1, 0, 1]]
    cm.batch_add(ft.LongTensor([0, 0, 1, 1, 1, 1, 2, 0, 2]), ft.LongTensor([0, 0, 0, 1, 1, 1, 1, 2, 2]))
    return cm


@pytest.mark.device
def test_printing_as_torch() -> None:
    # rows [3, 4, 2], columns [3, 4, 2], diagonal [2, 3, 1]:
    # valids 2/3, 3/4, 1/2 -> average 23/36; unionvalids 2/4, 3/5, 1/3 -> average 43/90; global 6/9
    assert str(_small(["a", "b", "c"])) == (
        "ConfusionMatrix:\n"
        "[[       2       1       0]   66.667% \t[class: a]\n"
        " [       0       3       1]   75.000% \t[class: b]\n"
        " [       1       0       1]]  50.000% \t[class: c]\n"
        " + average row correct: 63.888888888889% \n"
        " + average rowUcol correct (VOC measure): 47.777777777778% \n"
        " + global correct: 66.666666666667%"
    )
    assert str(_small(None)) == (
        "ConfusionMatrix:\n"
        "[[       2       1       0]   66.667% \n"
        " [       0       3       1]   75.000% \n"
        " [       1       0       1]]  50.000% \n"
        " + average row correct: 63.888888888889% \n"
        " + average rowUcol correct (VOC measure): 47.777777777778% \n"
        " + global correct: 66.666666666667%"
    )


@pytest.mark.device
def test_printing_a_class_without_samples() -> None:
    text = str(_fixed())
    assert text.splitlines()[3] == " [       0       0       0]]  nan% \t[class: bird]"
    assert text.endswith(" + average row correct: 62.5% \n"
                         " + average rowUcol correct (VOC measure): 52.222222222222% \n"
                         " + global correct: 58.333333333333%")  # fmt: skip


def test_render_writes_an_image(tmp_path) -> None:
    cm = _fixed()
    img = cm.render(tmp_path / "cm.png", block=20, legendwidth=150)
    assert (tmp_path / "cm.png").read_bytes()[:8] == PNG
    assert tuple(img.size()) == (3, 60, 60 + 150)
    a = np.asarray(img.tolist())
    assert a.min() >= 0.0 and a.max() <= 1.0
    # sorted by score: cat (75%), dog (50%), bird (no sample: 0); a cell is grey = its row's share
    assert a[:, 2, 2] == pytest.approx([0.75] * 3, abs=0.01)  # cat predicted as cat
    assert a[:, 22, 22] == pytest.approx([0.5] * 3, abs=0.01)  # dog predicted as dog
    assert a[:, 22, 42] == pytest.approx([3 / 8] * 3, abs=0.01)  # dog predicted as bird
    assert a[:, 19, 5] == pytest.approx([0.1] * 3, abs=0.01)  # the grid
    from PIL import Image

    with Image.open(tmp_path / "cm.png") as png:
        assert png.size == (210, 60)


def test_render_sort_modes() -> None:
    cm = optim.ConfusionMatrix(["rare", "common"])
    cm.batch_add(ft.LongTensor([0, 1, 1, 1, 0]), ft.LongTensor([0, 1, 1, 1, 1]))
    # scores: rare 100%, common 75%; occurrences: rare 1, common 4 (pixel (8, 1): clear of the text)
    by_score = np.asarray(cm.render(block=10).tolist())
    by_count = np.asarray(cm.render(sortmode="occurrence", block=10).tolist())
    assert by_score[0, 8, 1] == pytest.approx(1.0, abs=0.01)
    assert by_count[0, 8, 1] == pytest.approx(0.75, abs=0.01)
    with pytest.raises(ArgumentError, match="score | occurrence"):
        cm.render(sortmode="name")


def test_render_without_matplotlib(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(ImportError, match=re.escape("pip install flambeau-optim[plot]")):
        _fixed().render()
