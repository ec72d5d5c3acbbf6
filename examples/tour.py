"""A tour of the talk's tensor slides, in flambeau.

Run it with `python examples/tour.py` where flambeau is installed (`python3 -m nox -s examples` runs it).
Each step prints the Torch7 line from the slide, then flambeau's answer, and checks the values.
"""

import flambeau.tensor as ft


def slide(torch7: str, flambeau: str) -> None:
    print(f"\n-- Torch7:   {torch7}\n   flambeau: {flambeau}")


def main() -> None:
    ft.manual_seed(1234)
    print("flambeau: Torch7's tensors in Python. Backends:", ", ".join(b.name for b in ft.backends()))

    slide("a = torch.DoubleTensor(4, 6)", "a = ft.DoubleTensor(4, 6).zero_()")
    a = ft.DoubleTensor(4, 6).zero_()  # like Torch7, a fresh tensor is uninitialised: zero it
    print(a)
    assert a.size() == (4, 6) and a.type() == "flambeau.DoubleTensor"

    slide("a:select(1, 3):fill(3)", "a.select(0, 2).fill_(3)   # a view: row 2 of a changes")
    a.select(0, 2).fill_(3)
    print(a)
    assert a[2].tolist() == [3.0] * 6 and a.sum().item() == 18

    slide("a = torch.rand(4, 6); b = torch.rand(6, 3)", "a = ft.rand(4, 6); b = ft.rand(6, 3)")
    a, b = ft.rand(4, 6), ft.rand(6, 3)
    print(b)
    assert 0 <= ft.min(b).item() and ft.max(b).item() < 1

    slide("c = torch.mm(a, b); c = a * b; torch.mm(c, a, b)", "ft.mm(a, b); a @ b; ft.mm(a, b, out=c)")
    c1 = ft.mm(a, b)
    c2 = a @ b
    c3 = ft.DoubleTensor(4, 3)
    ft.mm(a, b, out=c3)
    print(c3)
    assert c3.size() == (4, 3)
    assert ft.max(ft.abs(c1 - c2)).item() == 0 and ft.max(ft.abs(c1 - c3)).item() == 0

    slide("torch.eye(3) * 4 - 2", "ft.eye(3) * 4 - 2")
    e = ft.eye(3) * 4 - 2
    print(e)
    assert e.tolist() == [[2, -2, -2], [-2, 2, -2], [-2, -2, 2]]

    slide("torch.max(torch.FloatTensor{1, 3, 5})", "ft.max(ft.FloatTensor([1, 3, 5]))   # a 0-d tensor")
    m = ft.max(ft.FloatTensor([1, 3, 5]))
    print(m.item())
    assert m.item() == 5

    slide("torch.clamp(torch.range(0, 4), 0, 2)", "ft.clamp(ft.range(0, 4), 0, 2)   # range is inclusive")
    cl = ft.clamp(ft.range(0, 4), 0, 2)
    print(cl)
    assert cl.tolist() == [0, 1, 2, 2, 2]

    slide("torch.le(torch.range(1, 5), 3)", "ft.le(ft.range(1, 5), 3)   # a ByteTensor mask")
    le = ft.le(ft.range(1, 5), 3)
    print(le)
    assert le.type() == "flambeau.ByteTensor" and le.tolist() == [1, 1, 1, 0, 0]

    slide("x[torch.le(x, 3)]", "x[ft.le(x, 3)]   # masks select, as in Torch7")
    x = ft.range(1, 5)
    print(x[le])
    assert x[le].tolist() == [1, 2, 3]

    print("\nThe tour is over: every slide checked.")


if __name__ == "__main__":
    main()
