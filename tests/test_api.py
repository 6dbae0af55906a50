"""The top-level API names exist and resolve lazily (importing snpcnn does not import TensorFlow)."""

import subprocess
import sys

import snpcnn


def test_every_exported_name_resolves():
    for name in snpcnn.__all__:
        assert getattr(snpcnn, name) is not None, name
    assert callable(snpcnn.cross_validate)


def test_import_is_light():
    code = "import sys, snpcnn; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
