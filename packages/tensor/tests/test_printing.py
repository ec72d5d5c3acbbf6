"""Tests of Torch7-style tensor and storage printing."""

import numpy
import pytest

from flambeau.tensor.printing import (
    format_storage,
    format_tensor,
    get_printoptions,
    printoptions,
    set_printoptions,
)

DOUBLE = "flambeau.DoubleTensor"
DEFAULTS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80}


@pytest.fixture(autouse=True)
def _restore_printoptions():
    saved = get_printoptions()
    yield
    set_printoptions(**saved)


def lines(*rows: str) -> str:
    return "\n".join(rows)


# --------------------------------------------------------------------------
# number formats


def test_integer_valued_matrix_uses_digits_plus_one_for_width():
    text = format_tensor(numpy.eye(3) * 4 - 2, DOUBLE)
    assert text == lines(
        " 2 -2 -2",
        "-2  2 -2",
        "-2 -2  2",
        "[flambeau.DoubleTensor of size 3x3]",
    )


def test_float_vector_prints_one_value_per_line():
    text = format_tensor(numpy.array([1.5, -2.25, 3.125]), DOUBLE)
    assert text == lines(
        " 1.5000",
        "-2.2500",
        " 3.1250",
        "[flambeau.DoubleTensor of size 3]",
    )


def test_float_matrix_width_grows_with_integer_digits():
    text = format_tensor(numpy.array([[0.5, 12.25], [3.0, -4.75]]), DOUBLE)
    assert text == lines(
        "  0.5000  12.2500",
        "  3.0000  -4.7500",
        "[flambeau.DoubleTensor of size 2x2]",
    )


def test_small_values_get_a_scale_line():
    text = format_tensor(numpy.array([0.001, 0.0025, -0.0005]), DOUBLE)
    assert text == lines(
        "0.001 *",
        " 1.0000",
        " 2.5000",
        "-0.5000",
        "[flambeau.DoubleTensor of size 3]",
    )


def test_scale_starts_below_one_tenth():
    assert format_tensor(numpy.array([0.05, 0.02]), DOUBLE) == lines(
        "0.01 *",
        " 5.0000",
        " 2.0000",
        "[flambeau.DoubleTensor of size 2]",
    )
    assert format_tensor(numpy.array([0.5, 0.25]), DOUBLE) == lines(
        " 0.5000",
        " 0.2500",
        "[flambeau.DoubleTensor of size 2]",
    )


def test_scale_starts_at_one_hundred_thousand():
    assert format_tensor(numpy.array([99999.5, 1.5]), DOUBLE) == lines(
        " 99999.5000",
        "     1.5000",
        "[flambeau.DoubleTensor of size 2]",
    )
    assert format_tensor(numpy.array([100000.5]), DOUBLE) == lines(
        "100000 *",
        " 1.0000",
        "[flambeau.DoubleTensor of size 1]",
    )


def test_scaled_matrix_rows_are_shifted_one_space():
    arr = numpy.array([[123456.0, 250000.5], [-3e5, 199999.0]])
    assert format_tensor(arr, DOUBLE) == lines(
        "100000 *",
        "  1.2346  2.5000",
        " -3.0000  2.0000",
        "[flambeau.DoubleTensor of size 2x2]",
    )


def test_wide_range_uses_exponent_format():
    text = format_tensor(numpy.array([1e-3, 1.5, 1234.5]), DOUBLE)
    assert text == lines(
        " 1.0000e-03",
        " 1.5000e+00",
        " 1.2345e+03",
        "[flambeau.DoubleTensor of size 3]",
    )


def test_three_digit_exponents_widen_the_column():
    text = format_tensor(numpy.array([1e200, 1.5]), DOUBLE)
    assert text == lines(
        " 1.0000e+200",
        "  1.5000e+00",
        "[flambeau.DoubleTensor of size 2]",
    )


def test_integers_of_more_than_nine_digits_use_exponent_format():
    arr = numpy.array([3_000_000_000, 2], dtype=numpy.int64)
    assert format_tensor(arr, "flambeau.LongTensor") == lines(
        " 3.0000e+09",
        " 2.0000e+00",
        "[flambeau.LongTensor of size 2]",
    )


