"""Every autograd example of the talk: scalars, if, for, recursion, tensors, new ops' gradients.

`flambeau.autograd.grad(f)` returns a function giving (the gradient of `f` for its first
argument, the value of `f`). `f` is ordinary Python: the branch taken and the loop run are the ones
differentiated. An op with no gradient gets one with `defvjp`, and a new op with its own gradient
is made with `@primitive`; both are checked against closed forms and finite differences. Then the
talk's small MLP is trained by hand, plainly and in optimized mode. (Hessian-vector products are
in `hessian_vector_product.py`, the net three ways in `neural_net_three_ways.py`, gradient and
backend plugins in `plugins.py`.)

Run it with `python examples/autograd_talk_examples.py` where flambeau is installed
(`python3 -m nox -s examples` runs every example). Every step prints what it computes and checks it.
"""

import math
import time

import flambeau.tensor as ft
from flambeau.autograd import check_grads, defvjp, grad, loss, primitive, undefvjp, util


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

    # A new op with its own gradient: log(1 + exp(x)) computed stably, with the gradient
    # sigmoid(x) written by hand instead of traced through the ops inside.
    @primitive
    def softplus(x):
        return ft.clamp(x, 0, None) + ft.log1p(ft.exp(-ft.abs(x)))

    softplus.defvjp(lambda g, ans, x: g * ft.sigmoid(x))
    xs = ft.Tensor([-800.0, -1.0, 0.0, 2.0, 800.0])
    ds, value = grad(lambda x: softplus(x).sum())(xs)
    print("softplus at", xs.tolist(), "gradient", [round(v, 6) for v in ds.tolist()])
    assert ds.tolist() == ft.sigmoid(xs).tolist() and math.isfinite(float(value))
    assert abs(float(value) - (800 + math.log(2) + math.log1p(math.exp(-1)) + math.log1p(math.exp(2)))) < 1e-9
    check_grads(lambda x: softplus(x).sum(), ft.Tensor([-1.5, 0.3, 2.0]), order=1)  # the rule is right

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


if __name__ == "__main__":
    main()
    print("autograd_talk_examples.py: all checks passed")
