"""Class labels of `snpcnn images`: a stray label is refused, not a silent extra class."""

import numpy as np
import pytest

from snpcnn.errors import InputError
from snpcnn.images import n_classes_of


def test_every_class_needs_training_images():
    y = np.repeat(np.arange(10), 5).astype(np.int32)
    assert n_classes_of(y, y[:20]) == 10
    bad = y.copy()
    bad[3] = 250  # a checking helper: this built a 251-class model without a word
    with pytest.raises(InputError, match=r"class 10 has no training image.*class 250 has 1"):
        n_classes_of(bad, y)
    # a test-only class is the test labels' fault (it blamed the training labels: session 43)
    with pytest.raises(InputError, match=r"^test labels: label 12 \(test image 1; 1 such\)"):
        n_classes_of(y, np.array([0, 12], dtype=np.int32))


def test_one_class_is_refused():
    y = np.zeros(20, dtype=np.int32)
    with pytest.raises(InputError, match="at least two classes"):
        n_classes_of(y, y[:5])
