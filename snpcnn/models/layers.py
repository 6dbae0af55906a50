"""Custom Keras layers of snpcnn (all keras-serializable under the ``snpcnn`` package)."""

from __future__ import annotations

import keras
from keras import ops

from snpcnn.models.core import check_rate

__all__ = ["RandomGenotypeMask"]


@keras.saving.register_keras_serializable(package="snpcnn")
class RandomGenotypeMask(keras.layers.Layer):
    """Set a random fraction of SNP positions to "missing" during training.

    At each training step, every position along the spatial axes (a SNP for
    ``(batch, n_snps, channels)`` input; a pixel for images) is dropped with
    probability ``rate``, independently per sample: **all** its channels are set to 0.
    For centred dosage input 0 is the mean imputation of a missing genotype; for
    one-hot input an all-zero vector is exactly how :func:`snpcnn.genotypes.encode`
    writes a missing genotype.  Unlike ``Dropout`` nothing is rescaled: a masked SNP
    looks like a missing call, not like a louder neighbour.

    In inference (``training=False``, ``model.predict``) the layer is the identity.

    Parameters
    ----------
    rate : float in [0, 1)
        Fraction of positions masked per sample.
    seed : int, optional
        Seed of the layer's random generator (fixed seed -> same masks on CPU).

    Examples
    --------
    >>> import numpy as np
    >>> layer = RandomGenotypeMask(0.5, seed=1)
    >>> x = np.ones((2, 8, 3), dtype="float32")
    >>> bool((np.asarray(layer(x, training=False)) == x).all())
    True
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_rate(rate, "rate")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        shape = ops.shape(inputs)
        mask_shape = (*shape[:-1], 1)
        u = keras.random.uniform(mask_shape, seed=self.seed_generator, dtype="float32")
        keep = ops.cast(u >= self.rate, inputs.dtype)
        return inputs * keep

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
