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
import re
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from snpcnn.errors import InputError, InputWarning, warn_at_caller

__all__ = ["check_writable", "write_errors", "usual_mode", "temp_sibling", "reap_stale"]


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


#: errnos of a full disk, quota or file-size limit
FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _short_write(exc: OSError | None) -> bool:
    """numpy's ``tofile``/``save`` on a full disk: an OSError without errno, "N requested and
    M written"."""
    return exc is not None and exc.errno is None and "requested and" in str(exc)


def _reason(exc: OSError) -> str:
    if exc.errno is not None:
        return os.strerror(exc.errno)
    if _short_write(exc):
        return "a short write, the disk or a quota full or a size limit reached: " + " ".join(
            str(exc).split()
        )
    return " ".join(str(exc).split()) or type(exc).__name__


def _fix(exc: OSError | None, option: str) -> str:
    if exc is not None and (exc.errno in FULL_ERRNOS or _short_write(exc)):
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
        # resolved: an --out given as a symbolic link writes beside its target
        f = Path(os.path.realpath(os.fsdecode(filename)))
        p = Path(os.path.realpath(path))
    except (TypeError, ValueError):
        return True
    return f == p or p.parent in f.parents or f.parent == p.parent


def _host() -> str:
    """This machine in a temporary folder's name: 8 hex digits of a hash of its full host
    name (short, so long output names still fit; no truncation that makes two hosts one)."""
    import hashlib

    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


#: a temporary folder is removed only where nothing in it changed for this long: a live
#: writer in another PID namespace on the same host name (containers sharing a volume) looks
#: dead to os.kill, but its files are fresh
STALE_SECONDS = 600


def temp_sibling(dst: str | os.PathLike, kind: str = "tmp") -> Path:
    """Create and return an empty hidden folder beside ``dst`` for an atomic write:
    ``.NAME.KIND-HOST-PID-RANDOM``. The machine and process in its name let a later
    write to ``dst`` remove it (:func:`reap_stale`) where its writer was killed before it
    could clean up (SIGKILL, the out-of-memory killer, a power cut)."""
    dst = Path(dst)
    name = f".{dst.name}.{kind}-{_host()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    path = dst.parent / name
    path.mkdir(mode=0o700)
    return path


