"""StochasticGradient: training lowers the error, hooks, shuffling, Torch's printing and learning-rate decay."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import flambeau.nn as nn
import flambeau.tensor as ft
from flambeau.tensor.errors import ArgumentError
from flambeau.tensor.testing import host, on_device


class LogSoftMaxForTests(nn.Module):
    """A two-line log-softmax, used when nn.LogSoftMax is not there."""

    def update_output(self, input: Any) -> Any:
        self.output = input - ft.logsumexp(input, input.dim() - 1, keepdim=True)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output - ft.exp(self.output) * grad_output.sum(input.dim() - 1, keepdim=True)
        return self.grad_input


LogSoftMax = getattr(nn, "LogSoftMax", LogSoftMaxForTests)


class ToyData:
    """Two separable classes in 2-D (class 0 left of x = 0, class 1 right), Torch-style: size() and [i], 0-based."""

    def __init__(self, n: int = 16, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        pts = rng.uniform(0.3, 1.5, (n, 2))
        labels = np.arange(n) % 2
        pts[:, 0] *= np.where(labels == 1, 1.0, -1.0)
        pts[:, 1] = rng.uniform(-1, 1, n)
        self.inputs = [on_device(p) for p in pts]
        self.labels = [int(c) for c in labels]
        self.seen: list[int] = []

    def size(self) -> int:
        return len(self.inputs)

    def __getitem__(self, i: int) -> tuple[ft.Tensor, int]:
        assert 0 <= i < self.size(), i  # 0-based
        self.seen.append(i)
        return self.inputs[i], self.labels[i]


def make_model() -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, 2), LogSoftMax())


@pytest.mark.device
def test_training_a_linear_log_softmax_model_lowers_the_error_and_separates_the_classes() -> None:
    data = ToyData()
    model = make_model()
    errors: list[float] = []
    trainer = nn.StochasticGradient(model, nn.ClassNLLCriterion(), learning_rate=0.1, verbose=False)
    trainer.max_iteration = 15
    trainer.hook_iteration = lambda t, it, err: errors.append(err)
    final = trainer.train(data)
    assert len(errors) == 15 and final == errors[-1]
    assert errors[-1] < 0.5 * errors[0]
    assert all(b <= a + 1e-12 for a, b in zip(errors, errors[1:], strict=False))  # separable: steady descent
    predicted = [int(ft.argmax(model.forward(x), 0)) for x in data.inputs]
    assert predicted == data.labels


@pytest.mark.device
def test_one_pass_in_order_is_plain_sgd_example_by_example() -> None:
    data = ToyData(n=5)
    model = make_model()
    reference = model.clone()
    crit = nn.ClassNLLCriterion()
    trainer = nn.StochasticGradient(model, crit, learning_rate=0.3, max_iteration=1, shuffle_indices=False)
    trainer.verbose = False
    error = trainer.train(data)
    expected_error = 0.0
    for x, y in zip(data.inputs, data.labels, strict=True):
        reference.zero_grad_parameters()
        expected_error += crit.forward(reference.forward(x), y)
        reference.backward(x, crit.backward(reference.output, y))
        reference.update_parameters(0.3)
    assert error == pytest.approx(expected_error / 5, rel=1e-14)
    for p, q in zip(model.parameters()[0], reference.parameters()[0], strict=True):
        np.testing.assert_allclose(host(p), host(q), rtol=1e-14, atol=1e-15)
    for g in model.parameters()[1]:  # acc_update_grad_parameters leaves the gradient buffers alone
        assert g.abs().sum().item() == 0.0


@pytest.mark.device
def test_hooks_are_called_with_the_trainer_each_example_and_each_pass() -> None:
    data = ToyData(n=6)
    examples: list[tuple[Any, Any]] = []
    passes: list[tuple[int, float]] = []
    trainer = nn.StochasticGradient(
        make_model(),
        nn.ClassNLLCriterion(),
        max_iteration=3,
        hook_example=lambda t, ex: examples.append((t, ex)),
        hook_iteration=lambda t, it, err: passes.append((it, err)),
        verbose=False,
    )
    final = trainer.train(data)
    assert len(examples) == 18 and all(t is trainer for t, _ in examples)
    assert [ex[0] for _, ex in examples] == [data.inputs[i] for i in data.seen]
    assert [it for it, _ in passes] == [1, 2, 3] and passes[-1][1] == final


@pytest.mark.device
def test_the_shuffled_order_is_drawn_once_and_is_reproducible_with_manual_seed() -> None:
    def order(seed: int, shuffle: bool = True) -> list[int]:
        ft.manual_seed(seed)
        data = ToyData(n=8)
        nn.StochasticGradient(
            make_model(), nn.ClassNLLCriterion(), max_iteration=2, shuffle_indices=shuffle, verbose=False
        ).train(data)
        return data.seen

    a, b = order(3), order(3)
    assert a == b
    assert sorted(a[:8]) == list(range(8)) and a[:8] == a[8:]  # one permutation, kept for every pass
    assert a[:8] != list(range(8))
    assert order(4) != a
    assert order(3, shuffle=False) == list(range(8)) * 2


def test_prints_torchs_lines_unless_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    trainer = nn.StochasticGradient(make_model(), nn.ClassNLLCriterion(), max_iteration=2)
    errors: list[float] = []
    trainer.hook_iteration = lambda t, it, err: errors.append(err)
    trainer.train(ToyData(n=4))
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "# StochasticGradient: training",
        f"# current error = {errors[0]:.14g}",
        f"# current error = {errors[1]:.14g}",
        "# StochasticGradient: you have reached the maximum number of iterations",
        f"# training error = {errors[1]:.14g}",
    ]
    assert float(lines[1].rsplit(" ", 1)[1]) == pytest.approx(errors[0], rel=1e-13)
    trainer.verbose = False
    trainer.train(ToyData(n=4))
    assert capsys.readouterr().out == ""


class RecordingLinear(nn.Linear):
    """A Linear that records the learning rate each update uses."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__(n_in, n_out)
        self.rates: list[float] = []

    def acc_update_grad_parameters(self, input: Any, grad_output: Any, lr: float) -> None:
        self.rates.append(lr)
        super().acc_update_grad_parameters(input, grad_output, lr)


