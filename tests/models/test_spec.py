"""Architectures as data: dicts, TOML/JSON files, validation errors, defaults, overrides."""

from __future__ import annotations

import inspect
import json

import pytest

from snpcnn.errors import InputError
from snpcnn.models import blocks as B
from snpcnn.models import build_model, count_params, load_architecture
from snpcnn.models.spec import BLOCK_SCHEMA, REQUIRED, apply_overrides, resolve_blocks

SPEC = {
    "name": "my_net",
    "blocks": [
        {"type": "conv", "filters": 16, "kernel_size": 3, "strides": 3},
        {"type": "maxpool", "pool_size": 2},
        {"type": "flatten"},
        {"type": "dense", "units": 32, "dropout": 0.3},
    ],
}

TOML = """
name = "my_net"
description = "written without Python"

[[blocks]]
type = "conv"
filters = 16
kernel_size = 3
strides = 3

[[blocks]]
type = "maxpool"
pool_size = 2

[[blocks]]
type = "flatten"

[[blocks]]
type = "dense"
units = 32
dropout = 0.3
"""


def test_dict_spec_builds_and_names_layers():
    model = build_model(SPEC, (60, 1))
    names = [layer.name for layer in model.layers]
    assert names[:5] == ["input", "b1_conv", "b1_act", "b2_maxpool", "b3_flatten"]
    assert "b4_dropout" in names and names[-1] == "output"
    # 60 -> conv k=s=3 'same' -> 20 -> pool 2 -> 10 x 16 = 160 -> dense 32 -> 1
    assert count_params(model)["total"] == (3 * 16 + 16) + (160 * 32 + 32) + 33


def test_toml_and_json_give_the_same_model(tmp_path):
    toml = tmp_path / "my_net.toml"
    toml.write_text(TOML)
    js = tmp_path / "my_net.json"
    js.write_text(json.dumps(SPEC))
    a = load_architecture(toml)
    assert a["description"] == "written without Python"
    assert a["blocks"] == load_architecture(js)["blocks"] == load_architecture(SPEC)["blocks"]
    assert count_params(build_model(str(toml), (60, 1))) == count_params(build_model(SPEC, (60, 1)))


def test_defaults_and_precedence():
    spec = {
        "name": "d",
        "defaults": {"activation": "elu", "l2": 1e-3},
        "blocks": [
            {"type": "conv", "filters": 2, "kernel_size": 3},
            {"type": "conv", "filters": 2, "kernel_size": 3, "activation": "tanh"},
            {"type": "flatten"},
        ],
    }
    blocks = resolve_blocks(load_architecture(spec))
    assert [b["activation"] for b in blocks[:2]] == ["elu", "tanh"]
    assert blocks[0]["l2"] == 1e-3 and blocks[0]["padding"] == "same"
    # overrides win over both
    forced = resolve_blocks(apply_overrides(load_architecture(spec), activation="relu"))
    assert [b["activation"] for b in forced[:2]] == ["relu", "relu"]


def test_repeat_expands_with_unique_names():
    spec = {
        "name": "r",
        "blocks": [
            {"type": "conv", "filters": 4, "kernel_size": 3, "repeat": 3, "name": "stage"},
            {"type": "maxpool", "repeat": 2},
            {"type": "global_avgpool"},
        ],
    }
    blocks = resolve_blocks(load_architecture(spec))
    assert [b["name"] for b in blocks] == [
        "stage_1",
        "stage_2",
        "stage_3",
        "b4_maxpool",
        "b5_maxpool",
        "b6_global_avgpool",
    ]
    model = build_model(spec, (32, 32, 1))
    assert model.get_layer("stage_3_conv").output.shape[1:] == (32, 32, 4)
    assert model.get_layer("b5_maxpool").output.shape[1:] == (8, 8, 4)


