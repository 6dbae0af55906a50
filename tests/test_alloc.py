"""The readers' output allocation (snpcnn.io._alloc)."""

import numpy as np

from snpcnn.io._alloc import _madvise_switch, empty_int8


def test_empty_int8_shape_order_and_flag_restored():
    switch = _madvise_switch()
    before = switch(True) if switch is not None else None
    try:
        out = empty_int8((3, 5))
        assert out.shape == (3, 5) and out.dtype == np.int8 and out.flags.c_contiguous
        out[:] = -1  # writable
        if switch is not None:
            assert switch(True) is True  # the huge-page advice is back on afterwards
    finally:
        if switch is not None:
            switch(before)
