"""``snpcnn images``: 2D image parity (MNIST) and transfer learning from the command line.

A thin layer over :mod:`snpcnn.images` and :mod:`snpcnn.transfer`.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

import click

from snpcnn.cli import force_option, verbose_option
from snpcnn.errors import InputError

__all__ = ["COMMANDS", "images"]


def _parse_classes(value: str | None) -> list[int] | None:
    """``"0-4"`` or ``"5,6,7"`` -> list of ints."""
    if value is None or not value.strip():
        return None
    out: list[int] = []
    try:
        for part in value.split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = part.split("-", 1)
                out.extend(range(int(lo), int(hi) + 1))
            elif part:
                out.append(int(part))
    except ValueError:
        raise InputError(f"--classes: {value!r} is not a list like 0-4 or 5,6,7") from None
    if not out:
        raise InputError(
            f"--classes: {value!r} names no class (a range is low-high with low <= high, e.g. "
            "0-4, or a list such as 5,6,7)"
        )
    if len(set(out)) < 2:
        raise InputError(
            f"--classes: {value!r} names one class; a classifier needs at least two (e.g. 0-4 "
            "or 3,8)"
        )
    return out


def _load_data(data: str | None, classes: list[int] | None):
    from snpcnn.images import default_mnist_dir, load_mnist, select_classes

    if data is None:
        found = default_mnist_dir()
        if found is None:
            raise InputError(
                "no --data given and ../shared/data/mnist not found; pass --data DIR with the "
                "four MNIST IDX files"
            )
        data = str(found)
    (xtr, ytr), (xte, yte) = load_mnist(data)
    if classes:
        xtr, ytr = select_classes(xtr, ytr, classes)
        xte, yte = select_classes(xte, yte, classes)
    return data, (xtr, ytr), (xte, yte)


def _n_classes(data_dir, ytr, yte) -> int:
    """The number of classes, checked before any training, with label errors naming the
    labels file (a stray test label was blamed on the training labels, with no file: a
    checking helper, session 43)."""
    from snpcnn.images import _check_labels, _label_names, n_classes_of

    train_what, test_what = _label_names(data_dir)
    return n_classes_of(
        _check_labels(ytr, train_what),
        _check_labels(yte, test_what),
        train_what=train_what,
        test_what=test_what,
    )


def _finite(ctx, param, value):
    import math

    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number")
    return value


def _common(f):
    """Options shared by ``fit`` and ``transfer``."""
    options = [
        click.option(
            "--data",
            type=click.Path(file_okay=False),
            default=None,
            help="Folder with the four MNIST-style IDX files [default: ../shared/data/mnist].",
        ),
        click.option(
            "--classes",
            default=None,
            help="Use only these classes, relabelled 0..k-1 (e.g. 0-4 or 5,6,7,8,9).",
        ),
        click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True),
        click.option("--batch-size", type=click.IntRange(min=1), default=128, show_default=True),
        click.option(
            "--learning-rate",
            type=click.FloatRange(min=0, min_open=True),
            # finite: nan and inf passed click's range and failed inside Keras (session 43)
            callback=_finite,
            default=1e-3,
            show_default=True,
        ),
        click.option(
            "--seed",
            type=click.IntRange(0),
            default=0,
            show_default=True,
            help="Seed (deterministic on CPU).",
        ),
        click.option("--xla", is_flag=True, help="Compile the train step with XLA (jit_compile)."),
        click.option(
            "--out",
            type=click.Path(file_okay=False),
            default=None,
            help="Write model.keras and metrics.json into this folder.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@click.group("images")
def images() -> None:
    """Images: MNIST parity for the model zoo, augmentation, transfer learning."""


def _tensorflow_only(command):
    """Stop ``command`` with one line where this process cannot run TensorFlow (under JAX
    it stopped inside TensorFlow's import, or ran regardless: a checking helper, session
    42).  Checked in the command's body, after Click has handled its --help."""

    @functools.wraps(command)
    def checked(*args, **kwargs):
        from snpcnn._tf import tensorflow_only

        why = tensorflow_only("snpcnn images")
        if why:
            raise InputError(why)
        return command(*args, **kwargs)

    return checked