def test_zero_is_formatted_like_a_one_digit_number():
    assert format_tensor(numpy.array([0.0, 0.5]), DOUBLE) == lines(
        " 0.0000",
        " 0.5000",
        "[flambeau.DoubleTensor of size 2]",
    )
    assert format_tensor(numpy.array([-0.0, 1.0]), DOUBLE) == lines(
        " 0",
        " 1",
        "[flambeau.DoubleTensor of size 2]",
    )


def test_nan_and_inf_are_ignored_by_the_format_and_right_aligned():
    arr = numpy.array([1.5, numpy.nan, numpy.inf, -numpy.inf])
    assert format_tensor(arr, DOUBLE) == lines(
        " 1.5000",
        "    nan",
        "    inf",
        "   -inf",
        "[flambeau.DoubleTensor of size 4]",
    )


def test_nan_widens_a_narrow_integer_column():
    assert format_tensor(numpy.array([1.0, numpy.nan]), DOUBLE) == lines(
        "  1",
        "nan",
        "[flambeau.DoubleTensor of size 2]",
    )
    assert format_tensor(numpy.array([numpy.nan, numpy.nan]), DOUBLE) == lines(
        "nan",
        "nan",
        "[flambeau.DoubleTensor of size 2]",
    )


# --------------------------------------------------------------------------
# dtypes


def test_uint8_mask():
    arr = numpy.array([1, 0, 1], dtype=numpy.uint8)
    assert format_tensor(arr, "flambeau.ByteTensor") == lines(
        " 1",
        " 0",
        " 1",
        "[flambeau.ByteTensor of size 3]",
    )


def test_bool_array_prints_as_a_mask():
    text = format_tensor(numpy.array([True, False]), "flambeau.ByteTensor")
    assert text == lines(" 1", " 0", "[flambeau.ByteTensor of size 2]")


def test_int64_with_negative_values():
    arr = numpy.array([-5, 100, -1234567], dtype=numpy.int64)
    assert format_tensor(arr, "flambeau.LongTensor") == lines(
        "      -5",
        "     100",
        "-1234567",
        "[flambeau.LongTensor of size 3]",
    )


def test_int8_minimum_does_not_overflow():
    arr = numpy.array([-128, 127], dtype=numpy.int8)
    assert format_tensor(arr, "flambeau.CharTensor") == lines(
        "-128",
        " 127",
        "[flambeau.CharTensor of size 2]",
    )


@pytest.mark.parametrize(
    ("dtype", "name"),
    [(numpy.float32, "flambeau.FloatTensor"), (numpy.float16, "flambeau.HalfTensor")],
)
def test_low_precision_floats(dtype, name):
    arr = numpy.array([0.1, 0.25], dtype=dtype)
    assert format_tensor(arr, name) == lines(" 0.1000", " 0.2500", f"[{name} of size 2]")


@pytest.mark.parametrize("dtype", [numpy.int16, numpy.int32])
def test_other_integer_dtypes(dtype):
    arr = numpy.array([[7, -30]], dtype=dtype)
    assert format_tensor(arr, "flambeau.IntTensor") == lines(
        "  7 -30",
        "[flambeau.IntTensor of size 1x2]",
    )


def test_complex_arrays_are_rejected():
    with pytest.raises(TypeError):
        format_tensor(numpy.array([1j]), DOUBLE)


# --------------------------------------------------------------------------
# shapes and strides


def test_zero_dimensional_tensor():
    assert format_tensor(numpy.array(3.5), DOUBLE) == lines(
        " 3.5000",
        "[flambeau.DoubleTensor of size []]",
    )


@pytest.mark.parametrize("shape", [(0,), (3, 0), (2, 0, 4)])
def test_empty_tensor(shape):
    text = format_tensor(numpy.zeros(shape), DOUBLE)
    assert text == "[flambeau.DoubleTensor with no dimension]"


def test_transposed_input():
    arr = numpy.arange(6.0).reshape(2, 3).T
    assert not arr.flags.c_contiguous
    assert format_tensor(arr, DOUBLE) == lines(
        " 0  3",
        " 1  4",
        " 2  5",
        "[flambeau.DoubleTensor of size 3x2]",
    )


