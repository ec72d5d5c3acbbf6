"""Special functions: flambeau.special, torch-cephes re-made, on numbers and on tensors.

A number in gives a number out; a tensor anywhere among the arguments gives a tensor, element-wise
with broadcasting. The functions are ops autograd differentiates: the script takes the gradient of
a log-likelihood written with `lgam` and `digamma` and checks it against finite differences.
Values are checked against scipy.special.

Run it with `python examples/special_functions.py` where flambeau is installed
(`python3 -m nox -s examples` runs every example).
"""

import math

import numpy as np
import scipy.special as sp

import flambeau.tensor as ft
from flambeau import special
from flambeau.autograd import check_grads, grad


def on_numbers() -> None:
    print("== numbers in, numbers out")
    g = special.gamma(0.5)
    print(f"gamma(0.5) = {g!r} (sqrt(pi) = {math.sqrt(math.pi)!r})")
    assert isinstance(g, float) and abs(g - math.sqrt(math.pi)) < 1e-15
    assert abs(special.lgam(10.0) - math.log(math.factorial(9))) < 1e-12
    assert abs(special.erf(0.3) - math.erf(0.3)) < 1e-15
    assert abs(special.ndtri(0.975) - 1.959963984540054) < 1e-12
    # cephes's conventions are kept: ellpk takes the complementary parameter m1 = 1 - m
    assert abs(special.ellpk(1 - 0.3) - sp.ellipk(0.3)) < 1e-14
    # functions with several results return named tuples
    s = special.sici(1.0)
    print("sici(1.0) =", s)
    assert abs(s[0] - sp.sici(1.0)[0]) < 1e-14 and abs(s[1] - sp.sici(1.0)[1]) < 1e-14
    for name in ("gamma", "lgam", "erf", "ndtri", "ellpk", "sici"):
        print(f"  {name}: {special.FUNCTIONS[name].__doc__.splitlines()[0]}")


def on_tensors() -> None:
    print("== tensors in, tensors out (element-wise, broadcasting)")
    x = ft.linspace(0.1, 4.0, 8)
    nx = x.numpy()
    assert np.allclose(special.gamma(x).numpy(), sp.gamma(nx), rtol=1e-14)
    assert np.allclose(special.digamma(x).numpy(), sp.digamma(nx), rtol=1e-13)
    assert np.allclose(special.erfc(x).numpy(), sp.erfc(nx), rtol=1e-14)

    # three arguments, broadcast: the regularized incomplete beta over a grid of a and x
    a = ft.tensor([[0.5], [1.0], [2.0]])  # 3x1
    xs = ft.tensor([0.1, 0.5, 0.9])  # 3
    ib = special.incbet(a, 2.0, xs)
    print("incbet(a, 2, x) on a 3x3 grid:")
    print(ib)
    assert ib.size() == ft.Size([3, 3])
    assert np.allclose(ib.numpy(), sp.betainc(a.numpy(), 2.0, xs.numpy()), rtol=1e-13)

    # float32 stays float32; integer tensors are promoted to the default float type
    assert special.erf(ft.FloatTensor([0.5])).type() == "flambeau.FloatTensor"
    assert special.gamma(ft.LongTensor([1, 2, 3, 4])).tolist() == [1, 1, 2, 6]
    print("gamma of a LongTensor [1, 2, 3, 4]:", special.gamma(ft.LongTensor([1, 2, 3, 4])).tolist())


def a_gradient() -> None:
    print("== a gradient through special functions")
    # The log-likelihood of gamma(shape k, rate 1) samples, as a function of k.
    data = ft.tensor([0.7, 1.9, 2.4, 3.3, 1.1])

    def loglik(k):
        return ((k - 1) * ft.log(data) - data - special.lgam(k)).sum()

    dk, value = grad(loglik)(ft.tensor([2.0]))
    # d/dk = sum(log x) - n * digamma(k)
    expected = float(np.log(data.numpy()).sum() - 5 * sp.digamma(2.0))
    print(f"loglik at k = 2: {float(value):.6f}, d/dk = {dk.item():.12f} (closed form {expected:.12f})")
    assert abs(dk.item() - expected) < 1e-12
    check_grads(loglik, ft.tensor([2.0]), order=1)  # against finite differences
    # the gradient of gamma itself is gamma * digamma
    dg, _ = grad(lambda x: special.gamma(x).sum())(ft.tensor([0.5, 2.5]))
    assert np.allclose(dg.numpy(), sp.gamma([0.5, 2.5]) * sp.digamma([0.5, 2.5]), rtol=1e-13)
    print("d gamma(x)/dx at [0.5, 2.5]:", dg.tolist())


if __name__ == "__main__":
    on_numbers()
    on_tensors()
    a_gradient()
    print("special_functions.py: all checks passed")
