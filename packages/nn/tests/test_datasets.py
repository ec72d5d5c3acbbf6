"""flambeau.nn.datasets: idx files (raw and gzip), load_mnist, every error, and the real t10k files when present."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

import flambeau.nn as nn
import flambeau.tensor as ft
from flambeau.nn.datasets import DatasetNotFoundError, load_mnist, read_idx, write_idx
from flambeau.tensor.errors import ArgumentError, FlambeauError, SerializationError, ShapeError

MNIST = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "mnist"


def idx_bytes(code: int, dims: list[int], payload: bytes) -> bytes:
    return bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def write(path: Path, data: bytes, gz: bool = False) -> Path:
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
def test_read_idx_unsigned_bytes(tmp_path: Path, gz: bool) -> None:
    pixels = bytes(range(24))
    t = read_idx(write(tmp_path / "images-idx3-ubyte", idx_bytes(0x08, [2, 3, 4], pixels), gz))
    assert t.type() == "flambeau.ByteTensor"
    assert t.size() == ft.Size([2, 3, 4])
    assert t.view(-1).tolist() == list(range(24))
    assert t[1, 2, 3].item() == 23


@pytest.mark.parametrize(
    ("code", "dtype", "tensor_type"),
    [
        (0x09, ">i1", "flambeau.CharTensor"),
        (0x0B, ">i2", "flambeau.ShortTensor"),
        (0x0C, ">i4", "flambeau.IntTensor"),
        (0x0D, ">f4", "flambeau.FloatTensor"),
        (0x0E, ">f8", "flambeau.DoubleTensor"),
    ],
)
def test_read_idx_every_type_code_is_big_endian(tmp_path: Path, code: int, dtype: str, tensor_type: str) -> None:
    values = np.array([[-3, 1000 if code != 0x09 else 100], [7, -1]], dtype=dtype)
    t = read_idx(write(tmp_path / "x.idx", idx_bytes(code, [2, 2], values.tobytes())))
    assert t.type() == tensor_type
    assert t.tolist() == values.tolist()
    t[0, 0] = 5  # a writable tensor of its own
    assert t[0, 0].item() == 5


def test_read_idx_zero_dimensions_and_empty(tmp_path: Path) -> None:
    assert read_idx(write(tmp_path / "s.idx", idx_bytes(0x08, [], b"\x2a"))).tolist() == 42
    empty = read_idx(write(tmp_path / "e.idx", idx_bytes(0x08, [0, 28, 28], b"")))
    assert empty.size() == ft.Size([0, 28, 28])


@pytest.mark.parametrize("name", ["t.idx", "t.idx.gz"])
def test_write_idx_round_trips(tmp_path: Path, name: str) -> None:
    for t in (ft.ByteTensor([[0, 255], [1, 2]]), ft.DoubleTensor([1.5, -2.25]), ft.IntTensor(2, 3, 1).fill_(-7)):
        write_idx(tmp_path / name, t)
        back = read_idx(tmp_path / name)
        assert back.type() == t.type() and back.equal(t)
    assert (tmp_path / name).read_bytes().startswith(b"\x1f\x8b") == name.endswith(".gz")


def test_write_idx_refuses_what_idx_cannot_hold(tmp_path: Path) -> None:
    with pytest.raises(ArgumentError, match=r"write_idx: idx has no type code for flambeau\.LongTensor"):
        write_idx(tmp_path / "x", ft.LongTensor([1, 2]))
    with pytest.raises(ArgumentError, match="write_idx: tensor must be a flambeau tensor, got list"):
        write_idx(tmp_path / "x", [1, 2])  # type: ignore[arg-type]


def test_read_idx_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope-idx1-ubyte"
    with pytest.raises(DatasetNotFoundError, match=r"read_idx: no such file: .*nope-idx1-ubyte") as e:
        read_idx(path)
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, FlambeauError)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
def test_read_idx_bad_magic_number(tmp_path: Path, gz: bool) -> None:
    path = write(tmp_path / "bad", b"\x00\x01\x08\x01\x00\x00\x00\x01\x05", gz)
    with pytest.raises(SerializationError, match=r"read_idx: .*bad is not an idx file: bad magic number 0x00010801"):
        read_idx(path)
    with pytest.raises(SerializationError, match="bad magic number 0x00000701"):  # an unknown type code
        read_idx(write(tmp_path / "bad", b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", gz))
    with pytest.raises(SerializationError, match="bad magic number"):  # text, not idx
        read_idx(write(tmp_path / "bad", b"hello, world", gz))


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
def test_read_idx_truncated(tmp_path: Path, gz: bool) -> None:
    with pytest.raises(SerializationError, match="not even the 4-byte magic number"):
        read_idx(write(tmp_path / "t", b"\x00\x00", gz))
    with pytest.raises(SerializationError, match=r"its header alone needs 16 for 3 dimension\(s\)"):
        read_idx(write(tmp_path / "t", idx_bytes(0x08, [10, 28, 28], b"")[:10], gz))
    data = idx_bytes(0x08, [10, 28, 28], bytes(10 * 28 * 28))
    with pytest.raises(SerializationError, match=r"is truncated: its header says 7840 values .* holds 7839 byte"):
        read_idx(write(tmp_path / "t", data[:-1], gz))
    with pytest.raises(SerializationError, match=r"has 3 byte\(s\) after its last value"):
        read_idx(write(tmp_path / "t", data + b"xyz", gz))


def test_read_idx_cut_gzip_stream(tmp_path: Path) -> None:
    packed = gzip.compress(idx_bytes(0x08, [1000], bytes(range(250)) * 4))
    path = write(tmp_path / "cut.gz", packed[: len(packed) // 2])
    with pytest.raises(SerializationError, match=r"read_idx: .*cut\.gz is a truncated or corrupt gzip file"):
        read_idx(path)


def make_mnist(folder: Path, split: str, n_images: int, n_labels: int, gz: bool = True) -> None:
    suffix = ".gz" if gz else ""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n_images, 28, 28), dtype=np.uint8)
    labels = (np.arange(n_labels) % 10).astype(np.uint8)
    write(folder / f"{split}-images-idx3-ubyte{suffix}", idx_bytes(0x08, [n_images, 28, 28], images.tobytes()), gz)
    write(folder / f"{split}-labels-idx1-ubyte{suffix}", idx_bytes(0x08, [n_labels], labels.tobytes()), gz)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("split", ["t10k", "train"])
def test_load_mnist(tmp_path: Path, gz: bool, split: str) -> None:
    make_mnist(tmp_path, split, 12, 12, gz)
    images, labels = load_mnist(tmp_path, split)
    assert images.type() == labels.type() == "flambeau.ByteTensor"
    assert images.size() == ft.Size([12, 28, 28]) and labels.tolist() == [i % 10 for i in range(12)]
    expected = np.random.default_rng(0).integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    assert images.numpy().tolist() == expected.tolist()
    assert nn.datasets.load_mnist is load_mnist  # reachable as nn.datasets


def test_load_mnist_other_file_names(tmp_path: Path) -> None:
    labels = idx_bytes(0x08, [2], b"\x01\x02")
    write(tmp_path / "t10k-images.idx3-ubyte", idx_bytes(0x08, [2, 1, 1], b"\x00\xff"))
    write(tmp_path / "t10k-labels.idx1-ubyte", labels)
    images, got = load_mnist(str(tmp_path))
    assert images.view(-1).tolist() == [0, 255] and got.tolist() == [1, 2]


def test_load_mnist_missing_files_name_every_path_looked_for(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match=r"load_mnist: no such folder: .*absent"):
        load_mnist(tmp_path / "absent")
    with pytest.raises(DatasetNotFoundError) as e:
        load_mnist(tmp_path)
    msg = str(e.value)
    assert msg.startswith(f"load_mnist: no t10k images file in {tmp_path} (looked for ")
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"):
        assert str(tmp_path / name) in msg
    make_mnist(tmp_path, "train", 3, 3)
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"no train labels file in .*train-labels-idx1-ubyte\.gz"):
        load_mnist(tmp_path, "train")


def test_load_mnist_counts_disagree(tmp_path: Path) -> None:
    make_mnist(tmp_path, "t10k", 5, 4)
    with pytest.raises(
        ShapeError, match=r"load_mnist: .*t10k-images-idx3-ubyte\.gz holds 5 images but .* holds 4 labels"
    ):
        load_mnist(tmp_path)


def test_load_mnist_wrong_contents(tmp_path: Path) -> None:
    make_mnist(tmp_path, "t10k", 3, 3)
    write(tmp_path / "t10k-labels-idx1-ubyte.gz", idx_bytes(0x0C, [3], np.zeros(3, ">i4").tobytes()), gz=True)
    with pytest.raises(SerializationError, match=r"holds a flambeau\.IntTensor of size 3; MNIST's are ByteTensors"):
        load_mnist(tmp_path)
    write(tmp_path / "t10k-labels-idx1-ubyte.gz", idx_bytes(0x08, [3], b"\x01\x02"), gz=True)
    with pytest.raises(SerializationError, match="is truncated"):
        load_mnist(tmp_path)
    with pytest.raises(ArgumentError, match=r"load_mnist: split must be one of: train \| t10k, got 'test'"):
        load_mnist(tmp_path, "test")


@pytest.mark.skipif(not MNIST.is_dir(), reason=f"the MNIST t10k files are not at {MNIST} (../shared/data/mnist)")
def test_the_real_mnist_t10k_files() -> None:
    images, labels = load_mnist(MNIST, "t10k")
    assert images.type() == "flambeau.ByteTensor" and images.size() == ft.Size([10000, 28, 28])
    assert labels.size() == ft.Size([10000])
    counts = np.bincount(labels.numpy(), minlength=10).tolist()
    assert counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert images.min().item() == 0 and images.max().item() == 255
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]  # the first test digits, as every copy of MNIST has them
