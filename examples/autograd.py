"""The talk's autograd examples, in flambeau: scalars, if, for, recursion, tensors, a new op's gradient.

Run it with `python examples/autograd.py` where flambeau is installed (`nox -s examples` runs it).
Every step prints what it computes and checks the values.
"""

import math
import time

import flambeau.tensor as ft
from flambeau.autograd import check_grads, defvjp, grad, loss, undefvjp, util


def main() -> None:
    ft.manual_seed(0)

    # f(a, b, c) = a + b * c: derivative 1 in a.
    da, value = grad(lambda a, b, c: a + b * c)(3.5, 2.1, 1.1)
    print(f"a + b*c at (3.5, 2.1, 1.1): value {float(value):.2f}, d/da {da}")
    assert abs(float(value) - 5.81) < 1e-12 and da == 1.0

    # Control flow is ordinary Python: the branch taken is the one differentiated.
    def f(a, b, c):
        if b > c:
            return a * ft.sin(b)
        return a + b + c

    da, value = grad(f)(3.5, 2.1, 1.1)
    print(f"if b > c: a*sin(b): value {float(value):.13f}, d/da {da:.14f}")
    assert abs(float(value) - 3.0212327832711) < 1e-12 and abs(da - 0.86320936664887) < 1e-13

    # Loops and recursion.
    def loop(a):
        for _ in range(2):
            a = a * a
        return a

    def recursive(a, n=2):
        return a if n == 0 else recursive(a * a, n - 1)

    for fn in (loop, recursive):
        da, value = grad(fn)(3.0)
        print(f"{fn.__name__}: a = a*a twice from 3: value {float(value)}, d/da {da}")
        assert float(value) == 81.0 and da == 108.0

    # Tensors, with an if on sums.
    def g(a, b):
        return (a * b).sum() if a.sum() > b.sum() else (a + b).sum()

    da, value = grad(g)(ft.Tensor([1.0, 2.0, 3.0]), ft.Tensor([0.5, 0.5, 0.5]))
    print("tensors:", float(value), da.tolist())
    assert da.tolist() == [0.5, 0.5, 0.5]

    # New ops aren't a problem: floor has no gradient, until we give it one.
    h = lambda a: ft.floor(a**3).sum()
    dA, value = grad(h)(ft.eye(3))
    print("sum(floor(A^3)) at eye(3):", float(value), "gradient", dA.tolist())
    assert float(value) == 3.0 and dA.sum().item() == 0.0
    defvjp("floor", lambda g, ans, x: g)  # pass the gradient through
    dA, _ = grad(h)(ft.eye(3))
    print("with a pass-through gradient for floor:", dA.tolist())
    assert dA.tolist() == (ft.eye(3) * 3).tolist()
    undefvjp("floor")

    # A small MLP written with individual functions, trained a few steps by hand.
    def mlp(params, x, y):
        h1 = ft.tanh(x @ params["W1"] + params["b1"])
        h2 = ft.tanh(h1 @ params["W2"] + params["b2"])
        return loss.log_multinomial_loss(util.log_softmax(h2 @ params["W3"] + params["b3"]), y)

    sizes = [(8, 16), (16, 16), (16, 4)]
    params = {}
    for i, (n, m) in enumerate(sizes, 1):
        params[f"W{i}"] = ft.randn(n, m) / math.sqrt(n)
        params[f"b{i}"] = ft.zeros(m)
    start = dict(params)
    x = ft.randn(32, 8)
    y = util.one_hot(ft.argmax(x[:, :4], 1), 4)  # learnable: the largest of the first four inputs
    dmlp = grad(mlp)
    check_grads(lambda w1: mlp({**params, "W1": w1}, x, y), params["W1"], order=1)
    first = None
    for _ in range(100):
        dparams, value = dmlp(params, x, y)
        first = float(value) if first is None else first
        params = {k: p - 0.05 * dparams[k] for k, p in params.items()}
    print(f"MLP loss: {first:.3f} -> {float(value):.3f} after 100 steps")
    assert float(value) < 0.5 * first

    # The same training in optimized mode: recorded once, then replayed as straight-line numpy.
    fast = grad(mlp, optimize=True)
    p_fast, p_plain = dict(start), dict(start)
    for _ in range(20):
        (d_fast, v_fast), (d_plain, v_plain) = fast(p_fast, x, y), dmlp(p_plain, x, y)
        p_fast = {k: p - 0.05 * d_fast[k] for k, p in p_fast.items()}
        p_plain = {k: p - 0.05 * d_plain[k] for k, p in p_plain.items()}
    t0 = time.perf_counter()
    for _ in range(50):
        fast(p_fast, x, y)
    t1 = time.perf_counter()
    for _ in range(50):
        dmlp(p_plain, x, y)
    t2 = time.perf_counter()
    print(
        f"optimized mode: {fast.recordings} recording, {fast.replays} replays, same losses"
        f" ({float(v_fast):.6f}); {(t2 - t1) / (t1 - t0):.1f}x faster per step here"
    )
    assert abs(float(v_fast) - float(v_plain)) < 1e-12 and fast.recordings == 1

    # Second order: a Hessian-vector product.
    cube = lambda x: (x**3).sum()
    v = ft.Tensor([1.0, 1.0])
    hv = grad(lambda x: (grad(cube)(x)[0] * v).sum())(ft.Tensor([1.0, 2.0]))[0]
    print("Hessian-vector product of sum(x^3) at [1, 2]:", hv.tolist())
    assert hv.tolist() == [6.0, 12.0]


if __name__ == "__main__":
    main()
