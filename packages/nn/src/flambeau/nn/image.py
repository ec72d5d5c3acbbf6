"""Gaussian kernels from torch/image (``image.gaussian``, ``image.gaussian1D``).

They build the averaging kernels of the spatial normalization layers, as in Torch's tutorials
(``nn.SpatialContrastiveNormalization(16, image.gaussian(3))``). Both follow torch/image's formula
with **1-based** positions ``u`` (column) and ``v`` (row), and with sigma and mean given
**relative to the kernel size**::

    value(u, v) = amplitude * exp(-(du^2 + dv^2) / 2)
    du = (u - mean_horz * W - 0.5) / (sigma_horz * W)
    dv = (v - mean_vert * H - 0.5) / (sigma_vert * H)

so with the default ``mean = 0.5`` the centre of an odd-sized kernel has ``du = dv = 0`` and the
value ``amplitude``. ``normalize=True`` divides the kernel by its sum (the amplitude then has no
effect). As in Torch, the arguments may also come as one dict (Torch's table call):
``gaussian({'size': 5, 'sigma': 0.1})``.
"""

from __future__ import annotations

from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, ShapeError, size_text


def _axis(n: int, sigma: float, mean: float, like: Tensor | None) -> Tensor:
    """``((i - mean*n - 0.5) / (sigma*n))^2 / 2`` for the 1-based positions ``i = 1..n``."""
    if like is None:
        pos = ft.range(1, n)
    else:  # the result tensor's type and device
        pos = ft.range(1, n, dtype=like.dtype, device=like.device)
    d = (pos - (mean * n + 0.5)) / (sigma * n)
    return d * d * 0.5


def _check_size(name: str, **sizes: Any) -> None:
    for arg, n in sizes.items():
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ArgumentError(f"{name}: {arg} must be a positive integer, got {n!r}")


def gaussian(
    size: Any = 3,
    sigma: float = 0.25,
    amplitude: float = 1,
    normalize: bool = False,
    width: int | None = None,
    height: int | None = None,
    sigma_horz: float | None = None,
    sigma_vert: float | None = None,
    mean_horz: float = 0.5,
    mean_vert: float = 0.5,
    tensor: Tensor | None = None,
) -> Tensor:
    """A 2-D gaussian kernel of ``height x width`` (both ``size`` by default): torch/image's ``gaussian``.

    ``value(u, v) = amplitude * exp(-(du^2 + dv^2)/2)`` for 1-based column ``u`` and row ``v``, with
    ``du = (u - mean_horz*W - 0.5)/(sigma_horz*W)`` and ``dv`` the same from the vertical
    parameters. Sigma and mean are fractions of the kernel size; ``sigma_horz``/``sigma_vert``
    default to ``sigma``. ``normalize=True`` makes the kernel sum to 1 (overriding
    ``amplitude``). ``tensor``, a non-empty 2-D tensor, is filled in place and returned (its size
    then replaces ``width`` and ``height``). ``size`` may be a dict of these arguments.

    >>> from flambeau.nn import image
    >>> k = image.gaussian(3)
    >>> k.size(), k[1, 1].item()
    (Size([3, 3]), 1.0)
    >>> round(image.gaussian(5, normalize=True).sum().item(), 12)
    1.0
    """
    if isinstance(size, dict):
        return gaussian(**size)
    if tensor is not None:
        if tensor.dim() != 2 or tensor.nelement() == 0:
            raise ShapeError(f"gaussian: expected a non-empty 2-D result tensor, got {size_text(tuple(tensor.size()))}")
        height, width = tensor.size(0), tensor.size(1)
    width = size if width is None else width
    height = size if height is None else height
    _check_size("gaussian", width=width, height=height)
    sigma_horz = sigma if sigma_horz is None else sigma_horz
    sigma_vert = sigma if sigma_vert is None else sigma_vert
    du2 = _axis(width, sigma_horz, mean_horz, tensor)  # W
    dv2 = _axis(height, sigma_vert, mean_vert, tensor)  # H
    k = ft.exp(-(dv2.view(height, 1) + du2.view(1, width))) * amplitude
    if normalize:
        k = k / k.sum()
    if tensor is not None:
        return tensor.copy_(k)
    return k


def gaussian1D(  # noqa: N802 (torch/image's name)
    size: Any = 3,
    sigma: float = 0.25,
    amplitude: float = 1,
    normalize: bool = False,
    mean: float = 0.5,
    tensor: Tensor | None = None,
) -> Tensor:
    """A 1-D gaussian kernel of ``size`` values: torch/image's ``gaussian1D`` (alias ``gaussian1d``).

    ``value(i) = amplitude * exp(-((i - mean*size - 0.5)/(sigma*size))^2 / 2)`` for 1-based
    ``i``; ``normalize=True`` makes it sum to 1. The usual kernel of the separable form of
    SpatialContrastiveNormalization. ``tensor``, a non-empty 1-D tensor, is filled in place and
    returned (its size replaces ``size``). ``size`` may be a dict of these arguments.

    >>> from flambeau.nn import image
    >>> k = image.gaussian1D(3)
    >>> k[1].item(), k[0].item() == k[2].item()
    (1.0, True)
    >>> round(image.gaussian1d(7, normalize=True).sum().item(), 12)
    1.0
    """
    if isinstance(size, dict):
        return gaussian1D(**size)
    if tensor is not None:
        if tensor.dim() != 1 or tensor.nelement() == 0:
            raise ShapeError(
                f"gaussian1D: expected a non-empty 1-D result tensor, got {size_text(tuple(tensor.size()))}"
            )
        size = tensor.size(0)
    _check_size("gaussian1D", size=size)
    k = ft.exp(-_axis(size, sigma, mean, tensor)) * amplitude
    if normalize:
        k = k / k.sum()
    if tensor is not None:
        return tensor.copy_(k)
    return k


gaussian1d = gaussian1D

__all__ = ["gaussian", "gaussian1D", "gaussian1d"]