BAD = [
    ({"blocks": []}, "architecture `name`"),
    ({"name": "x", "blocks": []}, "`blocks` must be a non-empty list"),
    (
        {"name": "x", "blocks": [{"type": "conv"}]},
        r"blocks\[0\] \(type 'conv'\): missing required key\(s\) `filters`, `kernel_size`",
    ),
    (
        {"name": "x", "blocks": [{"type": "convolution"}]},
        r"blocks\[0\]: invalid `type`='convolution'; valid types: conv, separable_conv",
    ),
    ({"name": "x", "blocks": ["conv"]}, r"blocks\[0\]: expected a table/dict"),
    (
        {"name": "x", "blocks": [{"type": "flatten"}, {"type": "dense", "units": 0}]},
        r"architecture 'x', blocks\[1\] \(type 'dense'\): Invalid value for argument `units`. Expected a strictly positive integer. Received units=0.",
    ),
    (
        {
            "name": "x",
            "blocks": [{"type": "conv", "filters": 4, "kernel_size": 3, "padding": "full"}],
        },
        r"blocks\[0\] \(type 'conv'\): .*Expected one of 'valid', 'same'. Received padding='full'",
    ),
    (
        {"name": "x", "blocks": [{"type": "conv", "filters": 4, "kernel_size": 3, "stride": 2}]},
        r"unknown key `stride` \(value 2\); valid keys for 'conv': name, repeat, filters, kernel_size, strides",
    ),
    (
        {"name": "x", "blocks": [{"type": "dropout", "rate": 1.5}]},
        r"blocks\[0\] \(type 'dropout'\): .*Received rate=1.5",
    ),
    (
        {"name": "x", "blocks": [{"type": "dense", "units": 3, "activation": "rleu"}]},
        r"Expected one of 'relu'.*Received activation='rleu'",
    ),
    (
        {"name": "x", "blocks": [{"type": "flatten", "name": "output"}]},
        "name other than input, output",
    ),
    (
        {
            "name": "x",
            "blocks": [{"type": "flatten", "name": "a"}, {"type": "flatten", "name": "a"}],
        },
        r"blocks\[1\].*already used by blocks\[0\]",
    ),
    ({"name": "x", "blokcs": []}, "unknown top-level key `blokcs`"),
    (
        {"name": "x", "defaults": {"filter": 3}, "blocks": [{"type": "flatten"}]},
        "unknown key `filter` in `defaults`",
    ),
    (
        {"name": "x", "defaults": {"l2": -1}, "blocks": [{"type": "dense", "units": 2}]},
        r"`defaults` \(for the 'dense' blocks\): .*Received l2=-1",
    ),
    (
        {"name": "x", "blocks": [{"type": "conv", "filters": 4, "kernel_size": []}]},
        r"Received kernel_size=\[\]",
    ),
    (
        {"name": "x", "blocks": [{"type": "conv", "filters": 4, "kernel_size": 3, "repeat": 0}]},
        "Received repeat=0",
    ),
]


@pytest.mark.parametrize("spec, match", BAD)
def test_bad_specs_fail_with_one_clear_line(spec, match):
    with pytest.raises(InputError, match=match) as err:
        load_architecture(spec)
    assert "\n" not in str(err.value)


BAD_AT_BUILD = [
    (
        [{"type": "conv", "filters": 4, "kernel_size": [1, 3]}, {"type": "flatten"}],
        r"blocks\[0\] \(type 'conv'\), input shape \(16, 1\): .*Received kernel_size=\(1, 3\)",
    ),
    (
        [
            {"type": "conv", "filters": 4, "kernel_size": 40, "padding": "valid"},
            {"type": "flatten"},
        ],
        r"blocks\[0\].*smaller than the window",
    ),
    ([{"type": "dense", "units": 4}], r"blocks\[0\] \(type 'dense'\): receives a feature map"),
    (
        [{"type": "flatten"}, {"type": "conv", "filters": 2, "kernel_size": 3}],
        r"blocks\[1\].*needs a spatial feature map",
    ),
    ([{"type": "conv", "filters": 2, "kernel_size": 3}], "ends with a feature map of shape"),
    ([{"type": "separable_conv", "filters": 2, "kernel_size": 3}, {"type": "flatten"}], None),
]


@pytest.mark.parametrize("blocks, match", BAD_AT_BUILD)
def test_build_errors_name_the_block(blocks, match):
    spec = {"name": "x", "blocks": blocks}
    if match is None:  # the separable block is fine at rank 1 but not at rank 3
        build_model(spec, (16, 1))
        with pytest.raises(InputError, match=r"blocks\[0\].*exist only at rank 1, 2"):
            build_model(spec, (4, 4, 4, 1))
        return
    with pytest.raises(InputError, match=match):
        build_model(spec, (16, 1))