def replace_folder(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Put the finished folder ``src`` at ``dst``: an existing ``dst`` is moved aside into a
    :func:`temp_sibling`, ``src`` renamed into place, then the old one removed.  SIGINT and
    SIGTERM are held between the two renames (an interrupt there lost both the new and the
    old folder); fit, explain, benchmark and tune all finish this way."""
    from snpcnn._signals import deferred

    src, dst = Path(src), Path(dst)
    old = None
    with deferred():
        if dst.exists():
            old = temp_sibling(dst, "old")
            os.replace(dst, old / "x")
        os.replace(src, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) terminates the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # another user's process, or cannot tell: keep its folder
    return True


def _size_and_age(path: Path) -> tuple[int, float]:
    """Bytes in ``path`` and seconds since anything in it last changed."""
    import time

    total, newest = 0, os.lstat(path).st_mtime
    for root, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(root, f))
                total += st.st_size
                newest = max(newest, st.st_mtime)
    return total, time.time() - newest


def reap_stale(dst: str | os.PathLike, warn: bool = True) -> list[Path]:
    """Remove the hidden temporary folders that an earlier write to ``dst`` left behind
    when its process was killed (:func:`temp_sibling`'s ``.NAME.tmp-HOST-PID-*`` and
    ``.NAME.old-HOST-PID-*`` of this machine whose process no longer runs and in which
    nothing changed for :data:`STALE_SECONDS`; never on Windows). Folders of other
    machines (a shared file system) and of running processes are left alone. With
    ``warn``, one :class:`~snpcnn.errors.InputWarning` says what was removed."""
    dst = Path(dst)
    if not dst.parent.is_dir():
        return []
    pattern = re.compile(
        r"^\."
        + re.escape(dst.name)
        + r"\.(?:tmp|old)-"
        + re.escape(_host())
        + r"-(\d+)-[0-9a-f]{8}$"
    )
    removed, freed = [], 0
    try:
        entries = list(dst.parent.iterdir())
    except OSError:
        return []
    for entry in entries:
        m = pattern.match(entry.name)
        if m is None or int(m.group(1)) == os.getpid() or _alive(int(m.group(1))):
            continue
        if not entry.is_dir() or entry.is_symlink():
            continue
        size, age = _size_and_age(entry)
        if age < STALE_SECONDS:
            continue  # written to in the last minutes: perhaps a writer we cannot see
        shutil.rmtree(entry, ignore_errors=True)
        if not entry.exists():
            removed.append(entry)
            freed += size
    if removed and warn:
        warn_at_caller(
            f"removed {len(removed)} unfinished temporary folder(s) beside {dst} "
            f"({freed / 1e6:.1f} MB; {removed[0].name}) left by an earlier write that was "
            "killed before it finished",
            InputWarning,
        )
    return removed


def _lock_path(dst: Path) -> Path:
    return dst.parent / f".{dst.name}.lock"


def _lock_holder(lock: Path) -> dict | None:
    """What a lock file says (host, pid, command, started), or None if it cannot be read."""
    import json

    try:
        info = json.loads(lock.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def claim(dst: str | os.PathLike, command: str = "snpcnn", option: str = "--out"):
    """Claim the output ``dst`` for this process until the returned function is called.

    A lock file ``.NAME.lock`` beside ``dst`` (created with ``O_EXCL``) names this host
    and process.  A second run to the same output, while the first still computes, is
    refused at once with one line that names the first; before session 41 it computed
    everything and then refused (or, with ``--force``, silently replaced the first's
    results).  A lock left by a process of this host that no longer runs (killed) is taken
    over; one of another host (a shared file system) is reported with the way to remove
    it.  Folders created here for the lock are removed again on release if still empty.
    Returns the release function (idempotent)."""
    import json
    import time as _time

    dst = Path(os.path.abspath(os.fspath(dst)))
    made: list[Path] = []
    anc = dst.parent
    while not anc.exists() and anc != anc.parent:
        made.append(anc)
        anc = anc.parent
    for d in reversed(made):
        with contextlib.suppress(FileExistsError):
            d.mkdir()
    lock = _lock_path(dst)
    me = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "command": command,
        "started": _time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    owned = True
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _lock_holder(lock)
            if holder is None:  # being written this instant, or damaged: look again
                _time.sleep(0.2)
                holder = _lock_holder(lock)
            same_host = holder is not None and holder.get("host") == me["host"]
            pid = holder.get("pid") if holder else None
            if holder is not None and same_host and pid == me["pid"]:
                owned = False  # this process claimed it already: this claim is a no-op
                break
            if holder is not None and same_host and isinstance(pid, int) and not _alive(pid):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(lock)  # left by a killed run of this machine: taken over
                continue
            who = (
                f"snpcnn {holder.get('command', '')} (process {pid} on {holder.get('host')}, "
                f"started {holder.get('started')})"
                if holder
                else "another snpcnn run"
            )
            _remove_empty(made)
            raise InputError(
                f"{dst}: {who} is writing its results there; wait for it to finish or "
                f"choose another {option} (if no such run is going on, delete {lock})"
            ) from None
        except OSError as exc:
            _remove_empty(made)
            raise InputError(
                f"{dst}: cannot be written ({_reason(exc)}); {_fix(exc, option)}"
            ) from None
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(me, fh)
            break
    else:  # pragma: no cover - three take-overs lost to other processes in a row
        raise InputError(f"{dst}: other snpcnn runs keep claiming it; choose another {option}")

    done = []

    def release() -> None:
        if done or not owned:
            return
        done.append(True)
        holder = _lock_holder(lock)
        if (
            holder is not None
            and holder.get("pid") == me["pid"]
            and holder.get("host") == me["host"]
        ):
            with contextlib.suppress(OSError):
                os.unlink(lock)
        _remove_empty(made)

    return release


def _remove_empty(made: list[Path]) -> None:
    """Remove the folders in ``made`` (deepest first) that are still empty."""
    for d in made:
        with contextlib.suppress(OSError):
            d.rmdir()


@contextlib.contextmanager
def claimed(dst: str | os.PathLike, command: str = "snpcnn", option: str = "--out"):
    """:func:`claim` ``dst`` for the duration of a ``with`` block."""
    release = claim(dst, command, option)
    try:
        yield
    finally:
        release()
