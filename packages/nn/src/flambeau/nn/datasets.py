"""Datasets on disk: the idx format of MNIST, read into flambeau tensors (numpy and gzip only).

An idx file is a 4-byte magic number -- two zero bytes, a type code, the number of dimensions --
then one big-endian 32-bit size per dimension, then the values, big-endian, row-major. The type
code gives the tensor type: ``0x08`` unsigned byte (ByteTensor), ``0x09`` signed byte
(CharTensor), ``0x0B`` 16-bit integer (ShortTensor), ``0x0C`` 32-bit integer (IntTensor),
``0x0D`` float (FloatTensor), ``0x0E`` double (DoubleTensor).

>>> import os, tempfile
>>> import flambeau.tensor as ft
>>> import flambeau.nn as nn
>>> folder = tempfile.mkdtemp()
>>> nn.datasets.write_idx(os.path.join(folder, "t10k-images-idx3-ubyte.gz"), ft.ByteTensor(3, 28, 28).fill_(7))
>>> nn.datasets.write_idx(os.path.join(folder, "t10k-labels-idx1-ubyte.gz"), ft.ByteTensor([4, 0, 9]))
>>> images, labels = nn.datasets.load_mnist(folder)
>>> images.type(), images.size(), labels.tolist()
('flambeau.ByteTensor', Size([3, 28, 28]), [4, 0, 9])
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Sequence

import numpy as np

import flambeau.tensor as ft
from flambeau.tensor.errors import ArgumentError, FlambeauError, SerializationError, ShapeError

__all__ = ["DatasetNotFoundError", "load_mnist", "read_idx", "write_idx"]

# idx type code -> big-endian numpy dtype (the tensor type follows from the dtype).
_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {dt.newbyteorder("="): code for code, dt in _IDX_TYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"

MNIST_SPLITS = ("train", "t10k")


class DatasetNotFoundError(FlambeauError, FileNotFoundError):
    """A dataset file that is not there; the message names every path looked for."""


def _read_bytes(path: str, where: str) -> bytes:
    """The file's bytes, un-gzipped when it starts with gzip's magic number (whatever its name)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise DatasetNotFoundError(f"{where}: no such file: {path}") from None
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as e:
        raise SerializationError(f"{where}: {path} is a truncated or corrupt gzip file ({e})") from None


def read_idx(path: str | os.PathLike[str]) -> ft.Tensor:
    """Read an idx file (raw or gzip-compressed) into a tensor of the file's type and sizes.

    Parameters
    ----------
    path : str or path-like
        The file. Gzip compression is recognised by the content (its first two bytes), not the name.

    Returns
    -------
    Tensor
        A tensor with the file's dimensions: a ByteTensor for unsigned bytes (MNIST's images and
        labels), else CharTensor, ShortTensor, IntTensor, FloatTensor or DoubleTensor.

    Raises
    ------
    DatasetNotFoundError
        The file does not exist (a ``FileNotFoundError`` too).
    SerializationError
        The file is not idx (bad magic number or type code), is truncated (fewer values than its
        sizes say, or a cut gzip stream), or has bytes after its last value (a ``ValueError`` too).

    Examples
    --------
    >>> import os, tempfile
    >>> from flambeau.nn.datasets import read_idx
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte")
    >>> with open(path, "wb") as f:   # magic 0x00000801: unsigned bytes, 1 dimension of size 3
    ...     _ = f.write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 5, 0, 4]))
    >>> t = read_idx(path)
    >>> t.type(), t.tolist()
    ('flambeau.ByteTensor', [5, 0, 4])
    >>> with open(path, "wb") as f:
    ...     _ = f.write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 5]))
    >>> read_idx(path)
    Traceback (most recent call last):
        ...
    flambeau.tensor.errors.SerializationError: read_idx: .../labels-idx1-ubyte is truncated: its header says 3 values (3 bytes) of type 0x08 in 1 dimension(s) [3], the file holds 1 byte(s) of values
    """
    path = os.fspath(path)
    data = _read_bytes(path, "read_idx")
    if len(data) < 4:
        raise SerializationError(
            f"read_idx: {path} is truncated: {len(data)} byte(s), not even the 4-byte magic number"
        )
    if data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise SerializationError(
            f"read_idx: {path} is not an idx file: bad magic number 0x{data[:4].hex()} (expected two zero bytes, "
            f"a type code among {', '.join(f'0x{c:02x}' for c in _IDX_TYPES)}, then the number of dimensions)"
        )
    dtype, ndim = _IDX_TYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise SerializationError(
            f"read_idx: {path} is truncated: {len(data)} byte(s), its header alone needs {header} for {ndim} dimension(s)"
        )
    dims = [int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4)]
    count = int(np.prod(dims, dtype=np.int64)) if dims else 1
    want, have = count * dtype.itemsize, len(data) - header
    if have != want:
        what = "is truncated" if have < want else f"has {have - want} byte(s) after its last value"
        raise SerializationError(
            f"read_idx: {path} {what}: its header says {count} values ({want} bytes) of type 0x{data[2]:02x} "
            f"in {ndim} dimension(s) {dims}, the file holds {have} byte(s) of values"
        )
    values = np.frombuffer(data, dtype=dtype, count=count, offset=header)
    return ft.from_numpy(values.astype(dtype.newbyteorder("="), copy=True).reshape(dims))


