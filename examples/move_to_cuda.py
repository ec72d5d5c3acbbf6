"""Moving a model and its data to the GPU with `.cuda()`, and checking the results equal the cpu's.

The cuda device is served by the `flambeau-cupy` backend plugin. Where it is not usable (no cupy,
no driver, no GPU) the script prints the reason `ft.backends()` gives and exits with status 0
("skipping: ..."). Where it is, it builds a small convnet on the cpu, copies it, moves the copy
and a batch with `.cuda()`, runs forward and backward on both devices and checks the outputs,
the loss and every parameter's gradient agree (double precision; results come back with `.cpu()`).

Run it with `python examples/move_to_cuda.py` where flambeau is installed (with
`pip install 'flambeau-cupy[cuda12]'` on a machine with an NVIDIA GPU for the real run;
`python3 -m nox -s examples` runs every example).
"""

import sys
from collections.abc import Callable

import flambeau.nn as nn
import flambeau.tensor as ft


def cuda_unavailable_reason() -> str | None:
    """Why device 'cuda' cannot be used here, from ``ft.backends()``; None when it can."""
    infos = [b for b in ft.backends() if b.device == "cuda"]
    if not infos:
        return "no backend serves device 'cuda' (install flambeau-cupy: pip install 'flambeau-cupy[cuda12]')"
    if not infos[0].available:
        return f"device 'cuda' (backend {infos[0].name!r} from {infos[0].dist}) is unavailable: {infos[0].reason}"
    return None


def compare(move: Callable[[ft.Tensor | nn.Module], ft.Tensor | nn.Module], where: str) -> None:
    """Run a model on the cpu and, moved by ``move``, on ``where``; assert the results agree."""
    ft.manual_seed(0)
    model = nn.Sequential(
        nn.SpatialConvolution(3, 8, 5, 5),
        nn.Tanh(),
        nn.SpatialMaxPooling(2, 2, 2, 2),
        nn.Reshape(8 * 6 * 6),
        nn.Linear(8 * 6 * 6, 10),
        nn.LogSoftMax(),
    )
    crit = nn.ClassNLLCriterion()
    images, labels = ft.randn(16, 3, 16, 16), ft.LongTensor([i % 10 for i in range(16)])
    moved_model = move(model.clone())  # the same weights, then moved
    moved_images, moved_labels = move(images), move(labels)
    moved_crit = move(crit)
    print(f"model parameters: {model.type()} -> {moved_model.type()}; images on {moved_images.device}")

    results = {}
    for name, m, c, x, y in (
        ("cpu", model, crit, images, labels),
        (where, moved_model, moved_crit, moved_images, moved_labels),
    ):
        m.zero_grad_parameters()
        out = m.forward(x)
        loss = c.forward(out, y)
        grad_input = m.backward(x, c.backward(out, y))
        _, grads = m.parameters()
        results[name] = (out.cpu(), loss, grad_input.cpu(), [g.cpu() for g in grads])
        print(f"  {name:5s}: output {out.type()} {tuple(out.size())}, loss {loss:.12f}")

    (out0, loss0, gin0, g0), (out1, loss1, gin1, g1) = results["cpu"], results[where]
    assert abs(loss0 - loss1) < 1e-10, (loss0, loss1)
    assert ft.max(ft.abs(out0 - out1)).item() < 1e-10
    assert ft.max(ft.abs(gin0 - gin1)).item() < 1e-10
    for a, b in zip(g0, g1, strict=True):
        assert a.size() == b.size() and ft.max(ft.abs(a - b)).item() < 1e-10
    print(f"output, loss, input gradient and {len(g0)} parameter gradients agree between cpu and {where}")

    # single precision on the device (Torch7's CudaTensor is float32): agrees to float32 rounding
    a, b = ft.randn(64, 32), ft.randn(32, 16)
    on_device = (move(a).float() @ move(b).float()).cpu().double()
    assert ft.max(ft.abs(on_device - a @ b)).item() < 1e-4
    print(f"float32 matrix product on {where} agrees with the cpu's to float32 rounding")


def main() -> int:
    print(*ft.backends(), sep="\n")
    reason = cuda_unavailable_reason()
    if reason is not None:
        print(f"skipping: {reason}")
        return 0
    compare(lambda t: t.cuda(), "cuda")
    print("move_to_cuda.py: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
