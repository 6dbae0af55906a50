def test_a_short_write_is_called_a_full_disk():
    """numpy's tofile on a full disk raises OSError without errno ("N requested and M
    written"): convert told the user to pick a folder they can write to."""
    from snpcnn.io.output import _fix, _reason

    exc = OSError("18767644 requested and 10239872 written")
    assert _reason(exc).startswith("a short write, the disk or a quota full or a size limit")
    assert _fix(exc, "--out") == "free some space or choose another --out"
    assert _fix(OSError("other"), "--out").endswith("in a folder you can write to")


def test_a_dangling_output_link_is_refused_and_a_pipe_is_not_hashed(tmp_path):
    import os

    import pytest

    from snpcnn.errors import InputError
    from snpcnn.report import file_checksum, resolve_link

    real = tmp_path / "disk" / "res"
    (tmp_path / "disk").mkdir()
    link = tmp_path / "res"
    link.symlink_to(real)
    assert resolve_link(link) == real.resolve()  # the results go where it points
    gone = tmp_path / "gone"
    gone.symlink_to(tmp_path / "nowhere" / "deep" / "res")
    with pytest.raises(InputError, match="does not exist; create it"):
        resolve_link(gone)
    assert not (tmp_path / "nowhere").exists()
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # reading it would block: run.json must not try
    assert file_checksum(fifo) == {"not_hashed": "not a regular file (a pipe or a device)"}


def test_deferred_holds_sigterm_until_the_block_ends():
    import os
    import signal

    import pytest

    from snpcnn import _signals

    restore = _signals.install()
    try:
        steps = []
        with pytest.raises(_signals.Terminated):
            with _signals.deferred():
                os.kill(os.getpid(), signal.SIGTERM)
                steps.append("both renames done")
            steps.append("not reached")
        assert steps == ["both renames done"]
    finally:
        restore()
