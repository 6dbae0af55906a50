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
import json
import os
import re
import shutil
import socket
import tempfile
import threading
import time
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


def ready_to_replace(path: str | os.PathLike) -> None:
    """A temporary file or folder is complete and about to replace its destination: the
    last safe point to raise again an interrupt whose exception was swallowed while it was
    written (:func:`snpcnn._signals.check`; a checking helper, session 55: Ctrl-C inside
    ``snpcnn simulate``'s VCF writer was lost in 3 of 7 tries, and the run replaced the
    output and exited 0), then :func:`usual_mode`."""
    from snpcnn import _signals

    _signals.check()
    usual_mode(path)


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


#: the lock files this process holds, and their contents
_HELD: dict[str, bytes] = {}

#: a live claim rewrites its lock's time stamp this often (seconds) ...
LOCK_REFRESH = 30.0
#: ... and a lock not refreshed for this long is a dead run's, whatever machine made it
LOCK_STALE = 120.0


def _process_space() -> dict:
    """Where this process's id means something: the host, its boot and its PID namespace
    (containers that share a host name and a volume but not PIDs see each other's live
    processes as dead)."""
    boot = ""
    with contextlib.suppress(OSError):
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    pidns = 0
    with contextlib.suppress(OSError):
        pidns = os.stat("/proc/self/ns/pid").st_ino
    return {"host": socket.gethostname(), "boot": boot, "pidns": pidns}


def _lock_holder(lock: Path) -> tuple[dict | None, bytes, float]:
    """A lock file's content (host, pid, command, started, ...; None if unreadable), its
    bytes and its age in seconds (inf where it is gone)."""
    try:
        raw = lock.read_bytes()
        age = time.time() - os.stat(lock).st_mtime
    except OSError:
        return None, b"", float("inf")
    try:
        info = json.loads(raw.decode("utf-8"))
    except ValueError:
        info = None
    return (info if isinstance(info, dict) else None), raw, age


def _same_space(holder: dict | None, space: dict) -> bool:
    """Whether the lock's pid can be asked here: the same host, and where both know them
    (Linux's /proc) the same boot and PID namespace; without /proc (macOS) the host."""
    if os.name != "posix" or holder is None or holder.get("host") != space["host"]:
        return False  # (Windows: no liveness check, _alive says True: the age decides)
    if not space["boot"] and not holder.get("boot"):
        return True
    return bool(space["boot"]) and all(holder.get(k) == space[k] for k in ("boot", "pidns"))


def _fs_age(lock: Path, age: float) -> float:
    """The lock's age by the file system's clock (a file written now beside it): a node whose
    clock runs ahead of the file server's would take live locks of other nodes for stale."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".snpcnn-clock-", dir=lock.parent)
    except OSError:
        return age
    try:
        os.close(fd)
        return os.stat(probe).st_mtime - os.stat(lock).st_mtime
    except OSError:
        return age
    finally:
        with contextlib.suppress(OSError):
            os.unlink(probe)


def _take_over(lock: Path, judged: bytes) -> None:
    """Remove a dead run's lock, unless another process replaced it meanwhile: the lock is
    renamed aside, checked to be the one judged dead, and put back where it is not."""
    aside = lock.with_name(f"{lock.name}.{uuid.uuid4().hex[:8]}")
    try:
        os.rename(lock, aside)
    except FileNotFoundError:
        return  # another process took it over first
    try:
        if aside.read_bytes() != judged:
            with contextlib.suppress(FileExistsError):
                os.link(aside, lock)  # a fresh claim of another process: put it back
    finally:
        with contextlib.suppress(OSError):
            os.unlink(aside)


def claim(dst: str | os.PathLike, command: str = "snpcnn", option: str = "--out"):
    """Claim the output ``dst`` for this process until the returned function is called.

    A lock file ``.NAME.lock`` beside ``dst`` (created with ``O_EXCL``) names this host
    and process, and a background thread rewrites its time stamp every
    :data:`LOCK_REFRESH` seconds.  A second run to the same output, while the first still
    computes, is refused at once with one line that names the first; before session 41 it
    computed everything and then refused (or, with ``--force``, silently replaced the
    first's results).  A lock is a dead run's, and taken over, where its process is gone
    (same host, boot and PID namespace) or where it was not refreshed for
    :data:`LOCK_STALE` seconds (a run killed on another machine of a shared file system, or
    in another container).  Folders created here for the lock are removed again on release
    if still empty.  Returns the release function (idempotent)."""
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
    space = _process_space()
    me = {
        **space,
        "pid": os.getpid(),
        "command": command,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    mine = json.dumps(me).encode("utf-8")
    owned = True
    for _ in range(5):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder, raw, age = _lock_holder(lock)
            if age == float("inf"):
                continue  # removed meanwhile: try again
            if holder is None and age < 2.0:  # being written this instant: look again
                time.sleep(0.2)
                holder, raw, age = _lock_holder(lock)
            pid = holder.get("pid") if holder else None
            same_space = _same_space(holder, space)
            if _HELD.get(str(lock)) == raw:
                owned = False  # this process claimed it already: this claim is a no-op
                break
            # our own pid but not our claim: a dead process whose pid we were given
            dead = same_space and isinstance(pid, int) and (pid == me["pid"] or not _alive(pid))
            # a live process of this machine keeps its lock however long its time stamp was
            # not refreshed (Ctrl-Z, a scheduler's suspend, a long GIL-holding call: a
            # reviewer, session 41); the age decides only where the process cannot be asked
            if dead or (not same_space and _fs_age(lock, age) > LOCK_STALE):
                _take_over(lock, raw)  # a killed run's: taken over
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
                f"choose another {option} (a killed run's lock is taken over "
                f"{LOCK_STALE:.0f} s after it stopped; to free it now, delete {lock})"
            ) from None
        except OSError as exc:
            _remove_empty(made)
            raise InputError(
                f"{dst}: cannot be written ({_reason(exc)}); {_fix(exc, option)}"
            ) from None
        else:
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(mine)
            except OSError as exc:  # an empty lock would refuse every later run
                with contextlib.suppress(OSError):
                    os.unlink(lock)
                _remove_empty(made)
                raise InputError(
                    f"{dst}: cannot be written ({_reason(exc)}); {_fix(exc, option)}"
                ) from None
            break
    else:  # pragma: no cover - other processes took the lock over each time
        raise InputError(f"{dst}: other snpcnn runs keep claiming it; choose another {option}")

    stop = threading.Event()

    def refresh() -> None:  # the time stamp that says the run is alive
        while not stop.wait(LOCK_REFRESH):
            with contextlib.suppress(OSError):
                os.utime(lock)

    if owned:
        _HELD[str(lock)] = mine
        threading.Thread(target=refresh, name="snpcnn-lock", daemon=True).start()
    done = []

    def release() -> None:
        if done or not owned:
            return
        done.append(True)
        stop.set()
        _HELD.pop(str(lock), None)
        if _lock_holder(lock)[1] == mine:  # still ours (never another process's)
            with contextlib.suppress(OSError):
                os.unlink(lock)
        _remove_empty(made)

    return release


def _remove_empty(made: list[Path]) -> None:
    """Remove the folders in ``made`` (deepest first) that are still empty."""
    for d in made:
        with contextlib.suppress(OSError):
            d.rmdir()
