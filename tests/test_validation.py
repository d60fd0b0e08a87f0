"""The one module of argument checks, fastbp._validation, and its users' translations."""

import numpy as np
import pytest

from fastbp import _validation as check


@pytest.mark.parametrize("value, bounds, message", [
    (-1.0, dict(low=0), "x must be a finite number >= 0, got -1.0"),
    (0.0, dict(low=0, low_open=True), "x must be a finite number > 0, got 0.0"),
    (1.0, dict(low=0, high=1, high_open=True), "x must be a finite number in [0, 1), got 1.0"),
    (2, dict(high=1), "x must be a finite number <= 1, got 2.0"),
    (float("nan"), {}, "x must be a finite number, got nan"),
])
def test_check_real_names_the_argument_and_its_bounds(value, bounds, message):
    with pytest.raises(ValueError) as info:
        check.check_real(value, "x", **bounds)
    assert str(info.value) == message


@pytest.mark.parametrize("value", [True, np.bool_(False), "1", None, 1j])
def test_check_real_refuses_what_is_not_a_real_number(value):
    with pytest.raises(TypeError, match="^x must be a real number"):
        check.check_real(value, "x")


def test_check_real_accepts_numpy_numbers_and_bounds():
    assert check.check_real(np.float32(0.5), "x", low=0, high=1) == 0.5
    assert check.non_negative(np.int64(0), "x") == 0.0
    assert check.fraction(1, "x") == 1.0
    with pytest.raises(ValueError):
        check.fraction(1, "x", upper_open=True)


def test_check_int_maximum():
    assert check.check_int(2**40, "n", maximum=None) == 2**40
    with pytest.raises(ValueError, match="below 2\\*\\*31"):
        check.check_int(2**31, "n")
    with pytest.raises(ValueError, match="at most 5"):
        check.check_int(6, "n", maximum=5)


@pytest.mark.parametrize("weights, message", [
    (np.ones(3), "shape"), (-np.ones(4), "non-negative"), (np.zeros(4), "all zero"),
    ([1, np.inf, 1, 1], "NaN or infinite")])
def test_check_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        check.check_weights(weights, 4)


def test_check_weights_keeps_the_scale_and_check_sample_weight_divides_by_the_largest():
    w = np.array([1.0, 3.0, 0.0])
    assert check.check_weights(w, 3) is w
    np.testing.assert_array_equal(check.check_sample_weight(w, 3, np.float32),
                                  np.array([1 / 3, 1, 0], np.float32))


