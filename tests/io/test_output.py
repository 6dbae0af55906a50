def test_a_short_write_is_called_a_full_disk():
    """numpy's tofile on a full disk raises OSError without errno ("N requested and M
    written"): convert told the user to pick a folder they can write to."""
    from snpcnn.io.output import _fix, _reason

    exc = OSError("18767644 requested and 10239872 written")
    assert _reason(exc).startswith("the disk, a quota or a file-size limit is full")
    assert _fix(exc, "--out") == "free some space or choose another --out"
    assert _fix(OSError("other"), "--out").endswith("in a folder you can write to")
