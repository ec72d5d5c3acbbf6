"""Linear algebra: Torch7's LAPACK group (2.7) and today's names (``solve``, ``cholesky``, ``eigh``...).

Every op here is float-only: integer inputs are promoted to the default float type. The forwards
call ``xp.linalg`` (numpy or cupy) where it has the routine and are written with plain ``xp``
operations where it does not (LU packing for ``gesv``, pivoted Cholesky, applying Householder
reflectors for ``orgqr``/``ormqr``).

Differences from Torch7, all listed in the Torch7 -> flambeau table of ``docs/``:

* results are ordinary row-major tensors (Torch7 returned them with column-major strides);
* ``eig`` and ``symeig`` compute eigenvectors by default (Torch7 defaulted to ``'N'``); the mode
  strings become booleans ``eigenvectors=`` and ``upper=``; without vectors the second result is an
  empty tensor, so the result is always a pair;
* ``gels`` returns the n x k solution only: Torch7's extra rows n..m-1 (residual information) are
  dropped; the residual is ``(a @ x - b).norm()``;
* ``pstrf`` returns 0-based pivots and accepts rank-deficient positive semi-definite matrices (the
  rows of the factor past the rank are zero) where Torch7 raised;
* ``orgqr`` returns the first ``min(m, n)`` columns of Q.

Torch7 names keep Torch7's argument order (``gesv(b, a)``, ``trtrs(b, a)``, ``gels(b, a)``,
``potrs(b, u)``); today's names keep numpy/PyTorch's (``solve(a, b)``, ``lstsq(a, b)``).

On cupy: singular or non-positive-definite inputs are detected from cuSOLVER's status (the
routines run under ``cupyx.errstate(linalg='raise')``) and by checking the result for non-finite
values on any device other than the cpu; ``eig`` runs on the host (cupy has no general
eigensolver) and ``pstrf``, ``gesv``'s LU and ``orgqr``/``ormqr`` loop in Python over the columns.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from ..errors import DomainError, ShapeError, size_text
from ..optable import Op, declare, value_checks

_F = frozenset({"function", "method", "out"})  # results differ in size from the input: no in-place form


def _matrix(op: str, name: str, a: Any, square: bool = False, batch: bool = True) -> None:
    """``a`` must be a matrix (or a batch of them when ``batch``), square when ``square``."""
    if a.ndim < 2 or (not batch and a.ndim != 2):
        kind = "a 2-D matrix" + (" or a batch of matrices" if batch else "")
        raise ShapeError(f"{op}: {name} must be {kind}, got size {size_text(a.shape)}")
    if square and a.shape[-1] != a.shape[-2]:
        raise ShapeError(f"{op}: {name} must be square, got size {size_text(a.shape)}")


def _rhs(op: str, bname: str, b: Any, aname: str, a: Any, batch: bool = True) -> None:
    """``b`` is the right-hand side of a system with matrix ``a``: a vector or (a batch of) n x k matrices."""
    if b.ndim == 0 or (not batch and b.ndim > 2):
        raise ShapeError(f"{op}: {bname} must be a vector or a matrix, got size {size_text(b.shape)}")
    rows = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if rows != a.shape[-2]:
        raise ShapeError(
            f"{op}: size mismatch, {bname} is {size_text(b.shape)} and {aname} is {size_text(a.shape)}"
            f" ({bname} must have {a.shape[-2]} rows, as {aname})"
        )


def _linsolve(xp: Any, a: Any, b: Any) -> Any:
    """``xp.linalg.solve`` with numpy 2's broadcasting of batch dims (cupy wants them equal).

    ``b`` of one dim is one right-hand side for every matrix of the batch.
    """
    if b.ndim == 1:
        if a.ndim == 2:
            return xp.linalg.solve(a, b)
        return _linsolve(xp, a, b[:, None])[..., 0]
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    if a.shape[:-2] != batch:
        a = xp.broadcast_to(a, batch + a.shape[-2:])
    if b.shape[:-2] != batch:
        b = xp.broadcast_to(b, batch + b.shape[-2:])
    return xp.linalg.solve(a, b)


def _flag(op: str, name: str, value: Any, allowed: str) -> str:
    v = value.upper() if isinstance(value, str) else value
    if v not in tuple(allowed):
        choices = " or ".join(repr(c) for c in allowed)
        raise DomainError(f"{op}: {name} must be {choices}, got {value!r}")
    return str(v)


def _raising(fn: Any, args: tuple[Any, ...] = ()) -> Any:
    """A context in which ``fn`` reports a failed factorization by raising LinAlgError.

    cupy's cuSOLVER wrappers check the routines' status (and raise numpy's LinAlgError) only under
    ``cupyx.errstate(linalg='raise')``; by default they return whatever the routine left, which is
    not always non-finite (a Cholesky factor of a matrix that is not positive definite, say).
    """
    modules = [str(getattr(fn, "__module__", "") or "")] + [type(a).__module__ for a in args]
    if any(m.startswith("cupy") for m in modules):
        import cupyx

        return cupyx.errstate(linalg="raise")
    return contextlib.nullcontext()


def _lapack(op: str, condition: str, fn: Any, *args: Any, **kw: Any) -> Any:
    """Call a backend linalg routine; its LinAlgError becomes a DomainError naming the op, the condition and the size."""
    try:
        with _raising(fn, args):
            return fn(*args, **kw)
    except np.linalg.LinAlgError as e:  # cupy raises numpy's class too (under cupyx.errstate)
        size = next((size_text(a.shape) for a in args if isinstance(getattr(a, "shape", None), tuple)), "?")
        raise DomainError(f"{op}: {condition} (LAPACK: {e}; matrix of size {size})") from e


def _finite(xp: Any, op: str, condition: str, *rs: Any) -> None:
    """cuSOLVER reports failures as nan/inf instead of raising: check on devices other than the cpu."""
    if xp is np or not value_checks():
        return
    for r in rs:
        if not bool(xp.isfinite(r).all()):
            raise DomainError(f"{op}: {condition} (the result is not finite)")


def _mT(xp: Any, a: Any) -> Any:  # noqa: N802 - the usual name of a batched transpose
    return xp.swapaxes(a, -1, -2)


def _sym(xp: Any, a: Any, upper: bool) -> Any:
    """The symmetric matrix whose upper (or lower) triangle is that of ``a``."""
    if upper:
        return xp.triu(a) + _mT(xp, xp.triu(a, 1))
    return xp.tril(a) + _mT(xp, xp.tril(a, -1))


def _tri(xp: Any, a: Any, upper: bool) -> Any:
    return xp.triu(a) if upper else xp.tril(a)


def _eye_like(xp: Any, a: Any) -> Any:
    return xp.broadcast_to(xp.eye(a.shape[-1], dtype=a.dtype), a.shape)


def _empty(xp: Any, a: Any) -> Any:
    return xp.empty((0,), dtype=a.dtype)


# --------------------------------------------------------------------------------------------
# Solving linear systems.


def _lu_packed(xp: Any, a: Any) -> Any:
    """LAPACK getrf's packed LU with partial pivoting (L below the diagonal, unit diagonal implied, U on and above)."""
    n = a.shape[-1]
    lu = xp.array(a.reshape((int(np.prod(a.shape[:-2])), n, n)), copy=True)
    rows = xp.arange(lu.shape[0])
    for k in range(n):
        p = xp.argmax(xp.abs(lu[:, k:, k]), axis=1) + k
        row_k = lu[rows, k].copy()
        lu[rows, k] = lu[rows, p]
        lu[rows, p] = row_k
        pivot = lu[:, k, k]
        lu[:, k + 1 :, k] /= xp.where(pivot == 0, 1, pivot)[:, None]  # a zero pivot has zeros below it
        lu[:, k + 1 :, k + 1 :] -= lu[:, k + 1 :, k, None] * lu[:, k, None, k + 1 :]
    return lu.reshape(a.shape)


def _gesv(xp: Any, b: Any, a: Any) -> Any:
    _matrix("gesv", "A", a, square=True)
    _rhs("gesv", "B", b, "A", a)
    x = _lapack("gesv", "A is singular", _linsolve, xp, a, b)
    _finite(xp, "gesv", "A is singular", x)
    return x, _lu_packed(xp, a)


def _solve(xp: Any, a: Any, b: Any) -> Any:
    _matrix("solve", "A", a, square=True)
    _rhs("solve", "B", b, "A", a)
    x = _lapack("solve", "A is singular", _linsolve, xp, a, b)
    _finite(xp, "solve", "A is singular", x)
    return x


def _trtrs(xp: Any, b: Any, a: Any, uplo: str = "U", trans: str = "N", diag: str = "N") -> Any:
    upper = _flag("trtrs", "uplo", uplo, "UL") == "U"
    transpose = _flag("trtrs", "trans", trans, "NT") == "T"
    unit = _flag("trtrs", "diag", diag, "NU") == "U"
    _matrix("trtrs", "A", a, square=True)
    _rhs("trtrs", "b", b, "A", a)
    t = _tri(xp, a, upper)
    if unit:
        i = xp.arange(a.shape[-1])
        t[..., i, i] = 1
    if transpose:
        t = _mT(xp, t)
    x = _lapack("trtrs", "A is singular (a zero on its diagonal)", _linsolve, xp, t, b)
    _finite(xp, "trtrs", "A is singular (a zero on its diagonal)", x)
    return x, xp.array(a, copy=True)


# --------------------------------------------------------------------------------------------
# Cholesky and friends.


def _chol(xp: Any, op: str, a: Any, read_upper: bool, upper: bool) -> Any:
    _matrix(op, "A", a, square=True)
    cond = "A is not positive definite"
    low = _lapack(op, cond, xp.linalg.cholesky, _sym(xp, a, read_upper) if read_upper else a)
    _finite(xp, op, cond, low)
    return _mT(xp, low) if upper else low


def _potrf(xp: Any, input: Any, uplo: str = "U") -> Any:
    upper = _flag("potrf", "uplo", uplo, "UL") == "U"
    return _chol(xp, "potrf", input, upper, upper)


def _cholesky(xp: Any, input: Any, upper: bool = False) -> Any:
    return _chol(xp, "cholesky", input, False, bool(upper))


def _potri(xp: Any, input: Any, uplo: str = "U") -> Any:
    upper = _flag("potri", "uplo", uplo, "UL") == "U"
    _matrix("potri", "the factor", input, square=True)
    cond = "the factor is singular (a zero on its diagonal)"
    t = _tri(xp, input, upper)
    ti = _lapack("potri", cond, xp.linalg.inv, t)
    _finite(xp, "potri", cond, ti)
    return ti @ _mT(xp, ti) if upper else _mT(xp, ti) @ ti  # (U^T U)^-1 = U^-1 U^-T; (L L^T)^-1 = L^-T L^-1


def _potrs(xp: Any, b: Any, u: Any, uplo: str = "U") -> Any:
    upper = _flag("potrs", "uplo", uplo, "UL") == "U"
    _matrix("potrs", "the factor", u, square=True)
    _rhs("potrs", "B", b, "the factor", u)
    cond = "the factor is singular (a zero on its diagonal)"
    t = _tri(xp, u, upper)
    first, second = (_mT(xp, t), t) if upper else (t, _mT(xp, t))  # A = U^T U or L L^T
    x = _lapack("potrs", cond, _linsolve, xp, second, _lapack("potrs", cond, _linsolve, xp, first, b))
    _finite(xp, "potrs", cond, x)
    return x


def _pstrf(xp: Any, input: Any, uplo: str = "U", tol: float = -1) -> Any:
    upper = _flag("pstrf", "uplo", uplo, "UL") == "U"
    _matrix("pstrf", "A", input, square=True, batch=False)
    n = input.shape[0]
    w = _sym(xp, input, upper)  # the Schur complement still to factor, in pivoted order
    f = xp.zeros_like(w)  # the upper factor U, rows filled one by one
    piv = np.arange(n)
    eps = float(np.finfo(w.dtype).eps)
    limit = float(tol)
    scale = float(xp.abs(w).max()) if n else 0.0
    if limit < 0:  # LAPACK's default: n * eps * max(diag(A))
        limit = n * eps * (float(xp.diagonal(w).max()) if n else 0.0)
    rank = n
    for j in range(n):
        d = xp.diagonal(w)[j:]
        p = j + int(xp.argmax(d))
        if float(d[p - j]) <= limit:
            rank = j
            break
        if p != j:
            sw = [j, p]
            w[sw] = w[sw[::-1]]
            w[:, sw] = w[:, sw[::-1]]
            f[:, sw] = f[:, sw[::-1]]
            piv[sw] = piv[sw[::-1]]
        r = xp.sqrt(w[j, j])
        f[j, j] = r
        f[j, j + 1 :] = w[j, j + 1 :] / r
        w[j + 1 :, j + 1 :] -= xp.multiply.outer(f[j, j + 1 :], f[j, j + 1 :])
    if rank < n:  # a positive semi-definite A leaves a remainder no larger than the tolerance
        rest = float(xp.abs(w[rank:, rank:]).max())
        if rest > max(limit, 0.0) + 100 * n * eps * scale:
            raise DomainError(
                f"pstrf: A is not positive semi-definite (the remainder after {rank} pivots has an entry of"
                f" {rest:.3g}, above the tolerance {limit:.3g})"
            )
    return (f if upper else f.T.copy()), xp.asarray(piv.astype(np.int32))


# --------------------------------------------------------------------------------------------
# QR and Householder reflectors.


def _qr(xp: Any, input: Any) -> Any:
    _matrix("qr", "input", input)
    q, r = xp.linalg.qr(input, mode="reduced")
    return q, r


def _geqrf(xp: Any, input: Any) -> Any:
    _matrix("geqrf", "input", input)
    h, tau = xp.linalg.qr(input, mode="raw")  # h comes transposed, LAPACK's column-major layout
    return xp.ascontiguousarray(_mT(xp, h)), tau


def _reflectors(op: str, h: Any, tau: Any) -> None:
    _matrix(op, "input", h)
    k = tau.shape[-1] if tau.ndim else -1
    if tau.ndim == 0 or k > min(h.shape[-2], h.shape[-1]):
        raise ShapeError(
            f"{op}: tau must be a vector of at most min(m, n) = {min(h.shape[-2], h.shape[-1])} scalar factors"
            f" for reflectors of size {size_text(h.shape)}, got size {size_text(tau.shape)}"
        )


def _apply_q(xp: Any, h: Any, tau: Any, c: Any, left: bool, transpose: bool) -> Any:
    """``Q @ c``, ``Q^T @ c``, ``c @ Q`` or ``c @ Q^T`` with ``Q = H_0 H_1 ... H_{k-1}``, ``H_i = I - tau_i v_i v_i^T``."""
    m, k = h.shape[-2], tau.shape[-1]
    order = range(k) if left == transpose else range(k - 1, -1, -1)
    for i in order:
        v = xp.array(h[..., :, i], copy=True)
        v[..., :i] = 0
        v[..., i] = 1
        t = tau[..., i, None, None]
        if left:
            c = c - t * v[..., :, None] * (v[..., None, :] @ c)
        else:
            c = c - t * (c @ v[..., :, None]) * v[..., None, :]
    assert c.shape[-2 if left else -1] == m
    return c


def _orgqr(xp: Any, input: Any, tau: Any) -> Any:
    _reflectors("orgqr", input, tau)
    m, n = input.shape[-2:]
    eye = xp.eye(m, min(m, n), dtype=input.dtype)
    return _apply_q(xp, input, tau, eye, left=True, transpose=False)


def _ormqr(xp: Any, input: Any, tau: Any, mat: Any, side: str = "L", trans: str = "N") -> Any:
    left = _flag("ormqr", "side", side, "LR") == "L"
    transpose = _flag("ormqr", "trans", trans, "NT") == "T"
    _reflectors("ormqr", input, tau)
    _matrix("ormqr", "mat", mat)
    m = input.shape[-2]
    if mat.shape[-2 if left else -1] != m:
        which = "rows" if left else "columns"
        raise ShapeError(
            f"ormqr: size mismatch, mat is {size_text(mat.shape)} and the reflectors are {size_text(input.shape)}"
            f" (side={side!r} needs mat with {m} {which})"
        )
    return _apply_q(xp, input, tau, mat, left, transpose)


# --------------------------------------------------------------------------------------------
# Eigenvalues and singular values.


def _svd(xp: Any, input: Any, some: bool = True) -> Any:
    _matrix("svd", "input", input)
    u, s, vh = _lapack("svd", "the SVD did not converge", xp.linalg.svd, input, full_matrices=not some)
    return u, s, _mT(xp, vh)


def _host_eig(xp: Any, a: Any) -> Any:
    if hasattr(xp.linalg, "eig"):
        return xp.linalg.eig(a)
    w, v = np.linalg.eig(a.get())  # cupy: no general eigensolver, run on the host
    return xp.asarray(w), xp.asarray(v)


def _eig(xp: Any, input: Any, eigenvectors: bool = True) -> Any:
    _matrix("eig", "input", input, square=True)
    w, v = _lapack("eig", "the eigenvalues did not converge", _host_eig, xp, input)
    dt = input.dtype
    e = xp.stack([w.real, w.imag], axis=-1).astype(dt)
    if not eigenvectors:
        return e, _empty(xp, input)
    # LAPACK's real form: for a pair (j, j+1) with Im(e_j) > 0, columns j, j+1 hold Re(v_j), Im(v_j)
    second = xp.concatenate([xp.zeros_like(w.imag[..., :1], dtype=bool), w.imag[..., :-1] > 0], axis=-1)
    vecs = xp.where(second[..., None, :], xp.roll(v.imag, 1, axis=-1), v.real).astype(dt)
    return e, vecs


def _symeig(xp: Any, input: Any, eigenvectors: bool = True, upper: bool = True) -> Any:
    _matrix("symeig", "input", input, square=True)
    uplo = "U" if upper else "L"
    cond = "the eigenvalues did not converge"
    if not eigenvectors:
        return _lapack("symeig", cond, xp.linalg.eigvalsh, input, UPLO=uplo), _empty(xp, input)
    w, v = _lapack("symeig", cond, xp.linalg.eigh, input, UPLO=uplo)
    return w, v


def _eigh(xp: Any, input: Any, UPLO: str = "L") -> Any:  # noqa: N803 - numpy's and PyTorch's name
    uplo = _flag("eigh", "UPLO", UPLO, "LU")
    _matrix("eigh", "input", input, square=True)
    w, v = _lapack("eigh", "the eigenvalues did not converge", xp.linalg.eigh, input, UPLO=uplo)
    return w, v


# --------------------------------------------------------------------------------------------
# Inverses, determinants, least squares.


def _inverse(xp: Any, input: Any) -> Any:
    _matrix("inverse", "input", input, square=True)
    r = _lapack("inverse", "the matrix is singular", xp.linalg.inv, input)
    _finite(xp, "inverse", "the matrix is singular", r)
    return r


def _det(xp: Any, input: Any) -> Any:
    _matrix("det", "input", input, square=True)
    return xp.linalg.det(input)


def _slogdet(xp: Any, input: Any) -> Any:
    _matrix("slogdet", "input", input, square=True)
    sign, logabsdet = xp.linalg.slogdet(input)
    return sign, logabsdet


def _lstsq(xp: Any, a: Any, b: Any, rcond: Any = None) -> Any:
    _matrix("lstsq", "A", a, batch=False)
    _rhs("lstsq", "B", b, "A", a, batch=False)
    x, residuals, rank, s = _lapack("lstsq", "the SVD did not converge", xp.linalg.lstsq, a, b, rcond=rcond)
    return x, residuals, xp.asarray(rank, dtype=np.int64), s


def _gels(xp: Any, b: Any, a: Any) -> Any:
    _matrix("gels", "A", a, batch=False)
    _rhs("gels", "B", b, "A", a, batch=False)
    x = _lapack("gels", "the SVD did not converge", xp.linalg.lstsq, a, b, rcond=None)[0]
    m, n = a.shape
    if m >= n:  # LAPACK gels's A output: the QR factorization of A (geqrf's layout) ...
        h = xp.ascontiguousarray(_mT(xp, xp.linalg.qr(a, mode="raw")[0]))
    else:  # ... or its LQ factorization (gelqf's), which is the QR of A^T transposed
        h = xp.ascontiguousarray(xp.linalg.qr(_mT(xp, a), mode="raw")[0])
    return x, h


def _pinverse(xp: Any, input: Any, rcond: float = 1e-15) -> Any:
    _matrix("pinverse", "input", input)
    return _lapack("pinverse", "the SVD did not converge", xp.linalg.pinv, input, rcond)


def _matrix_rank(xp: Any, input: Any, tol: Any = None) -> Any:
    _matrix("matrix_rank", "input", input)
    return xp.asarray(xp.linalg.matrix_rank(input, tol), dtype=np.int64)


# --------------------------------------------------------------------------------------------
# The records.

_A = ">>> import flambeau.tensor as ft\n>>> A = ft.tensor([[4.0, 2.0], [2.0, 3.0]])\n>>> "


def _lapack_op(
    name: str,
    impl: Any,
    tensors: tuple[str, ...],
    doc: str,
    example: str,
    differentiable: tuple[str, ...] = (),
    **kw: Any,
) -> Op:
    kw.setdefault("variants", _F)
    return Op(
        name,
        impl,
        tensors,
        dtypes="float",
        differentiable=differentiable,
        group="lapack",
        doc=doc,
        example=example if example.startswith(">>> import") else _A + example,
        **kw,
    )


def _pair(*names: str) -> dict[str, Any]:
    return {"result": "tuple", "names": names}


declare(
    _lapack_op(
        "gesv",
        _gesv,
        ("b", "a"),
        "Solves ``A X = B`` by LU factorization with partial pivoting; returns ``(solution, lu)``.\n\n"
        "Torch7's argument order: the right-hand side ``b`` first. ``lu`` is LAPACK getrf's packed"
        " factorization of ``a`` (L below the diagonal, its unit diagonal implied, U on and above;"
        " the row interchanges are not returned). ``b`` may be a vector; both may carry leading batch"
        " dims. :func:`solve` is the same solve with numpy's order.",
        "X, LU = ft.gesv(ft.tensor([[8.0], [7.0]]), A)\n>>> X.tolist(), LU.tolist()\n"
        "([[1.25], [1.5]], [[4.0, 2.0], [0.5, 2.0]])",
        differentiable=("b", "a"),
        **_pair("solution", "lu"),
    ),
    _lapack_op(
        "solve",
        _solve,
        ("a", "b"),
        "Solves ``A X = B`` for square ``A``: numpy's and PyTorch's argument order (A first).\n\n"
        "``b`` may be a vector or a matrix; leading batch dims broadcast. Raises DomainError when A is singular.",
        "ft.solve(A, ft.tensor([8.0, 7.0])).tolist()\n[1.25, 1.5]",
        differentiable=("a", "b"),
    ),
    _lapack_op(
        "trtrs",
        _trtrs,
        ("b", "a"),
        "Solves the triangular system ``op(A) X = B``; returns ``(solution, cloned_coefficient)``.\n\n"
        "Only the ``uplo`` ('U' upper, the default, or 'L' lower) triangle of ``a`` is read;"
        " ``trans='T'`` solves with ``A^T``; ``diag='U'`` takes the diagonal as ones. Torch7's"
        " argument order (``b`` first); the second result is a copy of ``a``. Batched inputs work.",
        "X, _ = ft.trtrs(ft.tensor([[8.0], [6.0]]), A)\n>>> X.tolist()\n[[1.0], [2.0]]",
        differentiable=("b", "a"),
        **_pair("solution", "cloned_coefficient"),
    ),
    _lapack_op(
        "potrf",
        _potrf,
        ("input",),
        "Cholesky factorization of a symmetric positive definite matrix: ``A = U^T U`` with U upper"
        " triangular (``uplo='U'``, Torch7's default) or ``A = L L^T`` (``uplo='L'``).\n\n"
        "Only the ``uplo`` triangle of ``a`` is read. :func:`cholesky` is PyTorch's spelling (lower by default).",
        "U = ft.potrf(ft.tensor([[4.0, 2.0], [2.0, 5.0]]))\n>>> U.tolist()\n[[2.0, 1.0], [0.0, 2.0]]",
        differentiable=("input",),
    ),
    _lapack_op(
        "cholesky",
        _cholesky,
        ("input",),
        "Cholesky factorization ``A = L L^T`` (PyTorch's default, lower) or ``A = U^T U`` with"
        " ``upper=True``.\n\nThe lower triangle of ``a`` is read; leading batch dims work. Raises"
        " DomainError when A is not positive definite. :func:`potrf` is Torch7's spelling (upper by default).",
        "ft.cholesky(ft.tensor([[4.0, 2.0], [2.0, 5.0]])).tolist()\n[[2.0, 0.0], [1.0, 2.0]]",
        differentiable=("input",),
    ),
    _lapack_op(
        "potri",
        _potri,
        ("input",),
        "Inverse of ``A`` from its Cholesky factor: ``(U^T U)^-1`` (``uplo='U'``) or ``(L L^T)^-1``.\n\n"
        "Only the ``uplo`` triangle of the factor is read; the result is the full symmetric inverse.",
        "U = ft.potrf(ft.tensor([[4.0, 2.0], [2.0, 5.0]]))\n>>> (ft.potri(U) * 16).tolist()\n"
        "[[5.0, -2.0], [-2.0, 4.0]]",
        differentiable=("input",),
    ),
    _lapack_op(
        "potrs",
        _potrs,
        ("b", "u"),
        "Solves ``A X = B`` given the Cholesky factor of ``A`` (``A = U^T U`` for ``uplo='U'``,"
        " ``L L^T`` for 'L').\n\nTorch7's argument order: the right-hand side first. Batched inputs work.",
        "U = ft.potrf(ft.tensor([[4.0, 2.0], [2.0, 5.0]]))\n>>> ft.potrs(ft.tensor([[8.0], [9.0]]), U).tolist()\n"
        "[[1.375], [1.25]]",
        differentiable=("b", "u"),
    ),
    _lapack_op(
        "pstrf",
        _pstrf,
        ("input",),
        "Cholesky factorization with complete pivoting of a symmetric positive semi-definite matrix:"
        " ``P^T A P = U^T U`` (``uplo='U'``) or ``L L^T``; returns ``(factor, pivots)``.\n\n"
        "``pivots`` is an IntTensor of 0-based indices with ``P[pivots[k], k] = 1``, i.e."
        " ``A[pivots][:, pivots] == U^T U``. The factorization stops when the largest remaining"
        " pivot is at most ``tol`` (``tol < 0``: ``n * eps * max(diag(A))``, LAPACK's choice);"
        " rows of the factor past that rank are zero. 2-D only.",
        "U, piv = ft.pstrf(A)\n>>> U.tolist(), piv.tolist()\n([[2.0, 1.0], [0.0, 1.4142135623730951]], [0, 1])",
        **_pair("factor", "pivots"),
    ),
    _lapack_op(
        "qr",
        _qr,
        ("input",),
        "Thin QR factorization ``A = Q R``: for m x n ``A`` and ``k = min(m, n)``, ``Q`` is m x k with"
        " orthonormal columns and ``R`` is k x n upper triangular (LAPACK's signs: R's diagonal may be"
        " negative). Leading batch dims work.",
        "Q, R = ft.qr(ft.tensor([[3.0, 1.0], [4.0, 2.0]]))\n>>> ft.round(R * 5).tolist()\n[[-25.0, -11.0], [0.0, 2.0]]",
        differentiable=("input",),
        **_pair("Q", "R"),
    ),
    _lapack_op(
        "geqrf",
        _geqrf,
        ("input",),
        "Householder QR in LAPACK's raw form; returns ``(a, tau)``.\n\n"
        "R is on and above the diagonal of ``a``; below it, column i holds the reflector ``v_i``"
        " (``v_i[i] = 1`` implied) and ``Q = H_0 H_1 ... H_{k-1}`` with ``H_i = I - tau_i v_i v_i^T``."
        " See :func:`orgqr` and :func:`ormqr`.",
        "a, tau = ft.geqrf(ft.tensor([[3.0, 1.0], [4.0, 2.0]]))\n>>> a[0].tolist(), tau.tolist()\n"
        "([-5.0, -2.2], [1.6, 0.0])",
        **_pair("a", "tau"),
    ),
    _lapack_op(
        "orgqr",
        _orgqr,
        ("input", "tau"),
        "The Q of a QR factorization from :func:`geqrf`'s reflectors: the first ``min(m, n)`` columns"
        " of ``H_0 H_1 ... H_{k-1}`` (k = the length of ``tau``).",
        "M = ft.tensor([[3.0, 1.0], [4.0, 2.0]])\n>>> ft.dist(ft.orgqr(*ft.geqrf(M)), ft.qr(M).Q).item() < 1e-12\nTrue",
    ),
    _lapack_op(
        "ormqr",
        _ormqr,
        ("input", "tau", "mat"),
        "Multiplies ``mat`` by the Q of :func:`geqrf`'s reflectors without forming it: ``Q @ mat``"
        " (``side='L'``, ``trans='N'``, the defaults), ``Q^T @ mat`` (``trans='T'``), ``mat @ Q``"
        " (``side='R'``) or ``mat @ Q^T``. Q is the full m x m orthogonal matrix.",
        "M = ft.tensor([[3.0, 1.0], [4.0, 2.0]])\n>>> a, tau = ft.geqrf(M)\n"
        ">>> ft.round(ft.ormqr(a, tau, M, trans='T') * 5).tolist()\n[[-25.0, -11.0], [0.0, 2.0]]",
    ),
    _lapack_op(
        "svd",
        _svd,
        ("input",),
        "Singular value decomposition ``A = U diag(S) V^T``; returns ``(U, S, V)``, V and not V^T (as"
        " Torch7).\n\nWith ``some=True`` (Torch7's 'S', the default) U is m x k and V is n x k,"
        " k = min(m, n); ``some=False`` ('A') gives square U and V. S is in descending order."
        " Leading batch dims work.",
        "U, S, V = ft.svd(ft.tensor([[3.0, 0.0], [0.0, -2.0]]))\n>>> S.tolist(), ft.dist(U @ ft.diag(S) @ V.t(),"
        " ft.tensor([[3.0, 0.0], [0.0, -2.0]])).item()\n([3.0, 2.0], 0.0)",
        differentiable=("input",),
        **_pair("U", "S", "V"),
    ),
    _lapack_op(
        "eig",
        _eig,
        ("input",),
        "Eigenvalues and eigenvectors of a general square matrix; returns ``(eigenvalues, eigenvectors)``.\n\n"
        "As Torch7, the eigenvalues are an n x 2 tensor of (real, imaginary) pairs, in LAPACK's order"
        " (not sorted); a complex pair comes as consecutive rows, the positive imaginary part first,"
        " and its eigenvector ``v_j = V[:, j] + i V[:, j+1]`` is stored as those two real columns."
        " Unlike Torch7 (whose default was 'N'), eigenvectors are computed unless"
        " ``eigenvectors=False``, which returns an empty second tensor. Runs on the host for cupy.",
        "e, V = ft.eig(ft.tensor([[2.0, 0.0], [0.0, 3.0]]))\n>>> e.tolist(), V.tolist()\n"
        "([[2.0, 0.0], [3.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]])",
        **_pair("eigenvalues", "eigenvectors"),
    ),
    _lapack_op(
        "symeig",
        _symeig,
        ("input",),
        "Eigenvalues (ascending) and orthonormal eigenvectors of a symmetric matrix: ``A V = V diag(e)``;"
        " returns ``(eigenvalues, eigenvectors)``.\n\nOnly the upper triangle is read (``upper=True``,"
        " Torch7's 'U') or the lower. Unlike Torch7 (whose default was 'N'), eigenvectors are computed"
        " unless ``eigenvectors=False``, which returns an empty second tensor. Batched inputs work."
        " :func:`eigh` is numpy's spelling.",
        "e, V = ft.symeig(ft.tensor([[2.0, 1.0], [1.0, 2.0]]))\n>>> e.tolist()\n[1.0, 3.0]",
        differentiable=("input",),
        **_pair("eigenvalues", "eigenvectors"),
    ),
    _lapack_op(
        "eigh",
        _eigh,
        ("input",),
        "Eigenvalues (ascending) and eigenvectors of a symmetric matrix, as numpy.linalg.eigh and"
        " torch.linalg.eigh: only the ``UPLO`` ('L', the default, or 'U') triangle is read; returns"
        " ``(eigenvalues, eigenvectors)``. Batched inputs work.",
        "e, V = ft.eigh(ft.tensor([[2.0, 1.0], [1.0, 2.0]]))\n>>> e.tolist(), ft.dist(V.t() @ V, ft.eye(2)).item() < 1e-12\n"
        "([1.0, 3.0], True)",
        differentiable=("input",),
        **_pair("eigenvalues", "eigenvectors"),
    ),
    _lapack_op(
        "inverse",
        _inverse,
        ("input",),
        "Inverse of a square matrix (or of each of a batch). Raises DomainError when it is singular.",
        "(ft.inverse(A) * 8).tolist()\n[[3.0, -2.0], [-2.0, 4.0]]",
        differentiable=("input",),
        aliases=("inv",),
    ),
    _lapack_op(
        "det",
        _det,
        ("input",),
        "Determinant of a square matrix (or of each of a batch), as a 0-d tensor for one matrix.",
        "ft.det(A).item() - 8 < 1e-12, ft.round(ft.det(ft.tensor([[1.0, 2.0], [3.0, 4.0]]))).item()\n(True, -2.0)",
        differentiable=("input",),
    ),
    _lapack_op(
        "slogdet",
        _slogdet,
        ("input",),
        "Sign and log of the absolute value of the determinant: ``det = sign * exp(logabsdet)``,"
        " without overflow; returns ``(sign, logabsdet)``. Batched inputs work.",
        "s, l = ft.slogdet(-A)\n>>> s.item(), ft.exp(l).item() - 8 < 1e-12\n(1.0, True)",
        differentiable=("input",),
        **_pair("sign", "logabsdet"),
    ),
    _lapack_op(
        "lstsq",
        _lstsq,
        ("a", "b"),
        "Least squares ``min ||A X - B||`` (m >= n) or the minimum-norm solution (m < n), as"
        " numpy.linalg.lstsq (SVD based, rank deficient A allowed); returns ``(solution, residuals,"
        " rank, singular_values)``: ``residuals`` holds the squared residual norm of each column of B"
        " when m > n and A has full rank, else it is empty. numpy's argument order (A first); 2-D only.",
        "r = ft.lstsq(ft.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), ft.tensor([1.0, 2.0, 3.0]))\n"
        ">>> r.solution.tolist(), r.residuals.tolist(), r.rank.item()\n([1.0, 2.0], [9.0], 2)",
        **_pair("solution", "residuals", "rank", "singular_values"),
    ),
    _lapack_op(
        "gels",
        _gels,
        ("b", "a"),
        "Least squares (m >= n) or minimum-norm (m < n) solution of ``A X = B``; returns ``(solution, QR)``.\n\n"
        "Torch7's argument order (``b`` first). Unlike Torch7, ``solution`` has n rows only: Torch7's"
        " rows n..m-1, residual information, are dropped (the residual is ``(a @ x - b).norm()``)."
        " ``QR`` is LAPACK gels's A output: :func:`geqrf`'s layout of A's QR (m >= n) or of its LQ"
        " (m < n). Computed as :func:`lstsq`, so a rank-deficient A gives the minimum-norm"
        " least-squares solution. 2-D only.",
        "X, _ = ft.gels(ft.tensor([[1.0], [2.0], [3.0]]), ft.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))\n"
        ">>> X.tolist()\n[[1.0], [2.0]]",
        **_pair("solution", "QR"),
    ),
    _lapack_op(
        "pinverse",
        _pinverse,
        ("input",),
        "Moore-Penrose pseudo-inverse from the SVD; singular values below ``rcond`` times the largest"
        " are taken as zero. Batched inputs work.",
        "ft.pinverse(ft.tensor([[2.0, 0.0], [0.0, 0.0]])).tolist()\n[[0.5, 0.0], [0.0, 0.0]]",
        differentiable=("input",),
    ),
    _lapack_op(
        "matrix_rank",
        _matrix_rank,
        ("input",),
        "Rank of a matrix from its SVD: singular values above ``tol`` (default: numpy's"
        " ``S.max() * max(m, n) * eps``); a LongTensor, 0-d for one matrix.",
        "ft.matrix_rank(ft.tensor([[1.0, 2.0], [2.0, 4.0]])).item()\n1",
    ),
)
