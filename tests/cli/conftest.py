"""Fixtures shared by the CLI tests."""

import pytest

#: a tiny CNN (conv 4 filters, kernel = stride = 4, flatten, dense 8): fast fits in CLI tests
TINY_TOML = """
name = "tiny"
[[blocks]]
type = "conv"
filters = 4
kernel_size = 4
strides = 4
[[blocks]]
type = "flatten"
[[blocks]]
type = "dense"
units = 8
"""


@pytest.fixture(scope="session")
def tiny_toml() -> str:
    """The text of a tiny architecture file (write it where a test needs it)."""
    return TINY_TOML
