"""The CNN's row name says what the model is (issue 16): a network whose linear SNP path starts
at a fitted model (RR-BLUP or the CNN-GP) that convolutions correct is a 'CNN hybrid'."""

from snpcnn.cv import CNN_NAME, HYBRID_NAME, cnn_label, cnn_row


def test_started_models_are_hybrids_and_whole_networks_are_cnns():
    assert cnn_label("snpcnn_default", "ridge_loo", "regression") == HYBRID_NAME
    assert cnn_label("snpcnn_default_v4", "ridge", "regression") == HYBRID_NAME
    # trained from zero as a whole, a binary trait (no ridge start), or no linear path
    assert cnn_label("snpcnn_default", "zeros", "regression") == CNN_NAME
    assert cnn_label("snpcnn_default", "ridge_loo", "binary") == CNN_NAME
    assert cnn_label("deepgs", "ridge_loo", "regression") == CNN_NAME


def test_cnn_row_finds_either_name():
    assert cnn_row(["GBLUP", HYBRID_NAME, "ridge"]) == HYBRID_NAME
    assert cnn_row({CNN_NAME: 1, "GBLUP": 2}) == CNN_NAME
    assert cnn_row(["GBLUP", "CNN+GBLUP"]) is None
