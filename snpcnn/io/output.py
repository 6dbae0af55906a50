"""Output locations: checked for writability before any work, and write errors in one line.

Every command that writes (``fit``, ``predict``, ``convert``, ``benchmark``, ``explain``)
calls :func:`check_writable` on its output path before it reads or computes
anything, and runs its final write inside :func:`write_errors`, which turns a
failing write (disk full, read-only file system, a path under ``/proc``) into
one :class:`~snpcnn.errors.InputError` that names the output the user gave,
never an internal temporary path.  The writers themselves are atomic (a
temporary file or directory renamed into place), so a failed write leaves the
output location as it was.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from snpcnn.errors import InputError

__all__ = ["check_writable", "write_errors", "usual_mode"]


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: the process's umask, read once at import (reading it means setting it)
_UMASK = _current_umask()


def usual_mode(path: str | os.PathLike) -> None:
    """Give a file or folder made by :mod:`tempfile` (mode 0600 / 0700) the mode a plain
    ``open`` / ``mkdir`` would have given it (0666 / 0777 less the umask), so results
    written atomically are as readable as any other file in their folder."""
    base = 0o777 if os.path.isdir(path) else 0o666
    os.chmod(path, base & ~_UMASK)


def _reason(exc: OSError) -> str:
    if exc.errno is not None:
        return os.strerror(exc.errno)
    return " ".join(str(exc).split()) or type(exc).__name__


def _fix(exc: OSError | None, option: str) -> str:
    if exc is not None and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return f"free some space or choose another {option}"
    return f"choose another {option} in a folder you can write to"


def check_writable(path: str | os.PathLike, option: str = "--out") -> Path:
    """Fail now, with one line, if ``path`` (a file or directory to create) cannot be written.

    Writes and removes a small probe file in the nearest existing folder above
    ``path`` (the folder where the atomic writers put their temporary files).
    """
    path = Path(path)
    parent = path.absolute().parent
    anc = parent
    while not anc.exists() and anc != anc.parent:
        anc = anc.parent
    if not anc.is_dir():
        raise InputError(
            f"{path}: cannot be written: {anc} is not a folder; choose another {option}"
        )
    probe = None
    try:
        fd, probe = tempfile.mkstemp(prefix=".snpcnn-probe-", dir=anc)
        try:
            os.write(fd, b"snpcnn")
        finally:
            os.close(fd)
    except OSError as exc:
        raise InputError(
            f"{path}: cannot be written ({_reason(exc)} in {anc}); {_fix(exc, option)}"
        ) from None
    finally:
        if probe is not None:
            with contextlib.suppress(OSError):
                os.unlink(probe)
    return path


@contextlib.contextmanager
def write_errors(path: str | os.PathLike, option: str = "--out", kept: str = "") -> Iterator[None]:
    """Turn an OSError raised while writing ``path`` into one line naming ``path``."""
    try:
        yield
    except InputError:
        raise
    except OSError as exc:
        if not _is_under(exc.filename, path):
            raise  # an input failed, not the output
        left = kept or f"nothing was written to {path}"
        raise InputError(
            f"{path}: writing failed ({_reason(exc)}); {left}; {_fix(exc, option)}"
        ) from None


def _is_under(filename, path) -> bool:
    if not filename:
        return True
    try:
        f = Path(os.fsdecode(filename)).absolute()
        p = Path(path).absolute()
    except (TypeError, ValueError):
        return True
    return f == p or p.parent in f.parents or f.parent == p.parent
