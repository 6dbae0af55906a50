"""snpcnn: genomic prediction of complex traits from SNP genotypes with CNNs.

The public API is re-exported here lazily, so that ``import snpcnn`` (and the
CLI's data commands) do not pay for importing TensorFlow.
"""

from __future__ import annotations

import importlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from snpcnn._tf import quiet_tensorflow_import  # noqa: E402 - no TensorFlow import here

quiet_tensorflow_import()  # TensorFlow's start-up lines off stderr, for the API too

__version__ = "0.1.0"

# name -> module that defines it
_EXPORTS = {
    "Genotypes": "snpcnn.genotypes",
    "encode": "snpcnn.genotypes",
    "SnpcnnError": "snpcnn.errors",
    "InputError": "snpcnn.errors",
    "read_genotypes": "snpcnn.io",
    "read_phenotypes": "snpcnn.io.phenotypes",
    "align": "snpcnn.io.phenotypes",
    "convert": "snpcnn.io.cache",
    "cross_validate": "snpcnn.cv",
    "CVResults": "snpcnn.cv",
    "build_model": "snpcnn.models",
    "load_bundle": "snpcnn.bundle",
    "ModelBundle": "snpcnn.bundle",
    "GBLUP": "snpcnn.baselines",
    "RidgeRegression": "snpcnn.baselines",
    "SNPCNNRegressor": "snpcnn.estimator",
    "SNPCNNClassifier": "snpcnn.estimator",
    "simulate_genotypes": "snpcnn.simulate",
    "simulate_phenotype": "snpcnn.simulate",
    "snp_importance": "snpcnn.explain",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'snpcnn' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