@images.command("fit")
@click.option("--arch", default="lenet5", show_default=True, help="Model preset or TOML spec file.")
@_common
@click.option(
    "--lr-schedule",
    type=click.Choice(["constant", "cosine"]),
    default="constant",
    show_default=True,
    help="cosine: decay to 1% of --learning-rate over all steps.",
)
@click.option(
    "--augment",
    default=None,
    help="Training-only augmentation, e.g. rotation=10,shift=0.1,zoom=0.1,shear=0.1,flip,fill=reflect.",
)
@click.option(
    "--validation-split",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.0,
    show_default=True,
    help="Fraction of the training images held out to monitor (never the test set).",
)
@click.option(
    "--image-size",
    type=click.IntRange(min=1),
    default=None,
    help="Resize images to N x N first (e.g. 32 for the original LeNet-5 input).",
)
@click.option(
    "--mixed-precision",
    is_flag=True,
    help="mixed_float16 with a float32 output layer (GPU only; float32 kept on CPU).",
)
@force_option
@verbose_option
@_tensorflow_only
def fit_cmd(
    arch,
    data,
    classes,
    epochs,
    batch_size,
    learning_rate,
    seed,
    xla,
    out,
    lr_schedule,
    augment,
    validation_split,
    image_size,
    mixed_precision,
    force,
):
    """Train a model on MNIST-style images and print its test accuracy and speed."""
    from snpcnn.images import check_outputs, fit_images, parse_augment

    if out is not None:
        check_outputs(out, ("model.keras", "metrics.json"), force=force)
    aug = parse_augment(augment) or None
    arch_arg = _arch(arch)
    data_dir, train, test = _load_data(data, _parse_classes(classes))
    _n_classes(data_dir, train[1], test[1])
    result = fit_images(
        arch_arg,
        (train, test),
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        lr_schedule=lr_schedule,
        augment=aug,
        validation_split=validation_split,
        seed=seed,
        mixed_precision=mixed_precision,
        jit_compile=xla,
        image_size=image_size,
    )
    result.config["data"] = data_dir
    result.config["classes"] = _parse_classes(classes)
    click.echo(f"arch: {arch}  data: {data_dir}")
    click.echo(
        f"train/val/test images: {result.n_train:,}/{result.n_val:,}/{result.n_test:,}  "
        f"epochs: {result.epochs}"
    )
    click.echo(f"test accuracy: {result.test_accuracy:.4f}  (fraction of test images correct)")
    click.echo(f"wall time: {result.wall_time_s:.1f} s  (training {result.train_time_s:.1f} s)")
    click.echo(
        f"training throughput: {result.samples_per_s:,.0f} samples/s  "
        f"(steady state {result.samples_per_s_steady:,.0f})"
    )
    if out is not None:
        paths = result.save(out, force=force)
        click.echo(f"wrote {paths['model']} and {paths['metrics']}")


def _arch(arch: str):
    """A preset name, or the contents of a TOML spec file."""
    if arch.endswith(".toml"):
        path = Path(arch)
        if not path.is_file():
            raise InputError(f"{path}: no such TOML model spec; check --arch")
        import tomllib

        try:
            return tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path}: invalid TOML ({exc})") from None
    return arch


