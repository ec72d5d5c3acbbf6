"""``StochasticGradient``: Torch's one-example-at-a-time SGD trainer (nn/StochasticGradient.lua)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor.errors import ArgumentError

from .criterion import Criterion
from .module import Module


def _dataset_size(dataset: Any) -> int:
    size = getattr(dataset, "size", None)
    if callable(size):
        return int(size())
    try:
        return len(dataset)
    except TypeError:
        raise ArgumentError(
            f"StochasticGradient.train: the dataset needs size() or len(), got {type(dataset).__name__}"
        ) from None


class StochasticGradient:
    """Train ``module`` on ``criterion`` with plain SGD, one example at a time, as Torch's trainer.

    :meth:`train` makes ``max_iteration`` passes (epochs) over the dataset. For each example it
    runs ``forward``, the criterion, ``update_grad_input`` and ``acc_update_grad_parameters`` (so the
    parameters move by ``-learning_rate * gradient`` at once and the gradient buffers are left
    alone). The examples are visited in one random order drawn once, before the first pass (with
    the default generator: ``ft.manual_seed`` makes it reproducible), or in order without
    ``shuffle_indices``. The first pass uses ``learning_rate``; pass ``k >= 2`` uses
    ``learning_rate / (1 + k * learning_rate_decay)`` (Torch's formula, which skips ``k = 1``).

    Hooks, as in Torch: ``hook_example(trainer, example)`` after each example and
    ``hook_iteration(trainer, iteration, current_error)`` after each pass (``iteration`` counts the
    passes done, from 1). With ``verbose`` (the default) it prints Torch's lines:
    ``# StochasticGradient: training``, ``# current error = <mean loss of the pass>`` after every
    pass, and, at the end, ``# StochasticGradient: you have reached the maximum number of
    iterations`` and ``# training error = <error>``.

    Parameters
    ----------
    module : Module
        The model; its ``acc_update_grad_parameters`` is used (Sequential and layers have it).
    criterion : Criterion
        The loss.
    learning_rate, learning_rate_decay, max_iteration, shuffle_indices, hook_example, hook_iteration, verbose
        Torch's fields (``learningRate`` ...), settable after construction. ``max_iteration <= 0``
        trains forever (as Torch).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> ft.manual_seed(0)
    >>> data = [(ft.Tensor([float(i)]), ft.Tensor([2.0 * i])) for i in range(4)]
    >>> model = nn.Linear(1, 1)
    >>> trainer = nn.StochasticGradient(model, nn.MSECriterion())
    >>> trainer.learning_rate, trainer.max_iteration = 0.05, 200
    >>> trainer.verbose = False
    >>> error = trainer.train(data)
    >>> error < 1e-6, round(model.weight.item(), 3), round(model.bias.item(), 3)
    (True, 2.0, 0.0)
    """

    def __init__(
        self,
        module: Module,
        criterion: Criterion,
        learning_rate: float = 0.01,
        learning_rate_decay: float = 0.0,
        max_iteration: int = 25,
        shuffle_indices: bool = True,
        hook_example: Callable[[StochasticGradient, Any], Any] | None = None,
        hook_iteration: Callable[[StochasticGradient, int, float], Any] | None = None,
        verbose: bool = True,
    ) -> None:
        if not isinstance(module, Module):
            raise ArgumentError(f"StochasticGradient: expected an nn module, got {type(module).__name__}")
        if not isinstance(criterion, Criterion):
            raise ArgumentError(f"StochasticGradient: expected a criterion, got {type(criterion).__name__}")
        self.module = module
        self.criterion = criterion
        self.learning_rate = learning_rate
        self.learning_rate_decay = learning_rate_decay
        self.max_iteration = max_iteration
        self.shuffle_indices = shuffle_indices
        self.hook_example = hook_example
        self.hook_iteration = hook_iteration
        self.verbose = verbose

    def _print(self, text: str) -> None:
        if self.verbose:
            print(text)

    def train(self, dataset: Any) -> float:
        """Train on ``dataset`` (``dataset[i]`` is ``(input, target)``, ``0 <= i < size``); returns the last pass's mean error."""
        n = _dataset_size(dataset)
        if n <= 0:
            raise ArgumentError("StochasticGradient.train: the dataset is empty")
        order = ft.randperm(n).tolist() if self.shuffle_indices else list(range(n))
        module, criterion = self.module, self.criterion
        lr = self.learning_rate
        iteration = 1
        self._print("# StochasticGradient: training")
        while True:
            current_error = 0.0
            for i in order:
                example = dataset[i]
                input, target = example[0], example[1]
                current_error += criterion.forward(module.forward(input), target)
                module.update_grad_input(input, criterion.update_grad_input(module.output, target))
                module.acc_update_grad_parameters(input, criterion.grad_input, lr)
                if self.hook_example is not None:
                    self.hook_example(self, example)
            current_error /= n
            if self.hook_iteration is not None:
                self.hook_iteration(self, iteration, current_error)
            self._print(f"# current error = {current_error:.14g}")
            iteration += 1
            lr = self.learning_rate / (1 + iteration * self.learning_rate_decay)
            if self.max_iteration > 0 and iteration > self.max_iteration:
                self._print("# StochasticGradient: you have reached the maximum number of iterations")
                self._print(f"# training error = {current_error:.14g}")
                return current_error

    def __repr__(self) -> str:
        return f"nn.StochasticGradient({self.module!r}, {self.criterion!r})"


__all__ = ["StochasticGradient"]
