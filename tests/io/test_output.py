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
    """With other threads alive (numpy's, TensorFlow's), a blocked signal mask held SIGTERM
    in the main thread only, and the interrupt still landed inside the block in most runs
    (a review): the held signal must act only after the block, every time."""
    import os
    import signal
    import threading
    import time

    import pytest

    from snpcnn import _signals

    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()  # a second thread the kernel may hand the signal to
    restore = _signals.install()
    try:
        for _ in range(20):
            steps = []
            with pytest.raises(_signals.Terminated):
                with _signals.deferred():
                    os.kill(os.getpid(), signal.SIGTERM)
                    time.sleep(0.01)  # the handler has run by now, inside the block
                    steps.append("both renames done")
                steps.append("not reached")
            assert steps == ["both renames done"]
        assert signal.getsignal(signal.SIGTERM) is _signals._raise  # handlers put back
    finally:
        restore()
        stop.set()


def test_a_write_error_beside_a_linked_outputs_target_is_the_outputs(tmp_path):
    """--out as a link writes beside its target: a full disk there was re-raised raw (an
    internal error) because the error's path was compared with the link's, unresolved."""
    import errno
    import os

    import pytest

    from snpcnn.errors import InputError
    from snpcnn.io.output import write_errors

    (tmp_path / "disk").mkdir()
    link = tmp_path / "res"
    link.symlink_to(tmp_path / "disk" / "res")
    with pytest.raises(InputError, match="writing failed"):
        with write_errors(link):
            raise OSError(
                errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "disk" / ".res.tmp-x" / "a")
            )
