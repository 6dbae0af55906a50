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