def test_file_errors(tmp_path):
    with pytest.raises(InputError, match="no such architecture file"):
        load_architecture(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[[blocks]\n')
    with pytest.raises(InputError, match=r"bad.toml: not valid TOML \("):
        load_architecture(bad)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('name = "x"\n[[blocks]]\ntype = "conv"\nfilters = 4\n')
    with pytest.raises(
        InputError, match=r"wrong.toml: architecture 'x', blocks\[0\].*`kernel_size`"
    ):
        load_architecture(wrong)
    with pytest.raises(InputError, match="unknown architecture 'resnet'"):
        load_architecture("resnet")
    with pytest.raises(InputError, match="Received input_shape=\\(16,\\)"):
        build_model(SPEC, (16,))


def test_overrides_on_dicts_and_errors():
    spec = load_architecture(SPEC, l2=1e-2)
    assert spec["blocks"][0]["l2"] == 1e-2 and spec["blocks"][3]["l2"] == 1e-2
    with pytest.raises(InputError, match="unknown override `growth_rate`"):
        load_architecture(SPEC, growth_rate=3)
    with pytest.raises(InputError, match="Received dropout=2"):
        load_architecture(SPEC, dropout=2)


def test_schema_defaults_match_block_functions():
    functions = {
        "conv": B.apply_conv,
        "separable_conv": B.apply_separable_conv,
        "maxpool": B.apply_pool,
        "dense": B.apply_dense,
        "vgg": B.apply_vgg_block,
        "inception": B.apply_inception_block,
        "residual": B.apply_residual_block,
        "dense_block": B.apply_dense_block,
        "transition": B.apply_transition,
        "squeeze_excite": B.apply_squeeze_excite,
        "head": B.apply_head_stem,
    }
    for btype, fn in functions.items():
        params = inspect.signature(fn).parameters
        for key, (_, default) in BLOCK_SCHEMA[btype].items():
            assert key in params, (btype, key)
            if default is REQUIRED:
                assert params[key].default is inspect.Parameter.empty, (btype, key)
            else:
                assert params[key].default == default, (btype, key)


def test_screen_without_linear_is_refused(tmp_path):
    # the screen picks its windows from the linear start's residuals (snpcnn.training); without
    # a `linear` table it was silently ignored (evenly spaced windows)
    f = tmp_path / "scr.toml"
    f.write_text(
        'name = "scr"\n[screen]\nwindows = 8\nwidth = 5\n[[blocks]]\ntype = "conv"\n'
        'filters = 4\nkernel_size = 5\nstrides = 5\n[[blocks]]\ntype = "flatten"\n'
    )
    with pytest.raises(InputError, match=r"scr.toml: architecture 'scr': `screen`.*`linear`") as e:
        load_architecture(f)
    assert "\n" not in str(e.value)
    lin = tmp_path / "lin.toml"
    lin.write_text(f.read_text().replace("[screen]", "[linear]\nl2 = 1e-3\n[screen]", 1))
    assert load_architecture(lin)["screen"]["windows"] == 8


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_a_file_that_is_not_utf8_is_named_so(tmp_path, suffix):
    f = tmp_path / f"utf16{suffix}"
    f.write_bytes(b"\xff\xfe" + 'name = "x"\n'.encode("utf-16-le"))
    with pytest.raises(InputError, match=rf"utf16{suffix}: not UTF-8 text .*must be UTF-8") as e:
        load_architecture(f)
    assert "\n" not in str(e.value) and "JSON (" not in str(e.value)


def _conv(**kw):
    return {"type": "conv", "filters": 2, "kernel_size": 3, **kw}


NAME_CLASHES = [
    # a repeated block's copies (c_1, c_2) against a block named c_1
    (
        {"blocks": [_conv(name="c", repeat=2), _conv(name="c_1"), {"type": "flatten"}]},
        r"blocks\[1\] \(type 'conv'\), named 'c_1': that name is already used by blocks\[0\].*"
        r"repeat 1 of 'c'.*rename one of the blocks",
    ),
    # a block named like the default name of an unnamed block (b2)
    (
        {"blocks": [_conv(name="b2"), _conv(), {"type": "flatten"}]},
        r"blocks\[1\].*named 'b2' by default.*already used by blocks\[0\]",
    ),
    # the wide path's layers
    (
        {"linear": {}, "blocks": [_conv(), {"type": "flatten", "name": "wide_concat"}]},
        r"named 'wide_concat': that name is also a layer of the `linear` \(wide\) path",
    ),
    (
        {"linear": {}, "blocks": [_conv(), {"type": "flatten", "name": "linear_flatten"}]},
        "named 'linear_flatten': that name is also a layer of the `linear`",
    ),
    # only a built model shows this one: a vgg block `a` makes a_1_conv, as does a conv `a_1`
    (
        {
            "blocks": [
                {"type": "vgg", "name": "a", "filters": 2},
                _conv(name="a_1"),
                {"type": "flatten"},
            ]
        },
        r"two layers are called 'a_1_conv' \(made by blocks\[0\] \(type 'vgg'.*blocks\[1\]",
    ),
]


@pytest.mark.parametrize("spec, match", NAME_CLASHES)
def test_layer_name_clashes_are_one_line_errors_naming_the_file(tmp_path, spec, match):
    # these were Keras ValueErrors ("The name "c_1_conv" is used 2 times in the model"), which
    # the CLI reported as an internal error
    f = tmp_path / "clash.json"
    f.write_text(json.dumps({"name": "clash", **spec}))
    with pytest.raises(InputError, match=match) as e:
        build_model(f, (40, 1))
    msg = str(e.value)
    assert msg.startswith(f"{f}: architecture 'clash'") and "\n" not in msg


HEADED = {
    "name": "headed",
    "blocks": [{"type": "conv", "filters": 2, "kernel_size": 3}, {"type": "head"}],
}


def test_defaults_and_overrides_are_checked_per_block_type_that_takes_them():
    # a head's units is a list; it was checked as a dense block's (the first type with `units`)
    spec = load_architecture({**HEADED, "defaults": {"units": [16]}})
    assert resolve_blocks(spec)[1]["units"] == (16,)
    model = build_model(HEADED, (30, 1), units=[16, 8])
    fc = [layer for layer in model.layers if layer.name.startswith("b2_fc")]
    assert [layer.units for layer in fc if hasattr(layer, "units")] == [16, 8]
    # with a dense block too, an int suits both (the head takes it as a one-layer list)...
    both = {**HEADED, "blocks": [{"type": "dense", "units": 4}, {"type": "head"}]}
    resolved = resolve_blocks(load_architecture({**both, "defaults": {"units": 8}}))
    assert (resolved[0]["units"], resolved[1]["units"]) == (4, (8,))
    # ...a list does not, and the error names the block type
    with pytest.raises(InputError, match=r"`defaults` \(for the 'dense' blocks\).*units=\[16\]"):
        load_architecture({**both, "defaults": {"units": [16]}})
    with pytest.raises(InputError, match=r"'dense' blocks.*units=\[16, 8\]"):
        load_architecture(both, units=[16, 8])


def test_a_defaults_key_that_no_block_takes_is_an_error():
    # dropout blocks read `rate`: `dropout = 0.5` in [defaults] was silently ignored
    spec = {
        "name": "x",
        "defaults": {"dropout": 0.5},
        "blocks": [
            {"type": "conv", "filters": 2, "kernel_size": 3},
            {"type": "flatten"},
            {"type": "dropout", "rate": 0.1},
        ],
    }
    with pytest.raises(
        InputError,
        match=r"`defaults` key `dropout` is taken by no block.*"
        r"use a key its blocks take: .*rate",
    ) as e:
        load_architecture(spec)
    assert "\n" not in str(e.value) and str(e.value).startswith("architecture 'x': ")
    assert load_architecture({**spec, "defaults": {"rate": 0.5}})["blocks"][2]["rate"] == 0.1


@pytest.mark.parametrize(
    "block, match",
    [
        ({"type": "conv", "filters": 10**12, "kernel_size": 3}, r"up to 65,536 .*filters=10+\."),
        ({"type": "conv", "filters": 2, "kernel_size": 3, "repeat": 10**6}, r"up to 1,000 .*"),
        ({"type": "head", "units": [8, 70_000]}, r"up to 65,536 units.*units=\[8, 70000\]"),
        ({"type": "vgg", "filters": 2, "n_convs": 5000}, r"up to 1,000 .*n_convs=5000"),
        ({"type": "dense_block", "n_layers": 2, "growth_rate": 10**6}, "growth_rate=1000000"),
    ],
)
def test_sizes_have_documented_upper_bounds(block, match):
    # filters = 1e12 ran out of memory inside TensorFlow (an internal error); repeat = 1e6 hung
    with pytest.raises(InputError, match=match) as e:
        load_architecture({"name": "big", "blocks": [block, {"type": "flatten"}]})
    assert "\n" not in str(e.value)
    # the largest accepted values are far above any preset's (4,096 units, 512 filters)
    load_architecture(
        {
            "name": "ok",
            "blocks": [
                {"type": "conv", "filters": 65_536, "kernel_size": 1, "repeat": 1000},
                {"type": "flatten"},
            ],
        }
    )


def test_a_model_too_large_for_memory_is_a_one_line_error_naming_the_allocation():
    # 10^9 x 2 x 65,536 float32 weights (a 512 TB kernel) cannot be allocated anywhere
    spec = {
        "name": "huge",
        "blocks": [{"type": "conv", "filters": 65_536, "kernel_size": 10**9}, {"type": "flatten"}],
    }
    with pytest.raises(
        InputError,
        match=r"architecture 'huge', blocks\[0\] \(type 'conv'\), "
        r"input shape \(10, 2\): out of memory allocating its weights "
        r"\(a weight tensor of 131,072,000,000,000 values",
    ) as e:
        build_model(spec, (10, 2))
    assert "\n" not in str(e.value)


def test_a_window_too_long_for_the_data_names_the_architecture_file(tmp_path):
    # found only once the genotypes are loaded (fit), so the message must say which file
    f = tmp_path / "long.toml"
    f.write_text(
        'name = "v"\n[[blocks]]\ntype = "conv"\nfilters = 4\nkernel_size = 5000\n'
        'padding = "valid"\n[[blocks]]\ntype = "flatten"\n'
    )
    with pytest.raises(
        InputError,
        match=r"long.toml: architecture 'v', blocks\[0\].*"
        r"smaller than the window \(5000,\)",
    ) as e:
        build_model(str(f), (1279, 1))
    assert str(e.value).startswith(f"{f}: ")