@pytest.mark.device
def test_learning_rate_decay_follows_torchs_formula() -> None:
    layer = RecordingLinear(2, 2)
    model = nn.Sequential(layer, LogSoftMax())
    trainer = nn.StochasticGradient(model, nn.ClassNLLCriterion(), learning_rate=0.5, learning_rate_decay=0.1)
    trainer.max_iteration, trainer.verbose = 3, False
    trainer.train(ToyData(n=2))
    assert layer.rates == [0.5, 0.5, 0.5 / 1.2, 0.5 / 1.2, 0.5 / 1.3, 0.5 / 1.3]


@pytest.mark.device
def test_a_plain_list_is_a_dataset_and_bad_datasets_are_refused() -> None:
    data = [(ft.Tensor([1.0, 0.0]), 0), (ft.Tensor([-1.0, 0.0]), 1)]
    err = nn.StochasticGradient(make_model(), nn.ClassNLLCriterion(), max_iteration=1, verbose=False).train(data)
    assert err > 0
    trainer = nn.StochasticGradient(make_model(), nn.ClassNLLCriterion(), verbose=False)
    with pytest.raises(ArgumentError, match="the dataset needs size\\(\\) or len\\(\\), got int"):
        trainer.train(3)
    with pytest.raises(ArgumentError, match="the dataset is empty"):
        trainer.train([])
    with pytest.raises(ArgumentError, match="expected a criterion, got Linear"):
        nn.StochasticGradient(make_model(), nn.Linear(2, 2))  # type: ignore[arg-type]
    assert repr(trainer).startswith("nn.StochasticGradient(nn.Sequential {")
