"""Custom Keras layers of snpcnn (all keras-serializable under the ``snpcnn`` package)."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from snpcnn.models.core import check_rate

__all__ = [
    "RandomGenotypeMask",
    "WindowGather",
    "DominanceFeatures",
    "KernelPrediction",
    "QuadraticEffects",
    "square",
    "cube",
    "square_cube",
]


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
def cube(x):
    """The activation ``x -> x ** 3``: a unit's output is a cubic polynomial of its inputs
    (with the filter's bias, ``(w.x + b)^3`` holds cubic, quadratic and linear terms), and
    a sum of such cubes can express the product of three SNPs, which no quadratic form
    (:func:`square`) can (benchmarks/tuning/triples_study.py)."""
    return x * x * x


@keras.saving.register_keras_serializable(package="snpcnn")
def square_cube(x):
    """Square filters beside cube filters: the first half of the channels (the last axis)
    squared (:func:`square`: pairs and dominance), the second half cubed (:func:`cube`:
    three-SNP products).  With 16 filters: the default's 8 square filters and 8 cube ones."""
    k = (int(x.shape[-1]) + 1) // 2
    return ops.concatenate([x[..., :k] * x[..., :k], x[..., k:] * x[..., k:] * x[..., k:]], axis=-1)


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

    With ``order`` other than ``"file"`` (``[screen] order``, :mod:`snpcnn.ldorder`) the
    windows are any sets of ``width`` SNPs, stored as a second non-trainable int32 weight
    ``windows`` (``n_windows x width`` SNP indices; the evenly spaced runs until
    :meth:`set_windows` sets them, e.g. to runs of a training part's LD order of the SNPs for
    a panel without a map).  ``starts`` is then unused.

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

    def __init__(
        self,
        n_windows: int,
        width: int,
        order: str = "file",
        ld_reach: int = 0,
        all_pairs: bool = False,
        map_reach: int = 0,
        map_all_pairs: bool = False,
        triples: bool | str = False,
        conditional: bool = False,
        conditional_alpha: float = 0.0,
        conditional_fill: str = "marginal",
        polarised: int = 0,
        pairs: bool | str = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.n_windows = int(n_windows)
        self.width = int(width)
        #: ``[screen] order``: "file" (windows = runs of adjacent columns) or a mode whose
        #: windows are stored SNP sets ("ld", "auto"; set by training)
        self.order_mode = str(order)
        #: ``[screen] ld_reach``: in an LD order, the screen scores pairs up to this many
        #: positions apart (0: ``width - 1``, as in the file's order); read by training
        self.ld_reach = int(ld_reach)
        #: ``[screen] map_reach``: in the file's order, with windows led by their pair, the
        #: screen scores pairs up to this many positions apart (0: ``width - 1``); read by
        #: training
        self.map_reach = int(map_reach)
        #: ``[screen] all_pairs``: in an LD order, every pair of SNPs is a screen candidate
        #: (pairs beyond ``ld_reach`` too); read by training
        self.all_pairs = bool(all_pairs)
        #: ``[screen] map_all_pairs``: ``all_pairs`` on a panel with a map too (windows led
        #: by their pair); read by training
        self.map_all_pairs = bool(map_all_pairs)
        #: ``[screen] conditional``: the windows' pairs picked by forward selection (each on
        #: what the pairs already picked leave unexplained); read by training
        self.conditional = bool(conditional)
        #: ``[screen] conditional_alpha``: forward selection only while a candidate is
        #: significant at this level (0: to the last window); read by training
        self.conditional_alpha = float(conditional_alpha)
        #: ``[screen] conditional_fill``: the windows left where forward selection stopped
        #: ("marginal": the pairs' marginal order; "repeat": its windows in turn)
        self.conditional_fill = str(conditional_fill)
        #: ``[screen] triples``: every triple of SNPs that fits a window is a screen
        #: candidate too ("only": the windows hold the best triples alone; "lead": each
        #: window starts with its triple, and the convolution after it starts on the
        #: triple's product); read by training
        self.triples = triples if triples in ("only", "lead") else bool(triples)
        #: ``[screen] polarised``: with "lead", the filters started on the triples'
        #: products (0: all); read by training
        self.polarised = int(polarised)
        #: ``[screen] pairs``: "lead": each window starts with its screened pair, and the
        #: convolution after it starts on the pair's product; read by training
        self.pairs = "lead" if pairs == "lead" else False
        #: windows stored as SNP sets (any order but the file's, or windows led by a triple
        #: or a pair)
        self.stored_sets = (
            self.order_mode != "file" or self.triples == "lead" or self.pairs == "lead"
        )

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
        if self.stored_sets:
            runs = (even[:, None] + np.arange(self.width)).astype("int32")
            self.windows = self.add_weight(
                shape=(self.n_windows, self.width),
                dtype="int32",
                initializer=keras.initializers.Constant(runs),
                trainable=False,
                name="windows",
            )
        super().build(input_shape)

    def set_windows(self, windows) -> None:
        """Set the SNPs of every window (``n_windows x width`` indices in ``0 .. n_snps - 1``,
        each row ``width`` distinct SNPs).  Only for a layer built with ``order`` != "file",
        ``triples = "lead"`` or ``pairs = "lead"``."""
        w = np.asarray(windows, dtype="int64")
        if not self.stored_sets:
            raise ValueError("WindowGather.set_windows: this layer reads runs of the file's order")
        if (
            w.shape != (self.n_windows, self.width)
            or w.min() < 0
            or w.max() >= self.n_snps
            or any(len(set(row)) != self.width for row in w.tolist())
        ):
            raise ValueError(
                f"WindowGather.set_windows: need {self.n_windows} x {self.width} distinct SNP "
                f"indices per window in 0..{self.n_snps - 1}, got shape {w.shape}"
            )
        self.windows.assign(w.astype("int32"))

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
        if self.stored_sets:  # runs of the file's order
            self.windows.assign((starts[:, None] + np.arange(self.width)).astype("int32"))

    def positions(self) -> np.ndarray:
        """The SNP index of every output position, in order (``n_windows * width``)."""
        s = np.asarray(keras.ops.convert_to_numpy(self.starts), dtype=np.int64)
        if self.stored_sets:
            w = keras.ops.convert_to_numpy(self.windows)
            return np.asarray(w, dtype=np.int64).reshape(-1)
        return (s[:, None] + np.arange(self.width)).reshape(-1)

    def call(self, inputs):
        if self.stored_sets:
            return ops.take(inputs, ops.reshape(self.windows, (-1,)), axis=1)
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
        if self.order_mode != "file":  # models saved before [screen] order load unchanged
            config.update({"order": self.order_mode, "ld_reach": self.ld_reach})
            if self.all_pairs:  # models saved before [screen] all_pairs load unchanged
                config["all_pairs"] = True
        if self.map_reach:  # models saved before [screen] map_reach load unchanged
            config["map_reach"] = self.map_reach
        if self.map_all_pairs:  # models saved before [screen] map_all_pairs load unchanged
            # all_pairs too: above, it is written only for an order other than "file"
            config.update({"all_pairs": self.all_pairs, "map_all_pairs": True})
        if self.conditional:  # models saved before [screen] conditional load unchanged
            config["conditional"] = True
        if self.conditional_alpha:  # models saved before conditional_alpha load unchanged
            config["conditional_alpha"] = self.conditional_alpha
        if self.conditional_fill != "marginal":
            config["conditional_fill"] = self.conditional_fill
        if self.triples:  # models saved before [screen] triples load unchanged
            config["triples"] = self.triples
        if self.polarised:
            config["polarised"] = self.polarised
        if self.pairs:
            config["pairs"] = self.pairs
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


#: the arc-cosine map's cosine is kept this far inside [-1, 1], so that its gradient stays
#: finite (explain); the kernel changes by O(1e-9) relative
_COS_LIMIT = 1.0 - 1e-6


def _arccos_map(k12, k11, k22):
    """``ops`` version of :func:`snpcnn.baselines.cnn_gp._arccos` (broadcasting shapes)."""
    norm = ops.sqrt(ops.maximum(k11 * k22, 1e-30))
    cos = ops.clip(k12 / norm, -_COS_LIMIT, _COS_LIMIT)
    theta = ops.arccos(cos)
    return norm * (ops.sin(theta) + (np.pi - theta) * cos) / np.pi


@keras.saving.register_keras_serializable(package="snpcnn")
class QuadraticEffects(keras.layers.Layer):
    """A fitted per-input quadratic model as a Keras layer: ``x @ lin + (x * x) @ quad +
    intercept`` over the flattened input (non-trainable weights, saved with the model).  The
    default CNN uses it where REML chose GBLUP-AD as its start (``[linear] kernel`` names
    ``"gblup_ad"``): for dosages any per-SNP function is ``a + b x + c x^2``, so GBLUP-AD's
    additive and dominance effects are exactly these two vectors.  Composed with the trained
    convolutions after training.  Differentiable (saliency maps).  ``squares=False`` (a linear
    start: the LASSO) leaves the squared term out of the computation: the same prediction
    without a batch-sized temporary of squared inputs (205 MB for 256 rows x 200,000 SNPs)."""

    def __init__(self, n_features: int, squares: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.n_features = int(n_features)
        self.squares = bool(squares)
        if self.n_features < 1:
            from snpcnn.errors import InputError

            raise InputError(f"QuadraticEffects: n_features = {n_features!r} (must be >= 1)")

    def build(self, input_shape):
        dims = tuple(input_shape[1:])
        if dims and all(d is not None for d in dims) and int(np.prod(dims)) != self.n_features:
            from snpcnn.errors import InputError

            raise InputError(
                f"QuadraticEffects: input of shape {dims} ({int(np.prod(dims))} values a row) "
                f"but the effects were fitted on {self.n_features} values a row"
            )
        m = self.n_features
        self.lin = self.add_weight(shape=(m, 1), initializer="zeros", trainable=False, name="lin")
        self.quad = self.add_weight(shape=(m, 1), initializer="zeros", trainable=False, name="quad")
        self.intercept = self.add_weight(
            shape=(1,), initializer="zeros", trainable=False, name="intercept"
        )
        super().build(input_shape)

    def set_effects(self, lin, quad, intercept) -> None:
        """Set the effects of the inputs and of their squares, and the intercept."""
        lin = np.asarray(lin, dtype="float32").reshape(-1, 1)
        quad = np.asarray(quad, dtype="float32").reshape(-1, 1)
        if len(lin) != self.n_features or len(quad) != self.n_features:
            from snpcnn.errors import InputError

            raise InputError(
                f"QuadraticEffects.set_effects: {len(lin)} and {len(quad)} effects for a layer "
                f"of {self.n_features} inputs"
            )
        self.lin.assign(lin)
        self.quad.assign(quad)
        self.intercept.assign(np.asarray([intercept], dtype="float32").reshape(1))

    def call(self, inputs):
        x = ops.reshape(ops.cast(inputs, "float32"), (-1, self.n_features))
        if not self.squares:
            return ops.matmul(x, self.lin) + self.intercept
        return ops.matmul(x, self.lin) + ops.matmul(x * x, self.quad) + self.intercept

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        return {**super().get_config(), "n_features": self.n_features, "squares": self.squares}


@keras.saving.register_keras_serializable(package="snpcnn")
class KernelPrediction(keras.layers.Layer):
    """The prediction of a fitted CNN-GP (:class:`snpcnn.baselines.CNNGP`) as a Keras layer.

    Holds the CNN-GP's training rows (standardised, as non-trainable weights saved with the
    model; with ``storage = "int8"``, as int8 codes and a per-SNP table of their standardised
    values, the same numbers in a quarter of the memory: the dosages of a CNN-GP fitted on
    streamed rows, each column's distinct values in memory; :meth:`CNNGP.train_codes`)
    and its dual coefficients, and computes for a batch of genotypes the CNN-GP kernel
    with those rows (windows of ``width`` SNPs, ``activation``, then ``depth`` dense ReLU
    layers; module docstring of :mod:`snpcnn.baselines.cnn_gp`) times the coefficients, plus
    the intercept: ``k(x, X_train) H^-1 (y - F b) + b_0``.  The default CNN uses it where
    REML chose the CNN-GP as its start (``[linear] kernel = "cnn_gp"``); it is composed
    with the trained convolutions after training, so training steps never evaluate it.
    Window pairs are processed in chunks so that a batch's temporaries stay near
    ``chunk_elements`` floats.  Differentiable (saliency maps).
    """

    def __init__(
        self,
        n_train: int,
        n_features: int,
        width: int,
        activation: str,
        depth: int,
        bias: float,
        n_outputs: int = 1,
        chunk_elements: int = 1 << 24,
        storage: str = "float32",
        n_codes: int = 4,
        depths: list[int] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        from snpcnn.errors import InputError

        self.storage = str(storage)
        self.n_codes = int(n_codes)
        self.n_train = int(n_train)
        self.n_features = int(n_features)
        self.width = int(width)
        self.activation = str(activation)
        self.depth = int(depth)
        self.kernel_bias = float(bias)
        self.n_outputs = int(n_outputs)
        self.chunk_elements = int(chunk_elements)
        # an unknown activation would silently compute the ReLU kernel
        bad = [
            f"{k} = {v!r} (must be >= {lo})"
            for k, v, lo in (
                ("n_train", self.n_train, 1),
                ("n_features", self.n_features, 1),
                ("width", self.width, 1),
                ("depth", self.depth, 0),
                ("n_outputs", self.n_outputs, 1),
                ("chunk_elements", self.chunk_elements, 1),
            )
            if v < lo
        ]
        if self.activation not in ("relu", "square"):
            bad.append(f"activation = {self.activation!r} (must be relu or square)")
        if self.storage not in ("float32", "int8"):
            bad.append(f"storage = {self.storage!r} (must be float32 or int8)")
        if self.n_codes < 2:
            bad.append(f"n_codes = {self.n_codes!r} (must be >= 2)")
        if not (np.isfinite(self.kernel_bias) and self.kernel_bias >= 0):
            bad.append(f"bias = {self.kernel_bias!r} (must be finite and >= 0)")
        # one depth per output (the multi-trait start's traits predicted by their own
        # one-trait CNN-GP), or None: every output at ``depth``
        self.depths = None if depths is None else [int(d) for d in depths]
        if self.depths is not None and (len(self.depths) != self.n_outputs or min(self.depths) < 0):
            bad.append(f"depths = {depths!r} (must be {self.n_outputs} integers >= 0)")
        if bad:
            raise InputError(f"KernelPrediction: {'; '.join(bad)}")
        self.n_windows = -(-self.n_features // self.width)

    def build(self, input_shape):
        dims = tuple(input_shape[1:])
        if dims and all(d is not None for d in dims) and int(np.prod(dims)) != self.n_features:
            from snpcnn.errors import InputError

            raise InputError(
                f"KernelPrediction: input of shape {dims} ({int(np.prod(dims))} values a row) "
                f"but the CNN-GP was fitted on {self.n_features} SNP values a row"
            )
        n, w, nw = self.n_train, self.width, self.n_windows
        if self.storage == "int8":
            # the training rows as int8 codes and each SNP's table of standardised values
            # (CNNGP.train_codes): a quarter of the float32 rows' memory
            self.train_codes = self.add_weight(
                shape=(n, nw * w),
                initializer="zeros",
                dtype="int8",
                trainable=False,
                name="train_codes",
            )
            self.z_table = self.add_weight(
                shape=(nw * w, self.n_codes), initializer="zeros", trainable=False, name="z_table"
            )
        else:
            self.train_z = self.add_weight(
                shape=(n, nw * w), initializer="zeros", trainable=False, name="train_z"
            )
        self.center = self.add_weight(
            shape=(self.n_features,), initializer="zeros", trainable=False, name="center"
        )
        self.inv_sd = self.add_weight(
            shape=(self.n_features,), initializer="ones", trainable=False, name="inv_sd"
        )
        self.dual = self.add_weight(
            shape=(n, self.n_outputs), initializer="zeros", trainable=False, name="dual"
        )
        self.intercept = self.add_weight(
            shape=(self.n_outputs,), initializer="zeros", trainable=False, name="intercept"
        )
        super().build(input_shape)

    def set_fit(self, gp, intercept, coded=None) -> None:
        """Copy a fitted :class:`~snpcnn.baselines.CNNGP` (one output) into the layer: its
        standardised training rows, or with ``storage = "int8"`` their codes and table
        (:meth:`~snpcnn.baselines.CNNGP.train_codes`; ``coded``: its result, where the
        caller has it already)."""
        from snpcnn.errors import InputError

        got = (gp.n_train_, gp.n_features_in_)
        if got != (self.n_train, self.n_features):
            raise InputError(
                f"KernelPrediction.set_fit: the CNN-GP was fitted on {got[0]} rows x "
                f"{got[1]} SNPs but the layer was built for {self.n_train} x {self.n_features}"
            )
        cols = self.n_windows * self.width
        if self.storage == "int8":
            coded = gp.train_codes() if coded is None else coded
            if coded is None or coded[1].shape[1] != self.n_codes:
                raise InputError(
                    "KernelPrediction.set_fit: storage = 'int8' needs a CNN-GP whose training "
                    f"rows have int8 codes (CNNGP.train_codes), {self.n_codes} a SNP"
                )
            codes, table = coded
            q = np.full((self.n_train, cols), -1, dtype="int8")
            q[:, : self.n_features] = codes
            t = np.zeros((cols, self.n_codes), dtype="float32")  # padding: 0, as train_z's
            t[: self.n_features] = table
            self.train_codes.assign(q)
            self.z_table.assign(t)
        else:
            z = np.zeros((self.n_train, cols), dtype="float32")
            z[:, : self.n_features] = np.asarray(gp.Z_train_, dtype="float32")
            self.train_z.assign(z)
        self.center.assign(np.asarray(gp.mean_, dtype="float32"))
        self.inv_sd.assign((1.0 / np.asarray(gp.sd_, dtype=np.float64)).astype("float32"))
        self.dual.assign(np.asarray(gp.dual_coef_, dtype="float32").reshape(self.n_train, -1))
        self.intercept.assign(np.asarray(intercept, dtype="float32").reshape(-1))

    def _windows(self, z):
        """(batch, n_windows, width) view of standardised, zero-padded rows."""
        pad = self.n_windows * self.width - self.n_features
        if pad:
            z = ops.pad(z, [[0, 0], [0, pad]])
        return ops.reshape(z, (-1, self.n_windows, self.width))

    def _decoded(self, c0: int, c1: int):
        """Windows ``c0:c1`` of the standardised training rows, from their int8 codes
        (``storage = "int8"``): (n_train, c1 - c0, width) float32, each value looked up in
        its SNP's row of ``z_table``."""
        w, v = self.width, self.n_codes
        q = ops.cast(self.train_codes[:, c0 * w : c1 * w], "int32")
        idx = ops.maximum(q, -1) + 1 + ops.arange((c1 - c0) * w, dtype="int32")[None, :] * v
        z = ops.take(ops.reshape(self.z_table[c0 * w : c1 * w], (-1,)), idx)
        return ops.reshape(z, (self.n_train, c1 - c0, w))

    def call(self, inputs):
        x = ops.reshape(ops.cast(inputs, "float32"), (-1, self.n_features))
        za = self._windows((x - self.center) * self.inv_sd)
        counts = np.full(self.n_windows, float(self.width), dtype="float32")
        counts[-1] = float(self.n_features - (self.n_windows - 1) * self.width)
        b = np.float32(self.kernel_bias)
        kaa_all = ops.sum(za * za, axis=-1) / counts + b  # (batch, windows)
        coded = self.storage == "int8"
        if not coded:
            zb = ops.reshape(self.train_z, (self.n_train, self.n_windows, self.width))
            kbb_all = ops.sum(zb * zb, axis=-1) / counts + b  # (n_train, windows)
        kbb_parts = []
        step = max(1, self.chunk_elements // max(1, 256 * self.n_train))
        total = None
        for c0 in range(0, self.n_windows, step):
            c1 = min(c0 + step, self.n_windows)
            if coded:  # the chunk's training windows, decoded for this chunk only
                zbc = self._decoded(c0, c1)
                kbb_c = ops.sum(zbc * zbc, axis=-1) / counts[c0:c1] + b
                kbb_parts.append(kbb_c)
            else:
                zbc, kbb_c = zb[:, c0:c1], kbb_all[:, c0:c1]
            kab = ops.einsum("bcw,ncw->bnc", za[:, c0:c1], zbc) / counts[c0:c1] + b
            kaa = ops.expand_dims(kaa_all[:, c0:c1], 1)
            kbb = ops.expand_dims(kbb_c, 0)
            if self.activation == "square":
                part = 2.0 * kab * kab + kaa * kbb
            else:
                part = _arccos_map(kab, kaa, kbb)
            part = ops.sum(part, axis=-1)
            total = part if total is None else total + part
        if coded:
            kbb_all = ops.concatenate(kbb_parts, axis=1)
        K = total / np.float32(self.n_windows)
        if self.activation == "square":
            da = ops.mean(3.0 * kaa_all * kaa_all, axis=-1)
            db = ops.mean(3.0 * kbb_all * kbb_all, axis=-1)
        else:
            da, db = ops.mean(kaa_all, axis=-1), ops.mean(kbb_all, axis=-1)
        # each output's depth (one for all but the multi-trait start's traits predicted by
        # their own CNN-GP): the kernel at each depth times the dual weights of the outputs
        # at that depth (the others' columns masked to zero; all ones: the weights as they are)
        depths = self.depths if self.depths is not None else [self.depth] * self.n_outputs
        out = None
        for level in range(max(depths) + 1):
            if level:
                K = _arccos_map(K + b, ops.expand_dims(da + b, 1), ops.expand_dims(db + b, 0))
                da, db = da + b, db + b
            mask = np.array([d == level for d in depths], dtype="float32")
            if mask.any():
                part = ops.matmul(K, self.dual * mask)
                out = part if out is None else out + part
        return out + self.intercept

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_outputs)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "n_train": self.n_train,
                "n_features": self.n_features,
                "width": self.width,
                "activation": self.activation,
                "depth": self.depth,
                "bias": self.kernel_bias,
                "n_outputs": self.n_outputs,
                "chunk_elements": self.chunk_elements,
                "storage": self.storage,
                "n_codes": self.n_codes,
            }
        )
        if self.depths is not None:  # absent otherwise: model files as before
            config["depths"] = list(self.depths)
        return config