def test_strided_vector():
    arr = numpy.arange(10.0)[::3]
    assert format_tensor(arr, DOUBLE) == lines(" 0", " 3", " 6", " 9", "[flambeau.DoubleTensor of size 4]")


def test_three_dimensional_tensor_prints_slices_with_headers():
    text = format_tensor(numpy.arange(12.0).reshape(2, 2, 3), DOUBLE)
    assert text == lines(
        "(0,.,.) = ",
        "   0   1   2",
        "   3   4   5",
        "",
        "(1,.,.) = ",
        "   6   7   8",
        "   9  10  11",
        "[flambeau.DoubleTensor of size 2x2x3]",
    )


def test_four_dimensional_slices_come_in_c_order():
    text = format_tensor(numpy.arange(8).reshape(2, 2, 1, 2), DOUBLE)
    assert text == lines(
        "(0,0,.,.) = ",
        "  0  1",
        "",
        "(0,1,.,.) = ",
        "  2  3",
        "",
        "(1,0,.,.) = ",
        "  4  5",
        "",
        "(1,1,.,.) = ",
        "  6  7",
        "[flambeau.DoubleTensor of size 2x2x1x2]",
    )


def test_scale_line_inside_a_slice():
    arr = numpy.array([[[0.01, 0.02], [0.03, 0.045]]])
    assert format_tensor(arr, DOUBLE) == lines(
        "(0,.,.) = ",
        " 0.01 *",
        "   1.0000  2.0000",
        "   3.0000  4.5000",
        "[flambeau.DoubleTensor of size 1x2x2]",
    )


def test_format_is_chosen_from_the_whole_tensor():
    arr = numpy.array([[[1.0, 2.0]], [[300.0, 4.0]]])
    assert format_tensor(arr, DOUBLE) == lines(
        "(0,.,.) = ",
        "    1    2",
        "",
        "(1,.,.) = ",
        "  300    4",
        "[flambeau.DoubleTensor of size 2x1x2]",
    )


# --------------------------------------------------------------------------
# column wrapping


def test_wide_matrix_is_split_into_column_blocks():
    text = format_tensor(numpy.arange(60.0).reshape(2, 30), DOUBLE)
    assert text == lines(
        "Columns 0 to 19",
        "  0   1   2   3   4   5   6   7   8   9  10  11  12  13  14  15  16  17  18  19",
        " 30  31  32  33  34  35  36  37  38  39  40  41  42  43  44  45  46  47  48  49",
        "",
        "Columns 20 to 29",
        " 20  21  22  23  24  25  26  27  28  29",
        " 50  51  52  53  54  55  56  57  58  59",
        "[flambeau.DoubleTensor of size 2x30]",
    )
    assert max(len(line) for line in text.splitlines()) <= 80


def test_column_blocks_repeat_the_scale_line():
    arr = numpy.arange(1, 13).reshape(1, 12) * 0.001
    assert format_tensor(arr, DOUBLE) == lines(
        "Columns 0 to 9",
        "0.01 *",
        "  " + "  ".join(f"{i / 10:.4f}" for i in range(1, 11)),
        "",
        "Columns 10 to 11",
        "0.01 *",
        "  1.1000  1.2000",
        "[flambeau.DoubleTensor of size 1x12]",
    )


def test_linewidth_option_controls_wrapping():
    with printoptions(linewidth=20):
        text = format_tensor(numpy.arange(12).reshape(2, 6), DOUBLE)
    assert text == lines(
        "Columns 0 to 4",
        "  0   1   2   3   4",
        "  6   7   8   9  10",
        "",
        "Columns 5 to 5",
        "  5",
        " 11",
        "[flambeau.DoubleTensor of size 2x6]",
    )


def test_column_blocks_inside_slices_are_indented():
    with printoptions(linewidth=10):
        text = format_tensor(numpy.arange(8).reshape(1, 2, 4), DOUBLE)
    assert text == lines(
        "(0,.,.) = ",
        " Columns 0 to 2",
        "  0  1  2",
        "  4  5  6",
        "",
        " Columns 3 to 3",
        "  3",
        "  7",
        "[flambeau.DoubleTensor of size 1x2x4]",
    )


