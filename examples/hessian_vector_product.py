"""Second derivatives with flambeau.autograd: `hessian` and the Hessian-vector product `hvp`.

`hvp(f)(x, v)` computes H(x) @ v with two reverse sweeps (the gradient of <grad f(x), v>),
without forming H; `hessian(f)(x)` forms H, one sweep per element of x. On a log-sum-exp of a
linear map plus a quartic term, both are checked against the Hessian written out by hand, and on a
large x (where H would have 4 million entries) the product is checked against finite differences
of the gradient.

Run it with `python examples/hessian_vector_product.py` where flambeau is installed
(`python3 -m nox -s examples` runs every example).
"""

import numpy as np

import flambeau.tensor as ft
from flambeau.autograd import grad, hessian, hvp


def main() -> None:
    rng = np.random.default_rng(0)
    A = rng.standard_normal((7, 5))
    At = ft.from_numpy(A)

    def f(x):
        z = At @ x
        m = z.max()
        return m + ft.log(ft.exp(z - m).sum()) + 0.25 * (x**4).sum()

    def explicit_hessian(x: np.ndarray) -> np.ndarray:
        """By hand: A^T (diag(p) - p p^T) A + diag(3 x^2), p = softmax(A x)."""
        z = A @ x
        p = np.exp(z - z.max())
        p /= p.sum()
        return A.T @ (np.diag(p) - np.outer(p, p)) @ A + np.diag(3 * x**2)

    x = ft.from_numpy(rng.standard_normal(5))
    v = ft.from_numpy(rng.standard_normal(5))
    H = explicit_hessian(x.numpy())

    print("== the Hessian")
    Hx = hessian(f)(x)
    print(Hx)
    assert Hx.size() == ft.Size([5, 5])
    assert np.allclose(Hx.numpy(), H, rtol=1e-12, atol=1e-12)
    assert np.allclose(Hx.numpy(), Hx.numpy().T, rtol=0, atol=1e-13)  # symmetric
    print(f"matches the Hessian written out by hand (max difference {np.abs(Hx.numpy() - H).max():.1e})")

    print("== the Hessian-vector product, without the Hessian")
    Hv = hvp(f)(x, v)
    print("hvp(f)(x, v) =", [round(t, 10) for t in Hv.tolist()])
    print("H @ v        =", [round(t, 10) for t in (H @ v.numpy()).tolist()])
    assert np.allclose(Hv.numpy(), H @ v.numpy(), rtol=1e-12, atol=1e-12)
    # the same thing spelled out: the gradient of <grad f(x), v>
    Hv2, _ = grad(lambda x: (grad(f)(x)[0] * v).sum())(x)
    assert np.allclose(Hv2.numpy(), Hv.numpy(), rtol=1e-13, atol=1e-14)
    # every column of H is a product with a unit vector
    for j in range(5):
        e = ft.zeros(5)
        e[j] = 1
        assert np.allclose(hvp(f)(x, e).numpy(), H[:, j], rtol=1e-12, atol=1e-12)
    print("equals H @ v, the gradient of <grad f, v>, and gives H's columns for unit vectors")

    print("== a product for 2000 variables, checked by finite differences of the gradient")
    n = 2000
    B = ft.from_numpy(rng.standard_normal((50, n)) / np.sqrt(n))

    def g(x):
        return ft.log(ft.exp(B @ x).sum()) + 0.25 * (x**4).sum() + (ft.sin(x) * x).sum()

    x, v = ft.from_numpy(rng.standard_normal(n)), ft.from_numpy(rng.standard_normal(n))
    Hv = hvp(g)(x, v)
    dg = grad(g)
    eps = 1e-5
    fd = (dg(x + eps * v)[0] - dg(x - eps * v)[0]) / (2 * eps)
    err = (ft.max(ft.abs(Hv - fd)) / ft.max(ft.abs(Hv))).item()
    print(f"|H v - finite differences| / |H v| = {err:.1e} over {n} entries")
    assert err < 1e-7


if __name__ == "__main__":
    main()
    print("hessian_vector_product.py: all checks passed")
