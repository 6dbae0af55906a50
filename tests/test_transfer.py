"""Tests of snpcnn.transfer: feature extraction, fine-tuning, local-only applications, SNP transfer."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from snpcnn.errors import InputError, InputWarning
from snpcnn.transfer import (
    application_weights_filename,
    build_transfer_model,
    conv_base,
    extract_features,
    fine_tune,
    fit_on_features,
    infer_head,
    load_application,
    transfer_snp_model,
    unfreeze_last,
)


def _tiny_cnn(rank: int = 2, n_out: int = 3, seed: int = 0) -> keras.Model:
    """A small trained-looking conv net with BatchNorm: conv-bn-relu-pool x2, flatten, dense."""
    keras.utils.set_random_seed(seed)
    conv = {1: keras.layers.Conv1D, 2: keras.layers.Conv2D}[rank]
    pool = {1: keras.layers.MaxPooling1D, 2: keras.layers.MaxPooling2D}[rank]
    shape = (16, 2) if rank == 1 else (8, 8, 1)
    inputs = keras.Input(shape)
    x = conv(4, 3, padding="same", name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(name="relu1")(x)
    x = pool(2, name="pool1")(x)
    x = conv(6, 3, padding="same", name="conv2")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    x = keras.layers.ReLU(name="relu2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(8, activation="relu", name="fc")(x)
    act = "softmax" if n_out > 1 else "linear"
    outputs = keras.layers.Dense(n_out, activation=act, name="out")(x)
    return keras.Model(inputs, outputs, name=f"tiny{rank}d")


def _images(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 8, 8, 1)).astype("float32"), rng.integers(0, 3, n)


# --------------------------------------------------------------------------- bases and features


def test_conv_base_ends_at_flatten():
    model = _tiny_cnn()
    base = conv_base(model)
    assert base.layers[-1].name == "flatten"
    assert base.output_shape == (None, 4 * 4 * 6)
    assert conv_base(model, "pool1").output_shape == (None, 4, 4, 4)
    with pytest.raises(InputError, match="no layer named 'nope'"):
        conv_base(model, "nope")


def test_extract_features_shape_and_file(tmp_path):
    model = _tiny_cnn()
    x, _ = _images(10)
    base = conv_base(model)
    feats = extract_features(base, x, batch_size=4, out=tmp_path / "f.npy")
    assert feats.shape == (10, 96) and feats.dtype == np.float32
    np.testing.assert_array_equal(np.load(tmp_path / "f.npy"), feats)
    # the same as running the shared layers by hand
    np.testing.assert_allclose(feats, np.asarray(base(x, training=False)), rtol=1e-5, atol=1e-6)
    with pytest.raises(InputError, match="already exists"):
        extract_features(base, x, out=tmp_path / "f.npy")
    with pytest.raises(InputError, match="base expects"):
        extract_features(base, np.zeros((2, 9, 9, 1), "float32"))


def test_fit_on_features_dense_and_sklearn():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    feats = rng.standard_normal((60, 5)).astype("float32")
    y = (feats[:, 0] > 0).astype(int) + (feats[:, 1] > 0).astype(int)  # 3 classes
    head = fit_on_features(feats, y, "dense", head="multiclass", epochs=30, batch_size=16)
    assert head.output_shape == (None, 3)
    acc = np.mean(np.argmax(head.predict(feats, verbose=0), 1) == y)
    assert acc > 0.6  # chance is ~0.4 for the commonest class
    clf = fit_on_features(feats, y, LogisticRegression(max_iter=500))
    assert clf.score(feats, y) > 0.8
    with pytest.raises(InputError, match="targets"):
        fit_on_features(feats, y[:-1])


# --------------------------------------------------------------------------- fine-tuning


def _compile(model, lr=1e-2):
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="sparse_categorical_crossentropy")


def test_frozen_base_unchanged_head_changes_then_unfreeze():
    model = _tiny_cnn()
    base = conv_base(model)
    new = build_transfer_model(base, 3, "multiclass")
    _compile(new)
    frozen_before = [w.numpy().copy() for w in new.get_layer("base").weights]
    head_before = new.get_layer("output").get_weights()[0].copy()
    assert not new.get_layer("base").trainable_weights
    x, y = _images(32)
    new.fit(x, y, epochs=1, batch_size=8, verbose=0)
    for before, after in zip(frozen_before, new.get_layer("base").weights):
        np.testing.assert_array_equal(before, after.numpy())  # incl. BN moving statistics
    assert not np.array_equal(head_before, new.get_layer("output").get_weights()[0])

    unfrozen = unfreeze_last(new, 1, learning_rate=1e-2, head="multiclass")
    assert unfrozen == ["conv2"]  # bn2, the last weighted layer, is not counted and stays frozen
    base_layer = new.get_layer("base")
    assert base_layer.get_layer("conv2").trainable
    assert not base_layer.get_layer("conv1").trainable
    assert not base_layer.get_layer("bn2").trainable
    bn_before = [w.numpy().copy() for w in base_layer.get_layer("bn2").weights]
    conv1_before = base_layer.get_layer("conv1").get_weights()[0].copy()
    conv2_before = base_layer.get_layer("conv2").get_weights()[0].copy()
    new.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert not np.array_equal(conv2_before, base_layer.get_layer("conv2").get_weights()[0])
    np.testing.assert_array_equal(conv1_before, base_layer.get_layer("conv1").get_weights()[0])
    for before, after in zip(bn_before, base_layer.get_layer("bn2").weights):
        np.testing.assert_array_equal(before, after.numpy())


def test_unfreeze_all_keeps_batchnorm_in_inference_mode():
    x, y = _images(32)
    new = build_transfer_model(conv_base(_tiny_cnn()), 3, "multiclass")
    with pytest.warns(InputWarning, match="only 2 weighted non-BatchNormalization"):
        unfrozen = unfreeze_last(new, 100, learning_rate=1e-2, head="multiclass")
    assert unfrozen == ["conv1", "conv2"]
    bn = new.get_layer("base").get_layer("bn1")
    stats = [w.numpy().copy() for w in bn.weights]
    new.fit(x, y, epochs=1, batch_size=8, verbose=0)
    for before, after in zip(stats, bn.weights):  # moving mean/var and gamma/beta unchanged
        np.testing.assert_array_equal(before, after.numpy())


def test_train_batchnorm_opt_in_updates_statistics():
    # the documented Keras 3 behaviour: a trainable BatchNormalization runs in training mode
    x, y = _images(32)
    new = build_transfer_model(conv_base(_tiny_cnn()), 3, "multiclass")
    unfrozen = unfreeze_last(new, 4, learning_rate=1e-2, head="multiclass", train_batchnorm=True)
    assert unfrozen == ["conv1", "bn1", "conv2", "bn2"]
    bn = new.get_layer("base").get_layer("bn2")
    mean_before = bn.moving_mean.numpy().copy()
    gamma_before = bn.gamma.numpy().copy()
    new.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert not np.array_equal(mean_before, bn.moving_mean.numpy())
    assert not np.array_equal(gamma_before, bn.gamma.numpy())


def test_fine_tune_recipe():
    x, y = _images(40)
    model, history = fine_tune(
        conv_base(_tiny_cnn()),
        x,
        y,
        epochs=1,
        unfreeze=1,
        fine_tune_epochs=1,
        batch_size=16,
        seed=0,
    )
    assert set(history) == {"head", "fine_tune"}
    assert model.output_shape == (None, 3)
    assert infer_head(model) == "multiclass"


def test_build_transfer_model_bad_args():
    base = conv_base(_tiny_cnn())
    with pytest.raises(InputError, match="n_outputs"):
        build_transfer_model(base, 0)
    with pytest.raises(InputError, match="head"):
        build_transfer_model(base, 1, "ordinal")
    with pytest.raises(InputError, match="n_layers"):
        unfreeze_last(build_transfer_model(base, 2), -1)


# --------------------------------------------------------------------------- SNP transfer


def test_transfer_snp_model_rank1(tmp_path):
    rng = np.random.default_rng(1)
    source = _tiny_cnn(rank=1, n_out=1)
    source.compile(optimizer="adam", loss="mse")
    x = rng.random((24, 16, 2)).astype("float32")
    source.fit(x, rng.standard_normal(24), epochs=1, verbose=0)
    path = tmp_path / "trait_a.keras"
    source.save(path)

    model = transfer_snp_model(path, 2, "regression")
    assert model.output_shape == (None, 2)
    base = model.get_layer("base")
    assert not base.trainable_weights
    # the reused layers hold the source model's trained weights
    np.testing.assert_array_equal(
        base.get_layer("conv1").get_weights()[0], source.get_layer("conv1").get_weights()[0]
    )
    before = base.get_layer("conv2").get_weights()[0].copy()
    model.fit(x, rng.standard_normal((24, 2)), epochs=1, verbose=0)
    np.testing.assert_array_equal(before, base.get_layer("conv2").get_weights()[0])

    binary = transfer_snp_model(source, 1, "binary", freeze=False)
    assert binary.get_layer("base").trainable_weights
    assert infer_head(binary) == "binary"


def test_transfer_snp_model_from_zoo():
    models = pytest.importorskip("snpcnn.models")
    if not hasattr(models, "build_model"):
        pytest.skip("snpcnn.models.build_model not available yet")
    source = models.build_model("resnet_small", (32, 2), head="regression")
    new = transfer_snp_model(source, 1, "binary")
    x = np.random.default_rng(0).random((4, 32, 2)).astype("float32")
    out = new.predict(x, verbose=0)
    assert out.shape == (4, 1) and np.all((out >= 0) & (out <= 1))


def test_transfer_missing_model_file(tmp_path):
    with pytest.raises(InputError, match="no such model file"):
        transfer_snp_model(tmp_path / "none.keras", 1)


# --------------------------------------------------------------------------- applications


@pytest.fixture
def no_download(monkeypatch):
    """Make any attempted download fail loudly."""

    def _boom(*args, **kwargs):
        raise AssertionError("attempted a download")

    import keras.src.utils.file_utils as fu

    monkeypatch.setattr(fu, "get_file", _boom)
    monkeypatch.setattr(keras.utils, "get_file", _boom)


def test_weights_filenames():
    assert (
        application_weights_filename("vgg16") == "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    )
    assert application_weights_filename("VGG19", include_top=True) == (
        "vgg19_weights_tf_dim_ordering_tf_kernels.h5"
    )
    assert application_weights_filename("ResNet50") == (
        "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    )
    assert application_weights_filename("xception").startswith("xception_weights_tf_dim")
    assert application_weights_filename("InceptionV3").startswith("inception_v3_weights_tf_dim")
    assert application_weights_filename("MobileNet", alpha=0.25, input_shape=(32, 32, 3)) == (
        "mobilenet_2_5_224_tf_no_top.h5"
    )
    with pytest.raises(InputError, match="VGG16, VGG19, ResNet50"):
        application_weights_filename("AlexNet")


@pytest.mark.parametrize(
    "name, filename",
    [
        ("VGG16", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"),
        ("ResNet50", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"),
        ("MobileNet", "mobilenet_1_0_224_tf_no_top.h5"),
    ],
)
def test_missing_weights_is_clear(tmp_path, monkeypatch, no_download, name, filename):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    with pytest.raises(InputError) as info:
        load_application(name, input_shape=(32, 32, 3))
    msg = str(info.value)
    assert filename in msg and "--weights PATH" in msg and "keras_home/models" in msg
    assert "never downloads" in msg and "\n" not in msg
    with pytest.raises(InputError, match=filename):
        load_application(name, tmp_path / "elsewhere.h5", input_shape=(32, 32, 3))


def test_load_application_from_local_files(tmp_path, monkeypatch, no_download):
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    ref = keras.applications.MobileNet(
        input_shape=(32, 32, 3), alpha=0.25, include_top=False, weights=None
    )
    ref.set_weights([w + 0.01 * i for i, w in enumerate(ref.get_weights())])  # not the init
    x = np.random.default_rng(0).random((2, 32, 32, 3)).astype("float32")
    expected = ref.predict(x, verbose=0)

    # 1) Keras 3 weights file passed explicitly
    explicit = tmp_path / "mobilenet.weights.h5"
    ref.save_weights(explicit)
    model = load_application("mobilenet", explicit, input_shape=(32, 32, 3), alpha=0.25)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)

    # 2) the legacy .h5 layout Keras' own ImageNet files use, found in $KERAS_HOME/models
    home = tmp_path / "keras_home"
    (home / "models").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(home))
    legacy = home / "models" / "mobilenet_2_5_224_tf_no_top.h5"
    with h5py.File(legacy, "w") as fh:
        legacy_h5_format.save_weights_to_hdf5_group(fh, ref)
    model = load_application("MobileNet", input_shape=(32, 32, 3), alpha=0.25)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    # a folder works too
    model = load_application("MobileNet", home / "models", input_shape=(32, 32, 3), alpha=0.25)
    assert model.count_params() == ref.count_params()

    # 3) weights of another network: a clear error naming the file
    with pytest.raises(InputError, match="could not load into MobileNet"):
        load_application("MobileNet", explicit, input_shape=(32, 32, 3), alpha=0.5)


def test_load_application_bad_shapes(tmp_path):
    with pytest.raises(InputError, match="3 input channels"):
        load_application("VGG16", tmp_path, input_shape=(32, 32, 1))
    with pytest.raises(InputError, match="at least 75x75"):
        load_application("InceptionV3", tmp_path, input_shape=(32, 32, 3))


def test_a_model_without_a_convolutional_base_of_its_own_is_refused():
    """The default hybrid as `snpcnn fit` saves it where it averages networks: its
    convolutions sit inside sub-models beside a fitted start, so its only top-level spatial
    layer is the input. Transfer used to return a fresh head on the raw input, silently
    (a checking helper, session 33)."""
    from snpcnn.transfer import transfer_snp_model

    inp = keras.Input((24, 1), name="genotypes")
    x = keras.layers.Conv1D(2, 4, strides=4)(inp)
    member = keras.Model(inp, keras.layers.Dense(1)(keras.layers.Flatten()(x)), name="cnn_part0")
    start = keras.layers.Dense(1, name="cnn_gp_start")(keras.layers.Flatten()(inp))
    out = keras.layers.Add(name="start_plus_convolutions")([member(inp), start])
    model = keras.Model(inp, out)
    with pytest.raises(InputError, match="no trained convolutional base to reuse"):
        transfer_snp_model(model, 1, "regression")


def test_a_damaged_keras_file_is_named_as_damaged(tmp_path):
    """Keras itself says 'File not found' for a file that exists but is no zip archive."""
    from snpcnn.transfer import transfer_snp_model

    bad = tmp_path / "model.keras"
    bad.write_bytes(b"garbage")
    with pytest.raises(InputError, match="not a zip archive") as err:
        transfer_snp_model(bad)
    assert "not found" not in str(err.value)


def test_the_base_models_own_augmentation_is_left_out_of_its_base(tmp_path):
    """A base trained with --augment kept augmenting the new data while the head trained
    (Keras runs random layers with training=True, frozen or not; session 40): conv_base
    leaves the ``augment`` layer out, and the transfer model saves and loads."""
    from snpcnn.images import add_augmentation, make_augmentation
    from snpcnn.models import build_model

    model = build_model("lenet5", input_shape=(28, 28, 1), head="multiclass", n_outputs=10)
    augmented = add_augmentation(model, make_augmentation(rotation=20, seed=0))
    base = conv_base(augmented)
    assert "augment" not in [lyr.name for lyr in base.layers]
    x = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    trained = np.asarray(base(x, training=True))
    np.testing.assert_array_equal(trained, np.asarray(base(x, training=False)))
    # the augmented model itself still augments while training: the test can fail
    assert not np.allclose(augmented(x, training=True), augmented(x, training=False))
    # the base is a graph of its own: it can be cut again and explained (a model cut from an
    # intermediate tensor could not: a reviewer, session 41)
    from snpcnn.explain import activation_maps

    assert conv_base(base, "c3_conv").output_shape[-1] == base.get_layer("c3_conv").filters
    assert activation_maps(base, x, ["c1_conv"])["c1_conv"].shape[0] == 3
    assert len(conv_base(augmented, layer=0).layers) == 1  # the input itself, as before
    np.testing.assert_array_equal(
        base.get_layer("c1_conv").get_weights()[0], augmented.get_layer("c1_conv").get_weights()[0]
    )
    tm = build_transfer_model(base, 10)
    tm.save(tmp_path / "t.keras")
    back = keras.models.load_model(tmp_path / "t.keras")
    np.testing.assert_allclose(np.asarray(back(x)), np.asarray(tm(x)), rtol=1e-6, atol=1e-7)