def write_idx(path: str | os.PathLike[str], tensor: ft.Tensor) -> None:
    """Write a tensor as an idx file, gzip-compressed when ``path`` ends in ``.gz`` (the inverse of :func:`read_idx`).

    Parameters
    ----------
    path : str or path-like
        The file to write.
    tensor : Tensor
        A Byte, Char, Short, Int, Float or Double tensor (numpy's 64 dimensions at most fit idx's 255).

    Raises
    ------
    ArgumentError
        ``tensor`` is not a tensor, or its type has no idx code (a LongTensor: convert it first).

    Examples
    --------
    >>> import os, tempfile
    >>> import flambeau.tensor as ft
    >>> from flambeau.nn.datasets import read_idx, write_idx
    >>> path = os.path.join(tempfile.mkdtemp(), "x.idx.gz")
    >>> write_idx(path, ft.FloatTensor([[1.5, 2], [3, 4]]))
    >>> read_idx(path)
     1.5000  2.0000
     3.0000  4.0000
    [flambeau.FloatTensor of size 2x2]
    """
    if not isinstance(tensor, ft.Tensor):
        raise ArgumentError(f"write_idx: tensor must be a flambeau tensor, got {type(tensor).__name__}")
    array = np.ascontiguousarray(tensor.numpy())
    code = _IDX_CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ArgumentError(
            f"write_idx: idx has no type code for {tensor.type()}; "
            "convert it to a Byte, Char, Short, Int, Float or Double tensor first"
        )
    body = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    body += array.astype(_IDX_TYPES[code]).tobytes()
    path = os.fspath(path)
    with open(path, "wb") as f:
        f.write(gzip.compress(body, mtime=0) if path.endswith(".gz") else body)


def _mnist_candidates(split: str, kind: str, ndim: int) -> list[str]:
    """The file names MNIST goes by: ``t10k-images-idx3-ubyte[.gz]`` and ``t10k-images.idx3-ubyte``."""
    return [f"{split}-{kind}-idx{ndim}-ubyte.gz", f"{split}-{kind}-idx{ndim}-ubyte", f"{split}-{kind}.idx{ndim}-ubyte"]


def _find(folder: str, names: Sequence[str], what: str) -> str:
    for name in names:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise DatasetNotFoundError(
        f"load_mnist: no {what} file in {folder} (looked for {', '.join(os.path.join(folder, n) for n in names)})"
    )


def load_mnist(folder: str | os.PathLike[str], split: str = "t10k") -> tuple[ft.Tensor, ft.Tensor]:
    """MNIST's images and labels of one split, read from the idx files in ``folder``.

    Parameters
    ----------
    folder : str or path-like
        The folder holding ``<split>-images-idx3-ubyte`` and ``<split>-labels-idx1-ubyte``, each
        raw or with ``.gz`` (or named ``<split>-images.idx3-ubyte``, as some copies are).
    split : {"t10k", "train"}
        The 10000 test images or the 60000 training images.

    Returns
    -------
    images : ByteTensor
        ``N x rows x cols`` pixels, 0 (background) to 255.
    labels : ByteTensor
        ``N`` digits, 0 to 9 (``labels.long()`` for a criterion's targets).

    Raises
    ------
    ArgumentError
        ``split`` is not ``"t10k"`` or ``"train"``.
    DatasetNotFoundError
        A file is missing; the message names the paths looked for.
    SerializationError
        A file is not idx, is truncated, or holds the wrong type or number of dimensions.
    ShapeError
        The images and labels files disagree on the number of examples.

    Examples
    --------
    >>> import os, tempfile
    >>> import flambeau.tensor as ft
    >>> from flambeau.nn.datasets import load_mnist, write_idx
    >>> folder = tempfile.mkdtemp()
    >>> write_idx(os.path.join(folder, "train-images-idx3-ubyte"), ft.ByteTensor(2, 28, 28).zero_())
    >>> write_idx(os.path.join(folder, "train-labels-idx1-ubyte.gz"), ft.ByteTensor([3, 1]))
    >>> images, labels = load_mnist(folder, "train")
    >>> images.size(), labels.tolist()
    (Size([2, 28, 28]), [3, 1])
    >>> load_mnist(folder)   # no t10k files there
    Traceback (most recent call last):
        ...
    flambeau.nn.datasets.DatasetNotFoundError: load_mnist: no t10k images file in ... (looked for .../t10k-images-idx3-ubyte.gz, .../t10k-images-idx3-ubyte, .../t10k-images.idx3-ubyte)
    """
    if split not in MNIST_SPLITS:
        raise ArgumentError(f"load_mnist: split must be one of: {' | '.join(MNIST_SPLITS)}, got {split!r}")
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise DatasetNotFoundError(f"load_mnist: no such folder: {folder}")
    image_path = _find(folder, _mnist_candidates(split, "images", 3), f"{split} images")
    label_path = _find(folder, _mnist_candidates(split, "labels", 1), f"{split} labels")
    images, labels = read_idx(image_path), read_idx(label_path)
    for path, t, ndim in ((image_path, images, 3), (label_path, labels, 1)):
        if t.type() != "flambeau.ByteTensor" or t.dim() != ndim:
            raise SerializationError(
                f"load_mnist: {path} holds a {t.type()} of size {'x'.join(map(str, t.size()))}; "
                f"MNIST's are ByteTensors of {ndim} dimension(s)"
            )
    if images.size(0) != labels.size(0):
        raise ShapeError(
            f"load_mnist: {image_path} holds {images.size(0)} images but {label_path} holds {labels.size(0)} labels"
        )
    return images, labels