# --------------------------------------------------------------------------
# summarisation


def test_long_vector_is_summarised():
    text = format_tensor(numpy.arange(2000.0), DOUBLE)
    assert text == lines(
        "    0",
        "    1",
        "    2",
        "...",
        " 1997",
        " 1998",
        " 1999",
        "[flambeau.DoubleTensor of size 2000]",
    )


def test_threshold_is_inclusive():
    assert len(format_tensor(numpy.arange(1000.0), DOUBLE).splitlines()) == 1001
    assert len(format_tensor(numpy.arange(1001.0), DOUBLE).splitlines()) == 8


def test_format_comes_from_the_printed_values_only():
    arr = numpy.full(2000, 0.5)
    arr[1000] = 123456.789  # hidden by the summary
    text = format_tensor(arr, DOUBLE)
    assert text.splitlines()[0] == " 0.5000"


def test_large_matrix_is_summarised_in_rows_and_columns():
    text = format_tensor(numpy.arange(10000).reshape(100, 100), "flambeau.LongTensor")
    assert text == lines(
        "    0     1     2   ...    97    98    99",
        "  100   101   102   ...   197   198   199",
        "  200   201   202   ...   297   298   299",
        "...",
        " 9700  9701  9702   ...  9797  9798  9799",
        " 9800  9801  9802   ...  9897  9898  9899",
        " 9900  9901  9902   ...  9997  9998  9999",
        "[flambeau.LongTensor of size 100x100]",
    )


def test_summarised_matrix_with_wrapped_columns():
    with printoptions(linewidth=30):
        text = format_tensor(numpy.arange(10000).reshape(100, 100), DOUBLE)
    assert text == lines(
        "Columns 0 to 97",
        "    0     1     2   ...    97",
        "  100   101   102   ...   197",
        "  200   201   202   ...   297",
        "...",
        " 9700  9701  9702   ...  9797",
        " 9800  9801  9802   ...  9897",
        " 9900  9901  9902   ...  9997",
        "",
        "Columns 98 to 99",
        "   98    99",
        "  198   199",
        "  298   299",
        "...",
        " 9798  9799",
        " 9898  9899",
        " 9998  9999",
        "[flambeau.DoubleTensor of size 100x100]",
    )


def test_summarised_tensor_skips_middle_slices():
    with printoptions(threshold=5, edgeitems=1):
        text = format_tensor(numpy.arange(120).reshape(5, 2, 3, 4), DOUBLE)
    assert text == lines(
        "(0,0,.,.) = ",
        "    0  ...    3",
        " ...",
        "    8  ...   11",
        "",
        "(0,1,.,.) = ",
        "   12  ...   15",
        " ...",
        "   20  ...   23",
        "",
        "...",
        "",
        "(4,0,.,.) = ",
        "   96  ...   99",
        " ...",
        "  104  ...  107",
        "",
        "(4,1,.,.) = ",
        "  108  ...  111",
        " ...",
        "  116  ...  119",
        "[flambeau.DoubleTensor of size 5x2x3x4]",
    )


def test_narrow_ellipsis_column_keeps_three_dots():
    with printoptions(threshold=5, edgeitems=1):
        text = format_tensor(numpy.arange(9).reshape(3, 3), DOUBLE)
    assert text == lines(
        " 0 ...  2",
        "...",
        " 6 ...  8",
        "[flambeau.DoubleTensor of size 3x3]",
    )


# --------------------------------------------------------------------------
# storages


def test_storage_of_floats():
    text = format_storage(numpy.array([1.0, 2.5]), "flambeau.DoubleStorage")
    assert text == lines(" 1.0000", " 2.5000", "[flambeau.DoubleStorage of size 2]")


def test_storage_with_scale():
    text = format_storage(numpy.array([0.002, 0.004]), "flambeau.FloatStorage")
    assert text == lines(
        "0.001 *",
        " 2.0000",
        " 4.0000",
        "[flambeau.FloatStorage of size 2]",
    )


def test_storage_of_integers_from_a_strided_view():
    arr = numpy.arange(0, -12, -1, dtype=numpy.int64)[::4]
    assert not arr.flags.c_contiguous
    text = format_storage(arr, "flambeau.LongStorage")
    assert text == lines(" 0", "-4", "-8", "[flambeau.LongStorage of size 3]")


