"""Errors (DESIGN section 8): each names the op, the argument, shapes, dtypes and devices.

The checks flambeau makes itself are device suites: the same error on every device. A check that
relies on numpy's own message or on the absence of a cuda backend is cpu-only.
"""

from __future__ import annotations

import numpy as np
import pytest

import flambeau.tensor as ft
from flambeau.tensor.testing import device


@pytest.mark.device
def test_hierarchy_keeps_builtin_catches_working() -> None:
    assert issubclass(ft.ShapeError, ValueError) and issubclass(ft.DTypeError, TypeError)
    assert issubclass(ft.IndexError, IndexError) and issubclass(ft.DeviceMismatchError, RuntimeError)
    assert issubclass(ft.DomainError, ValueError) and issubclass(ft.ArgumentError, TypeError)
    for cls in (ft.ShapeError, ft.DTypeError, ft.IndexError, ft.DeviceError, ft.DomainError, ft.RegistrationError):
        assert issubclass(cls, ft.FlambeauError)


@pytest.mark.device
def test_broadcast_mismatch_names_op_shapes_dtypes_and_device() -> None:
    with pytest.raises(ft.ShapeError) as e:
        ft.add(ft.zeros(3, 4), ft.zeros(5, dtype=ft.FloatTensor))
    msg = str(e.value)
    assert msg.startswith("add:")
    assert f"DoubleTensor of size 3x4 on {device()}" in msg and f"FloatTensor of size 5 on {device()}" in msg


@pytest.mark.device
def test_matrix_product_size_mismatch() -> None:
    with pytest.raises(ft.ShapeError, match=r"mm: size mismatch, input is 2x3 and mat2 is 4x5"):
        ft.mm(ft.zeros(2, 3), ft.zeros(4, 5))
    with pytest.raises(ft.ShapeError, match="mv: vec must be 1-D, got size 3x1"):
        ft.mv(ft.zeros(2, 3), ft.zeros(3, 1))
    with pytest.raises(ft.ShapeError, match="bmm: input must be 3-D"):
        ft.bmm(ft.zeros(2, 3), ft.zeros(2, 3, 3))


@pytest.mark.device
def test_impossible_dtype_combinations() -> None:
    with pytest.raises(ft.DTypeError, match=r"bitand: argument 'input' must be an integer tensor, got DoubleTensor"):
        ft.bitand(ft.zeros(2), 1)
    with pytest.raises(ft.DTypeError, match="gather: index must be a LongTensor"):
        ft.zeros(3).gather(0, ft.zeros(2))
    with pytest.raises(ft.DTypeError, match="masked_fill: mask must be a ByteTensor"):
        ft.zeros(3).masked_fill(ft.zeros(3), 1)


def test_a_number_out_of_the_type_range_is_refused() -> None:  # numpy 2's rule (NEP 50) and message
    with pytest.raises(ft.DTypeError, match="Python integer 300 out of bounds for uint8"):
        ft.add(ft.zeros(2, dtype=ft.ByteTensor), 300)


@pytest.mark.device
def test_out_of_range_dims_and_indices() -> None:
    with pytest.raises(ft.IndexError, match="select: dim 2 out of range for a tensor of 2 dimension"):
        ft.zeros(2, 3).select(2, 0)
    with pytest.raises(ft.IndexError, match="select: index 3 out of range for a dimension of size 3"):
        ft.zeros(2, 3).select(1, 3)
    with pytest.raises(ft.IndexError, match="narrow: start 2 and length 3 do not fit"):
        ft.zeros(4).narrow(0, 2, 3)
    with pytest.raises(ft.IndexError, match=r"index_select: index out of range for a dimension of size 3"):
        ft.zeros(3).index_select(0, ft.LongTensor([0, 3]))
    with pytest.raises(ft.IndexError, match="sum: axis 2 is out of bounds"):
        ft.zeros(2, 3).sum(2)


@pytest.mark.device
def test_bad_argument_types() -> None:
    with pytest.raises(ft.ArgumentError, match="add: argument 'other' must be a Tensor or a number, got list"):
        ft.add(ft.zeros(2), [1, 2])
    with pytest.raises(ft.ArgumentError, match="cat: argument 'tensors' must be a list or tuple of tensors"):
        ft.cat(ft.zeros(2))
    with pytest.raises(ft.ArgumentError, match=r"cat: tensors\[1\] must be a Tensor, got ndarray"):
        ft.cat([ft.zeros(2), np.zeros(2)])
    with pytest.raises(ft.ArgumentError, match="sizes must be integers"):
        ft.zeros(2.5)
    with pytest.raises(TypeError):
        ft.zeros(2) + "a"


@pytest.mark.device
def test_bad_values() -> None:
    with pytest.raises(ft.DomainError, match="range: cannot go from 0 to 4 in steps of -1"):
        ft.range(0, 4, -1)
    with pytest.raises(ft.DomainError, match="clamp: at least one of min and max"):
        ft.clamp(ft.zeros(2))
    with pytest.raises(ft.DomainError, match="Integers to negative integer powers"):
        ft.pow(ft.LongTensor([2]), -1)
    with pytest.raises(ft.DomainError, match="Integers to negative integer powers"):  # exponents in a tensor
        ft.pow(ft.LongTensor([2, 3]), ft.LongTensor([1, -1]))


