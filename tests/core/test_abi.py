# SPDX-License-Identifier: Apache-2.0
"""The ctypes mirror matches the C layout of every core type."""

import ctypes

import pytest

import sipcore


@pytest.mark.parametrize("name", sorted(sipcore.ABI_TYPES))
def test_sizes(name):
    assert sipcore.lib.sip_core_abi_sizeof(name.encode()) == ctypes.sizeof(sipcore.ABI_TYPES[name])


def test_result_names_are_distinct():
    names = [sipcore.result_name(i) for i in range(40)]
    real = [n for n in names if n != "UNKNOWN"]
    assert len(real) == len(set(real)) and real[0] == "OK"