def test_empty_storage():
    text = format_storage(numpy.zeros(0), "flambeau.DoubleStorage")
    assert text == "[flambeau.DoubleStorage of size 0]"


def test_long_storage_is_summarised():
    text = format_storage(numpy.arange(5000, dtype=numpy.int32), "flambeau.IntStorage")
    assert text == lines(
        "    0",
        "    1",
        "    2",
        "...",
        " 4997",
        " 4998",
        " 4999",
        "[flambeau.IntStorage of size 5000]",
    )


def test_storage_must_be_one_dimensional():
    with pytest.raises(ValueError):
        format_storage(numpy.zeros((2, 2)), "flambeau.DoubleStorage")


# --------------------------------------------------------------------------
# print options


def test_default_printoptions():
    assert get_printoptions() == DEFAULTS


def test_get_printoptions_returns_a_copy():
    get_printoptions()["precision"] = 9
    assert get_printoptions()["precision"] == 4


def test_set_printoptions_changes_only_given_values():
    set_printoptions(precision=2, linewidth=100)
    assert get_printoptions() == {**DEFAULTS, "precision": 2, "linewidth": 100}
    set_printoptions()
    assert get_printoptions() == {**DEFAULTS, "precision": 2, "linewidth": 100}


def test_precision_option():
    set_printoptions(precision=2)
    assert format_tensor(numpy.array([1.5, -0.125]), DOUBLE) == lines(
        " 1.50",
        "-0.12",
        "[flambeau.DoubleTensor of size 2]",
    )
    assert format_tensor(numpy.array([1e-3, 1.5, 1234.5]), DOUBLE) == lines(
        " 1.00e-03",
        " 1.50e+00",
        " 1.23e+03",
        "[flambeau.DoubleTensor of size 3]",
    )
    assert format_tensor(numpy.array([0.001, 0.002]), DOUBLE) == lines(
        "0.001 *",
        " 1.00",
        " 2.00",
        "[flambeau.DoubleTensor of size 2]",
    )


def test_precision_does_not_affect_integers():
    set_printoptions(precision=8)
    assert format_tensor(numpy.array([3, -4]), "flambeau.LongTensor") == lines(
        " 3", "-4", "[flambeau.LongTensor of size 2]"
    )


def test_threshold_and_edgeitems_options():
    set_printoptions(threshold=4, edgeitems=2)
    assert format_tensor(numpy.arange(5.0), DOUBLE) == lines(
        " 0",
        " 1",
        "...",
        " 3",
        " 4",
        "[flambeau.DoubleTensor of size 5]",
    )
    set_printoptions(threshold=5)
    assert format_tensor(numpy.arange(5.0), DOUBLE).count("...") == 0


def test_printoptions_context_restores_old_values():
    set_printoptions(edgeitems=5)
    with printoptions(precision=1, threshold=10) as inside:
        assert inside == {**DEFAULTS, "precision": 1, "threshold": 10, "edgeitems": 5}
        assert format_tensor(numpy.array([0.25, 0.5]), DOUBLE) == lines(
            " 0.2",
            " 0.5",
            "[flambeau.DoubleTensor of size 2]",
        )
    assert get_printoptions() == {**DEFAULTS, "edgeitems": 5}


def test_printoptions_context_restores_after_an_error():
    with pytest.raises(RuntimeError), printoptions(linewidth=40):
        raise RuntimeError
    assert get_printoptions() == DEFAULTS


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("precision", -1, ValueError),
        ("threshold", -1, ValueError),
        ("edgeitems", 0, ValueError),
        ("linewidth", 0, ValueError),
        ("precision", 2.5, TypeError),
        ("linewidth", True, TypeError),
        ("threshold", "10", TypeError),
    ],
)
def test_invalid_printoptions_are_rejected(name, value, error):
    with pytest.raises(error):
        set_printoptions(**{name: value})
    assert get_printoptions() == DEFAULTS


def test_invalid_option_in_context_leaves_options_unchanged():
    with pytest.raises(ValueError), printoptions(precision=3, edgeitems=0):
        pass
    assert get_printoptions() == DEFAULTS
