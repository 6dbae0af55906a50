"""``snpcnn models``: every shipped preset listed; one printed in full; unknown ones refused."""

from click.testing import CliRunner

from snpcnn.cli import main
from snpcnn.models import list_presets


def test_models_lists_every_preset_with_its_description():
    r = CliRunner().invoke(main, ["models"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    for name in list_presets():
        assert any(line.startswith(name + " ") for line in lines), name
    assert "snpcnn_default_v2" in r.output and "screened windows" in r.output


def test_models_prints_one_preset_in_full():
    r = CliRunner().invoke(main, ["models", "snpcnn_default", "--snps", "500"])
    assert r.exit_code == 0, r.output
    assert "[screen] windows = 32, width = 5" in r.output
    assert "WindowGather" in r.output and "params:" in r.output
    assert "conv_folds = 5" in r.output


def test_models_refuses_an_unknown_preset_in_one_line():
    r = CliRunner().invoke(main, ["models", "resnet9000"])
    assert r.exit_code != 0
    err = [line for line in r.output.splitlines() if line.startswith("Error:")]
    assert len(err) == 1 and "snpcnn_default" in err[0]


def test_models_shows_an_architecture_file_and_bounds_snps(tmp_path, tiny_toml):
    f = tmp_path / "my_arch.toml"
    f.write_text(tiny_toml)
    r = CliRunner().invoke(main, ["models", str(f), "--snps", "100"])
    assert r.exit_code == 0, r.output
    assert "conv" in r.output.lower() and "params" in r.output
    r = CliRunner().invoke(main, ["models", "deepgs", "--snps", "100000000"])
    assert r.exit_code == 2 and "Traceback" not in r.output


def _one_error_line(r):
    assert r.exit_code != 0 and "Traceback" not in r.output, r.output
    err = [line for line in r.output.splitlines() if line.startswith("Error:")]
    assert len(err) == 1, r.output
    return err[0]


def test_models_prints_the_training_table_of_a_file():
    r = CliRunner().invoke(
        main, ["models", "benchmarks/configs/deepgs_gpbench_arch.toml", "--snps", "200"]
    )
    assert r.exit_code == 0, r.output
    assert "[training] optimizer = sgd, momentum = 0.5, loss = mae" in r.output


def test_models_refuses_a_misspelt_triple_stage_model(tmp_path):
    # fit rejected it only after loading the genotypes
    text = (
        'name = "ts"\n[linear]\nl2 = 1e-3\n[screen]\nwindows = 4\nwidth = 3\n'
        '[triple_stage]\nmodel = "snpcnn_tripels_lead"\n[[blocks]]\ntype = "conv"\n'
        'filters = 2\nkernel_size = 3\nstrides = 3\n[[blocks]]\ntype = "flatten"\n'
    )
    (tmp_path / "ts.toml").write_text(text)
    err = _one_error_line(CliRunner().invoke(main, ["models", str(tmp_path / "ts.toml")]))
    assert "ts.toml" in err and "'snpcnn_tripels_lead' is not a preset" in err
    assert "did you mean 'snpcnn_triples_lead'" in err
    (tmp_path / "ok.toml").write_text(text.replace("tripels", "triples"))
    r = CliRunner().invoke(main, ["models", str(tmp_path / "ok.toml"), "--snps", "100"])
    assert r.exit_code == 0 and "[triple_stage] model = snpcnn_triples_lead" in r.output


def test_models_fails_where_the_architecture_cannot_be_built_and_notes_a_short_input(tmp_path):
    # a layer-name clash that only the built model shows: an error, exit code non-zero (was a
    # note and exit code 0)
    (tmp_path / "clash.toml").write_text(
        'name = "clash"\n[[blocks]]\ntype = "vgg"\nname = "a"\nfilters = 2\n'
        '[[blocks]]\ntype = "conv"\nname = "a_1"\nfilters = 2\nkernel_size = 3\n'
        '[[blocks]]\ntype = "flatten"\n'
    )
    err = _one_error_line(CliRunner().invoke(main, ["models", str(tmp_path / "clash.toml")]))
    assert "two layers are called 'a_1_conv'" in err and "rename one of the blocks" in err
    # a window longer than --snps: a note naming the cause, exit code 0
    (tmp_path / "long.toml").write_text(
        'name = "long"\n[[blocks]]\ntype = "conv"\nfilters = 2\nkernel_size = 500\n'
        'padding = "valid"\n[[blocks]]\ntype = "flatten"\n'
    )
    r = CliRunner().invoke(main, ["models", str(tmp_path / "long.toml"), "--snps", "100"])
    assert r.exit_code == 0, r.output
    assert "(cannot be built on 100 SNPs x 1 channel:" in r.output
    assert "smaller than the window (500,)" in r.output and "larger --snps" in r.output
    r = CliRunner().invoke(main, ["models", str(tmp_path / "long.toml"), "--snps", "1000"])
    assert r.exit_code == 0 and "params:" in r.output
