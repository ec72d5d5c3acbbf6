"""The numpy backend on its own: the Backend protocol, transfers, generators and their state."""

from __future__ import annotations

import numpy as np
import pytest

from flambeau.backends.numpy import NumpyBackend, flambeau_register_backends


def test_it_registers_one_cpu_backend_through_its_hook() -> None:
    registered: list[object] = []
    flambeau_register_backends(register=registered.append)
    (b,) = registered
    assert isinstance(b, NumpyBackend) and b.device == "cpu" and b.name == "numpy" and b.xp is np


def test_protocol_answers() -> None:
    b = NumpyBackend()
    assert b.is_available() and b.unavailable_reason() == "" and b.device_count() == 1
    a = np.zeros(3)
    assert b.owns(a) and not b.owns([0.0]) and not b.owns(np.float64(1.0))
    assert b.to_host(a) is a and b.from_host(a, None) is a  # the host is the device: no copies


def test_generators_are_mersenne_twisters_with_restorable_state() -> None:
    b = NumpyBackend()
    g = b.new_generator(7)
    assert isinstance(g.bit_generator, np.random.MT19937)
    state = b.get_generator_state(g)
    assert isinstance(state, bytes) and len(state) == 4 * 625
    first = g.random(5)
    b.set_generator_state(g, state)
    np.testing.assert_array_equal(g.random(5), first)
    np.testing.assert_array_equal(b.new_generator(7).random(5), first)  # same seed, same draws
    assert not np.array_equal(b.new_generator(8).random(5), first)


def test_a_state_of_the_wrong_length_is_refused() -> None:
    b = NumpyBackend()
    with pytest.raises(ValueError, match="2500 bytes, got 3"):
        b.set_generator_state(b.new_generator(0), b"abc")