@pytest.mark.device
def test_failed_in_place_ops_leave_the_target_unchanged() -> None:
    a = ft.arange(6).view(2, 3)
    before = a.clone()
    with pytest.raises(ft.DTypeError, match=r"tanh_: the result is Double.*LongTensor"):
        a.tanh_()
    with pytest.raises(ft.ShapeError, match=r"add_: the result has size 4x2x3"):
        a.add_(ft.zeros(4, 1, 1, dtype=ft.LongTensor))
    with pytest.raises(ft.ShapeError):
        a.add_(ft.zeros(5, dtype=ft.LongTensor))
    with pytest.raises(ft.DTypeError):
        a.div_(2)
    assert a.equal(before)
    b = ft.zeros(3)
    with pytest.raises(ft.IndexError):
        b.index_fill_(0, ft.LongTensor([7]), 1.0)
    assert b.tolist() == [0, 0, 0]


@pytest.mark.device
def test_out_argument_must_be_a_tensor_on_the_same_device() -> None:
    with pytest.raises(ft.ArgumentError, match="out= must be a Tensor"):
        ft.add(ft.zeros(2), 1, out=np.zeros(2))
    with pytest.raises(ft.ArgumentError, match=r"out= must be a tuple of 2 tensors \(values, indices\)"):
        ft.max(ft.zeros(2, 2), 1, out=ft.zeros(2))
    out = ft.zeros(2, dtype=ft.LongTensor)
    with pytest.raises(ft.DTypeError, match="cannot be stored in place in a LongTensor"):
        ft.add(ft.zeros(3), 1.5, out=out)
    assert out.tolist() == [0, 0]  # not even resized


@pytest.mark.device
def test_unknown_device_is_unavailable() -> None:
    with pytest.raises(ft.DeviceUnavailableError, match="no backend serves device 'nodevice'"):
        ft.zeros(1, device="nodevice")
    with pytest.raises(ft.DeviceUnavailableError, match="index 3 out of range"):
        ft.device("cpu:3")


def test_cuda_names_without_a_cuda_backend_say_so() -> None:
    with pytest.raises(ft.DeviceUnavailableError, match="device 'cuda'"):
        ft.zeros(1).type("flambeau.CudaTensor")
    with pytest.raises(ft.DeviceUnavailableError, match="device 'cuda'"):
        ft.zeros(1).cuda()
    with pytest.raises(ft.DeviceUnavailableError, match="device 'cuda'"):
        ft.CudaTensor(2)


def test_trusted_values_skip_only_the_checks_that_read_a_device() -> None:
    """Autograd's backward pass runs in trusted_values(): what numpy checks itself still raises."""
    from flambeau.tensor.optable import trusted_values, value_checks

    assert value_checks()
    with trusted_values():
        assert not value_checks()
        with trusted_values():
            assert not value_checks()
        assert not value_checks()  # nesting restores the outer state
        with pytest.raises(ft.IndexError):
            ft.index_select(ft.zeros(3), 0, ft.LongTensor([5]))  # numpy's own range check
    assert value_checks()


def test_a_recording_hears_of_each_range_check_and_guarded_ranges_skips_only_those() -> None:
    """autograd's optimized mode turns the ops' index range checks into guards of its programs."""
    from flambeau.tensor.optable import guarded_ranges, range_checks_to, ranges_guarded, value_checks

    heard: list[tuple[list[int], int, str]] = []
    x, good, bad = ft.arange(0, 6).view(2, 3), ft.LongTensor([[2, 0, 1]]), ft.LongTensor([[0, 3, 1]])
    with range_checks_to(lambda index, n, op: heard.append((index.tolist(), n, op))):
        assert ft.gather(x, 1, good).tolist() == [[2.0, 0.0, 1.0]]
        with pytest.raises(ft.IndexError, match=r"gather: index out of range for a dimension of size 3"):
            ft.gather(x, 1, bad)  # refused: nothing to hear
        ft.index_select(x, 0, ft.LongTensor([1]))
    assert heard == [([[2, 0, 1]], 3, "gather"), ([1], 2, "index_select")]
    ft.gather(x, 1, good)  # no hook outside: nothing heard
    assert len(heard) == 2
    assert not ranges_guarded()
    with guarded_ranges():
        assert ranges_guarded() and value_checks()
        with range_checks_to(lambda index, n, op: heard.append((index.tolist(), n, op))):
            ft.gather(x, 1, good)  # skipped: the program's guard checked it
        with pytest.raises(ft.DomainError):  # the other value checks stay
            ft.pow(ft.LongTensor([2]), ft.LongTensor([-1]))
    assert len(heard) == 2 and not ranges_guarded()