@images.command("transfer")
@click.option(
    "--base",
    "base_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="A trained model (model.keras from `images fit --out`) whose conv base is reused.",
)
@click.option(
    "--application",
    type=click.Choice(
        ["VGG16", "VGG19", "ResNet50", "MobileNet", "Xception", "InceptionV3"], case_sensitive=False
    ),
    default=None,
    help="Use a Keras application with ImageNet weights instead of --base.",
)
@click.option(
    "--weights",
    type=click.Path(),
    default=None,
    help="Local ImageNet weights file (or its folder) for --application [default: ~/.keras/models/].",
)
@click.option(
    "--alpha", type=float, default=1.0, show_default=True, help="MobileNet width multiplier."
)
@click.option(
    "--size",
    type=click.IntRange(min=8),
    default=32,
    show_default=True,
    help="Image size for --application.",
)
@_common
@click.option(
    "--mode",
    type=click.Choice(["features", "finetune"]),
    default="finetune",
    show_default=True,
    help="features: run the base once, fit a dense head on its outputs; finetune: new head on the frozen base, then --unfreeze.",
)
@click.option(
    "--unfreeze",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Weighted base layers to unfreeze after the head is trained.",
)
@click.option("--fine-tune-epochs", type=click.IntRange(min=0), default=0, show_default=True)
@click.option(
    "--fine-tune-learning-rate",
    type=click.FloatRange(min=0, min_open=True),
    default=1e-5,
    show_default=True,
)
@force_option
@verbose_option
@_tensorflow_only
def transfer_cmd(
    base_path,
    application,
    weights,
    alpha,
    size,
    data,
    classes,
    epochs,
    batch_size,
    learning_rate,
    seed,
    xla,
    out,
    mode,
    unfreeze,
    fine_tune_epochs,
    fine_tune_learning_rate,
    force,
):
    """Transfer a trained base (or an ImageNet application) to new image classes."""
    import numpy as np

    from snpcnn.images import _bytes_writer, check_outputs, prepare_images, write_outputs
    from snpcnn.transfer import (
        application_preprocess,
        conv_base,
        extract_features,
        fine_tune,
        fit_on_features,
        load_application,
    )

    if (base_path is None) == (application is None):
        raise click.UsageError("give exactly one of --base MODEL.keras or --application NAME")
    # options that would not run: refused, not recorded in metrics.json as if they had
    if mode == "features" and (unfreeze or fine_tune_epochs):
        raise click.UsageError(
            "--unfreeze/--fine-tune-epochs fine-tune the base, which --mode features never "
            "trains (it fits a head on the base's outputs): use --mode finetune, or drop them"
        )
    if bool(unfreeze) != bool(fine_tune_epochs):
        raise click.UsageError(
            "fine-tuning needs both --unfreeze N (the base layers to train) and "
            "--fine-tune-epochs E; give both, or neither"
        )
    names = ("model.keras", "metrics.json")
    if mode == "features":
        names = (*names, "features_train.npy", "features_test.npy")
    if out is not None:
        check_outputs(out, names, force=force)
    data_dir, (xtr, ytr), (xte, yte) = _load_data(data, _parse_classes(classes))
    t0 = time.perf_counter()
    if application is not None:
        kwargs = {"alpha": alpha} if application.lower() == "mobilenet" else {}
        base = load_application(application, weights, input_shape=(size, size, 3), **kwargs)
        xtr_p = application_preprocess(
            application, prepare_images(xtr, size=(size, size), channels=3) * 255.0
        )
        xte_p = application_preprocess(
            application, prepare_images(xte, size=(size, size), channels=3) * 255.0
        )
        source = f"{base.name} with weights {weights or '~/.keras/models/'}"
    else:
        base = conv_base(base_path)
        if len(base.inputs[0].shape) != 4:  # (batch, height, width, channels)
            raise InputError(
                f"{base_path}: the base takes input of shape {tuple(base.inputs[0].shape[1:])}, "
                "not images; pass a model trained with `snpcnn images fit`"
            )
        size = tuple(base.inputs[0].shape[1:3])  # resize to what the base was trained on
        xtr_p, xte_p = prepare_images(xtr, size=size), prepare_images(xte, size=size)
        source = str(base_path)
    n_classes = _n_classes(data_dir, ytr, yte)
    metrics = {
        "mode": mode,
        "base": source,
        "data": data_dir,
        "classes": _parse_classes(classes),
        "n_train": len(ytr),
        "n_test": len(yte),
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "seed": seed,
        "jit_compile": xla,
        "written_by": "snpcnn images transfer",  # how other commands know the folder
    }
    if mode == "features":
        ftr = extract_features(base, xtr_p, batch_size=max(batch_size, 256))
        fte = extract_features(base, xte_p, batch_size=max(batch_size, 256))
        model = fit_on_features(
            ftr,
            ytr,
            "dense",
            head="multiclass",
            n_outputs=n_classes,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            seed=seed,
            jit_compile=xla,  # --xla was recorded but never reached the head (session 43)
        )
        proba = model.predict(fte.reshape(len(fte), -1), verbose=0)
        metrics["feature_shape"] = list(ftr.shape[1:])
    else:
        model, history = fine_tune(
            base,
            xtr_p,
            ytr,
            head="multiclass",
            n_outputs=n_classes,
            epochs=epochs,
            learning_rate=learning_rate,
            unfreeze=unfreeze,
            fine_tune_epochs=fine_tune_epochs,
            fine_tune_learning_rate=fine_tune_learning_rate,
            batch_size=batch_size,
            seed=seed,
            jit_compile=xla,
        )
        proba = model.predict(xte_p, verbose=0)
        metrics.update(
            unfreeze=unfreeze,
            # what really trained: `unfreeze: 2` was recorded where BatchNormalization
            # layers took the count and nothing was unfrozen (a checking helper, session 43)
            unfrozen_layers=[
                lyr.name for lyr in model.get_layer("base").layers if lyr.trainable_weights
            ],
            fine_tune_epochs=fine_tune_epochs,
            fine_tune_learning_rate=fine_tune_learning_rate,
            history=history,
        )
    # the XLA actually used (the features head or the fine-tuned model)
    metrics["jit_compile_effective"] = bool(getattr(model, "jit_compile", False))
    acc = float(np.mean(np.argmax(proba, axis=1) == yte))
    metrics["test_accuracy"] = acc
    metrics["test_accuracy_statistic"] = "fraction of test images with argmax(prediction) == label"
    metrics["wall_time_s"] = time.perf_counter() - t0
    click.echo(f"base: {source}  mode: {mode}")
    click.echo(f"test accuracy: {acc:.4f}  ({len(yte):,} test images)")
    click.echo(f"wall time: {metrics['wall_time_s']:.1f} s")
    if out is not None:
        text = json.dumps(metrics, indent=2, sort_keys=True, default=str) + "\n"
        writers = {"model.keras": model.save, "metrics.json": _bytes_writer(text.encode())}
        if mode == "features":
            for name, arr in (("features_train.npy", ftr), ("features_test.npy", fte)):
                writers[name] = lambda path, arr=arr: np.save(path, arr)  # path ends .npy
        paths = write_outputs(out, writers, force=force)
        click.echo(f"wrote {', '.join(str(paths[n]) for n in names)}")
        if mode == "finetune" and force:
            # --force over a features run left its features_*.npy beside the new
            # model.keras, as if they belonged to it (a checking helper, session 43); only
            # the files this command writes, by name, once the new ones are in place
            for name in ("features_train.npy", "features_test.npy"):
                stale = Path(out) / name
                if stale.is_file():
                    stale.unlink()
                    click.echo(f"removed {stale} (from an earlier --mode features run)")


COMMANDS = [images]
