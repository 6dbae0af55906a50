"""Custom Keras layers of snpcnn (all keras-serializable under the ``snpcnn`` package)."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from snpcnn.models.core import check_rate

__all__ = ["RandomGenotypeMask", "WindowGather", "DominanceFeatures", "square"]


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


@keras.saving.register_keras_serializable(package="snpcnn")
def square(x):
    """The activation ``x -> x * x``: a unit's output is a quadratic form of its inputs, so
    one convolution filter over a window of SNPs can express the product of two of them
    (additive x additive epistasis) and a genotype's squared deviation (dominance)."""
    return x * x


@keras.saving.register_keras_serializable(package="snpcnn")
class WindowGather(keras.layers.Layer):
    """Pick ``n_windows`` windows of ``width`` adjacent SNPs and lay them end to end.

    Input ``(batch, n_snps, channels)``, output ``(batch, n_windows * width, channels)``:
    window ``k`` covers SNPs ``starts[k] .. starts[k] + width - 1``.  ``starts`` is a
    non-trainable int32 weight (saved with the model), evenly spaced until
    :meth:`set_starts` sets it; snpcnn's training sets it from a scan of the training rows
    for pairs of nearby SNPs whose product (or a SNP's square) correlates with the
    residual of the linear start (``snpcnn.training.screen_windows``).  A convolution with
    kernel = stride = ``width`` after this layer then sees exactly one window per step.

    Examples
    --------
    >>> import numpy as np
    >>> layer = WindowGather(2, 3)
    >>> x = np.arange(10, dtype="float32").reshape(1, 10, 1)
    >>> _ = layer(x)
    >>> layer.set_starts([1, 6])
    >>> np.asarray(layer(x))[0, :, 0].tolist()
    [1.0, 2.0, 3.0, 6.0, 7.0, 8.0]
    """

    def __init__(self, n_windows: int, width: int, **kwargs):
        super().__init__(**kwargs)
        self.n_windows = int(n_windows)
        self.width = int(width)

    def build(self, input_shape):
        n_snps = int(input_shape[1])
        if self.width > n_snps or self.n_windows < 1:
            raise ValueError(
                f"WindowGather: {self.n_windows} windows of {self.width} SNPs do not fit "
                f"{n_snps} SNPs"
            )
        self.n_snps = n_snps
        even = np.linspace(0, n_snps - self.width, self.n_windows).round().astype("int32")
        self.starts = self.add_weight(
            shape=(self.n_windows,),
            dtype="int32",
            initializer=keras.initializers.Constant(even),
            trainable=False,
            name="starts",
        )
        super().build(input_shape)

    def set_starts(self, starts) -> None:
        """Set the window starts (``n_windows`` ints in ``0 .. n_snps - width``)."""
        starts = np.asarray(starts, dtype="int64").reshape(-1)
        if (
            len(starts) != self.n_windows
            or starts.min() < 0
            or (starts.max() > self.n_snps - self.width)
        ):
            raise ValueError(
                f"WindowGather.set_starts: need {self.n_windows} starts in "
                f"0..{self.n_snps - self.width}, got {starts.tolist()}"
            )
        self.starts.assign(starts.astype("int32"))

    def positions(self) -> np.ndarray:
        """The SNP index of every output position, in order (``n_windows * width``)."""
        s = np.asarray(keras.ops.convert_to_numpy(self.starts), dtype=np.int64)
        return (s[:, None] + np.arange(self.width)).reshape(-1)

    def call(self, inputs):
        idx = ops.reshape(
            ops.expand_dims(self.starts, 1)
            + ops.expand_dims(ops.arange(self.width, dtype="int32"), 0),
            (-1,),
        )
        return ops.take(inputs, idx, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_windows * self.width, *input_shape[2:])

    def get_config(self):
        config = super().get_config()
        config.update({"n_windows": self.n_windows, "width": self.width})
        return config


@keras.saving.register_keras_serializable(package="snpcnn")
class DominanceFeatures(keras.layers.Layer):
    """Per SNP and channel, ``(x * x - mean) * scale``: the dominance features of the wide path.

    For a SNP's three genotypes the square of its (centred or standardised) dosage is an
    exact linear function of the dosage and the heterozygote indicator, so beside the
    dosage it spans the dominance deviation: a linear effect on this feature is a
    dominance effect.  ``mean`` and ``scale`` (shape ``(n_snps, channels)``) are
    non-trainable weights saved with the model; they start at 0 and 1, and snpcnn's
    training sets them from the training rows (:meth:`set_stats`).
    """

    def build(self, input_shape):
        shape = tuple(int(d) for d in input_shape[1:])
        self.mean = self.add_weight(shape=shape, initializer="zeros", trainable=False, name="mean")
        self.scale = self.add_weight(shape=shape, initializer="ones", trainable=False, name="scale")
        super().build(input_shape)

    def set_stats(self, mean, scale) -> None:
        """Set the per-SNP centre and scale (arrays of the input's shape without batch)."""
        self.mean.assign(np.asarray(mean, dtype="float32").reshape(self.mean.shape))
        self.scale.assign(np.asarray(scale, dtype="float32").reshape(self.scale.shape))

    def call(self, inputs):
        return (inputs * inputs - self.mean) * self.scale

    def compute_output_shape(self, input_shape):
        return input_shape
