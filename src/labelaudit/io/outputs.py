"""The safety of one run's outputs (README, "Exit codes and errors").

- `check_run_paths`: before anything is read, refuse an output that resolves to an input (the same path
  after `..` and symlinks, or the same inode: hard links), two outputs that are one file, an output that
  is a directory, a non-regular file or in a missing or read-only folder, and a non-regular input (a FIFO,
  device or socket would block or never end; it is never opened).
- `publish_together`: one transaction per run. Inside it, `writers.atomic_path` writes each output to a
  temporary file in the output's folder and defers the rename; when the run succeeds (or only a gate
  failed) every temporary is renamed into place, on an error or interrupt every one is removed.
- Temporaries are unnamed files (Linux O_TMPFILE) in the output's folder, reached through
  /proc/self/fd/N, so even a SIGKILL or power loss leaves nothing behind; publishing links one under a
  name (`.<name>.labelaudit-<host>-<pid>-<random>.tmp`) and renames it over the output at once. Where the
  filesystem has no unnamed files, the temporary is that named file from the start: then a SIGKILL
  leaves it behind, and the next run that writes the same output removes the temporaries of that name
  whose process is gone (on this host; another host's after a day). The replaced file is never touched.
- `interrupts_as_exceptions`: SIGINT, SIGTERM and SIGHUP raise `Interrupted`, so a run unwinds (and
  removes its temporaries) the same way for all three; exit code 128 + signal number.
- `stdout_guard`: a reader that closes stdout early (`| head -1`) never turns into an error: the rest of
  stdout goes to /dev/null and the run ends normally (its exit code still tells whether a gate failed).

This module imports nothing heavy: the CLI enters it for every command.
"""

from __future__ import annotations

import _thread
import contextlib
import errno
import hashlib
import os
import re
import signal
import socket
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from labelaudit.errors import InputError

# ---------------------------------------------------------------------------- option names

# Keyword arguments of a command that name files it reads. A value may be a str or a list of str
# (--pred-probs of an ensemble, possibly globs); '-' (stdin) is never a file.
INPUT_OPTIONS = (
    "labels",
    "pred_probs",
    "sentence_lengths",
    "class_names",
    "baseline",
    "order_issues",
    "true_labels",
    "issues",
    "scores",
    "features",
    "test_features",
    "test_labels",
    "model_file",
)
# Keyword arguments that name files a command writes; '-' (stdout) is never a file.
OUTPUT_OPTIONS = ("output", "scores_out", "plot", "cleaned_out")
# Keyword arguments that name a folder a command writes fixed file names into.
FOLDER_OUTPUTS = {
    "out_dir": ("labels.npy", "pred_probs.npy", "true_labels.npy", "noise_matrix.npy", "prior.npy"),
}

ROLES = {"labels": "labels", "pred_probs": "pred_probs"}  # other roles: the option name in words


@dataclass(frozen=True)
class PathArg:
    name: str  # keyword argument, e.g. "scores_out"
    path: str

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


def run_paths(kwargs: Mapping[str, object]) -> tuple[list[PathArg], list[PathArg]]:
    """(inputs, outputs) named by a command's keyword arguments, in signature order."""
    inputs: list[PathArg] = []
    outputs: list[PathArg] = []
    for name, value in kwargs.items():
        if name in INPUT_OPTIONS:
            values = value if isinstance(value, (list, tuple)) else [value]
            for v in values:
                if isinstance(v, str) and v and v != "-":
                    inputs.extend(PathArg(name, p) for p in _expand(v))
        elif name in OUTPUT_OPTIONS:
            if isinstance(value, str) and value and value != "-":
                outputs.append(PathArg(name, value))
        elif name in FOLDER_OUTPUTS and isinstance(value, str) and value:
            if os.path.isdir(value):
                outputs.extend(PathArg(name, os.path.join(value, f)) for f in FOLDER_OUTPUTS[name])
            elif os.path.lexists(value):
                raise InputError(f"{value}: {PathArg(name, value).option} is not a folder")
            # a missing folder is the command's to report (or to create)
    return inputs, outputs


def _expand(path: str) -> list[str]:
    if not os.path.lexists(path) and any(ch in path for ch in "*?["):
        import glob

        return sorted(glob.glob(path))
    return [path]


# ---------------------------------------------------------------------------- checks before the run


def check_run_paths(kwargs: Mapping[str, object]) -> None:
    """Refuse, before anything is read, every input/output combination that could lose data or hang."""
    inputs, outputs = run_paths(kwargs)
    ids = {id(p): _identity(p.path) for p in (*inputs, *outputs)}
    for out in outputs:
        for inp in inputs:
            if _same(ids[id(out)], ids[id(inp)]):
                raise InputError(
                    f"{out.path}: {out.option} would overwrite the input {inp.path} ({inp.option})"
                )
    for i, a in enumerate(outputs):
        for b in outputs[i + 1 :]:
            if _same(ids[id(a)], ids[id(b)]):
                other = "" if b.path == a.path else f" ({a.path})"
                raise InputError(
                    f"{b.path}: {b.option} and {a.option}{other} name the same file; give each output its own path"
                )
    datasets = "engine" in kwargs  # batched also reads folders: .npy shards, Parquet datasets, Zarr
    for out in outputs:
        if datasets and out.path.endswith("/"):  # batched's -o DIR/: checked by io.shards.check_out_dir
            continue
        check_output_target(out.path, out.option)
    from labelaudit.io.readers import check_input_file

    for inp in inputs:
        if datasets and os.path.isdir(inp.path):  # its parts are checked one by one (io.shards)
            continue
        if os.path.lexists(inp.path):  # a missing file is reported by the reader, in its own words
            check_input_file(inp.path, ROLES.get(inp.name, inp.name.replace("_", " ")))


def _identity(path: str) -> tuple[str, tuple[int, int] | None]:
    real = os.path.realpath(path)
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return real, None
    return real, (st.st_dev, st.st_ino)


def _same(a: tuple[str, tuple[int, int] | None], b: tuple[str, tuple[int, int] | None]) -> bool:
    return a[0] == b[0] or (a[1] is not None and a[1] == b[1])


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "directory"),
        (stat.S_ISFIFO, "FIFO (named pipe)"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return name
    return "special file"


def check_output_target(path: str, option: str = "output") -> None:
    """An output must be a regular file (or not exist yet) in an existing, writable folder."""
    folder = os.path.dirname(path) or "."
    try:
        st: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise InputError(f"{path}: {option} folder {folder!r} is not a folder") from None
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:  # a too-long name is reported below, with its length
            raise InputError(f"{path}: {option} cannot be written: {exc.strerror or exc}") from None
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path}: {option} is a directory, not a file")
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path}: {option} is a {_kind(st.st_mode)}, not a regular file")
    if not os.path.isdir(folder):
        raise InputError(f"{path}: {option} folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{path}: {option} folder {folder!r} is not writable")
    name = os.path.basename(path)
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    size = len(os.fsencode(name))
    if limit and size > limit:
        raise InputError(f"{path}: {option} file name is too long ({size} bytes; the limit is {limit})")


# ---------------------------------------------------------------------------- temporaries

TAG = "labelaudit"
STEM_BYTES = 120  # the output name's share of a temporary's name (file names are at most 255 bytes)
FOREIGN_STALE_S = 24 * 3600  # another host's temporary is stale after a day (its pid means nothing here)
HOST = hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]

_OWN: set[str] = set()  # temporaries of this process not yet published or removed
_UNNAMED: dict[str, int] = {}  # /proc/self/fd/N temporary -> its descriptor N (an O_TMPFILE file)
_OWN_LOCK = threading.Lock()


def _stem(name: str) -> str:
    return os.fsencode(name)[:STEM_BYTES].decode("utf-8", "ignore")


def temp_prefix(name: str) -> str:
    """The start of every temporary of output file `name` (without the pid and random part)."""
    return f".{_stem(name)}.{TAG}-"


def _named_temp(folder: str, name: str) -> str:
    fd, tmp = tempfile.mkstemp(prefix=f"{temp_prefix(name)}{HOST}-{os.getpid()}-", suffix=".tmp", dir=folder)
    os.close(fd)
    return tmp


def _unnamed_temp(folder: str) -> str | None:
    """An unnamed file in `folder` (mode 0600) as a /proc/self/fd path, or None where unsupported."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        fd = os.open(folder, flag | os.O_RDWR, 0o600)
    except OSError:  # EOPNOTSUPP, EISDIR on old kernels, ...: a named temporary instead
        return None
    tmp = f"/proc/self/fd/{fd}"
    _UNNAMED[tmp] = fd
    return tmp


def make_temp(path: str) -> str:
    """A new empty temporary file (mode 0600) in the folder of `path`, after removing stale ones of the
    same output: unnamed where the filesystem allows it, else named beside `path`."""
    folder = os.path.dirname(path) or "."
    name = os.path.basename(path)
    remove_stale_temps(folder, name)
    with deferred_interrupts():  # a signal cannot fall between creating the file and recording it
        with _OWN_LOCK:
            tmp = _unnamed_temp(folder) or _named_temp(folder, name)
            _OWN.add(tmp if tmp in _UNNAMED else os.path.abspath(tmp))
    return tmp


def remove_own_temps() -> None:
    """Remove every temporary this process made and did not publish (a run that is being discarded may
    have been interrupted between making one and handing it to its transaction)."""
    with _OWN_LOCK:
        own = list(_OWN)
    for tmp in own:
        remove_temp(tmp)


def remove_temp(tmp: str) -> None:
    with _OWN_LOCK:
        fd = _UNNAMED.pop(tmp, None)
        _OWN.discard(tmp if fd is not None else os.path.abspath(tmp))
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)  # an unnamed file disappears with its last descriptor
        return
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, another user's
        return True
    return True


def remove_stale_temps(folder: str, name: str) -> list[str]:
    """Remove temporaries of output `name` in `folder` left by a killed run; returns their paths."""
    prefix = temp_prefix(name)
    pattern = re.compile(re.escape(prefix) + r"(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[a-z0-9_]+\.tmp")
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        m = pattern.fullmatch(entry.name) if entry.name.startswith(prefix) else None
        if m is None:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        path = os.path.abspath(entry.path)
        pid = int(m["pid"])
        if m["host"] == HOST:
            with _OWN_LOCK:
                ours = path in _OWN
            stale = not ours and (pid == os.getpid() or not _pid_alive(pid))
        else:
            stale = age > FOREIGN_STALE_S
        if stale:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(entry.path)
    return removed


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _OWN_LOCK:  # the portable way sets it to read it: keep other threads of ours out meanwhile
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def publish(tmp: str, path: str) -> None:
    """Rename `tmp` over `path` (an unnamed temporary is first linked under a name beside it): a replaced
    file keeps its permission bits, a new one gets the umask's."""
    with _OWN_LOCK:
        fd = _UNNAMED.get(tmp)
    named = tmp
    try:
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode) & 0o777
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        if fd is not None:
            os.fchmod(fd, mode)
            named = _link_name(path)
            _link_following(tmp, named)
        else:
            os.chmod(tmp, mode)
        os.replace(named, path)
    except OSError as exc:
        if named != tmp:
            with contextlib.suppress(OSError):
                os.unlink(named)
        remove_temp(tmp)
        raise InputError(f"{path}: cannot write the output: {exc.strerror or exc}") from None
    if fd is not None:
        remove_temp(tmp)  # closes the descriptor; the file lives on under its new name
    else:
        _forget(tmp)


def _link_following(src: str, dst: str) -> None:
    """linkat(src, dst, AT_SYMLINK_FOLLOW): names the file that /proc/self/fd/N points to. os.link calls
    plain link(2), which would link the /proc entry itself, unless given a dir_fd (absolute paths ignore it)."""
    root = os.open("/", os.O_RDONLY)
    try:
        os.link(src, dst, src_dir_fd=root, follow_symlinks=True)
    finally:
        os.close(root)


def _link_name(path: str) -> str:
    folder, name = os.path.dirname(path) or ".", os.path.basename(path)
    return os.path.join(folder, f"{temp_prefix(name)}{HOST}-{os.getpid()}-{os.urandom(4).hex()}.tmp")


def _forget(tmp: str) -> None:
    with _OWN_LOCK:
        _OWN.discard(os.path.abspath(tmp))


# ---------------------------------------------------------------------------- one transaction per run


class Transaction:
    """Outputs written during one run, published together by `commit` or all removed by `discard`."""

    def __init__(self) -> None:
        self._pending: dict[str, tuple[str, str]] = {}  # absolute path -> (temporary, path)
        self._lock = threading.Lock()
        self.state = "open"  # open, committed, discarded

    @property
    def pending(self) -> list[str]:
        with self._lock:
            return [path for _, path in self._pending.values()]

    def add(self, tmp: str, path: str) -> None:
        """`tmp` holds the whole of output `path`; publish it with the others (a second write of the same
        path replaces the first)."""
        with self._lock:
            if self.state != "open":
                remove_temp(tmp)
                raise InputError(f"{path}: the run's outputs were already {self.state}")
            old = self._pending.pop(os.path.abspath(path), None)
            self._pending[os.path.abspath(path)] = (tmp, path)
        if old is not None:
            remove_temp(old[0])

    def commit(self) -> None:
        """Rename every temporary into place (signals wait until all are). A path that turned into a
        directory meanwhile fails the whole run before anything is renamed."""
        with self._lock:
            if self.state != "open":
                return
            items = list(self._pending.values())
            self._pending.clear()
            self.state = "committed"
        with deferred_interrupts():
            for _, path in items:
                if os.path.isdir(path):
                    for t, _ in items:
                        remove_temp(t)
                    raise InputError(f"{path}: output path is a directory, not a file; nothing was written")
            done: list[str] = []
            for i, (tmp, path) in enumerate(items):
                try:
                    publish(tmp, path)
                except InputError as exc:
                    for t, _ in items[i + 1 :]:
                        remove_temp(t)
                    extra = f" (already written: {', '.join(done)})" if done else ""
                    raise InputError(f"{exc}{extra}") from None
                done.append(path)

    def discard(self) -> None:
        with self._lock:
            items = list(self._pending.values())
            self._pending.clear()
            if self.state == "open":
                self.state = "discarded"
        for tmp, _ in items:
            remove_temp(tmp)
        remove_own_temps()


_RUNS: list[Transaction] = []
_RUNS_LOCK = threading.Lock()


def current() -> Transaction | None:
    """The run transaction that atomic_path joins, if one is active."""
    with _RUNS_LOCK:
        return _RUNS[-1] if _RUNS else None


@contextlib.contextmanager
def publish_together() -> Iterator[Transaction]:
    """Every output written inside is published at a normal exit, or removed when an exception leaves
    (call `commit()` first to publish on an exception that still wants the outputs, e.g. a failed gate).
    Nested, it joins the enclosing transaction."""
    outer = current()
    if outer is not None:
        yield outer
        return
    run = Transaction()
    with _RUNS_LOCK:
        _RUNS.append(run)
    try:
        try:
            yield run
        except BaseException:
            run.discard()
            raise
        run.commit()
    finally:
        run.discard()  # a no-op after commit; removes what a failed commit left
        with _RUNS_LOCK:
            _RUNS.remove(run)


# ---------------------------------------------------------------------------- signals


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP during a run (a KeyboardInterrupt, so `except Exception` lets it pass)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def signame(self) -> str:
        return signal.Signals(self.signum).name


INTERRUPT_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
_SIG = {"fired": False, "defer": 0, "pending": 0}


def _on_signal(signum: int, frame: object) -> None:
    if _SIG["defer"]:
        _SIG["pending"] = _SIG["pending"] or signum
        return
    if _SIG["fired"]:  # one interrupt per run: a second signal must not break the cleanup of the first
        return
    _SIG["fired"] = True
    raise Interrupted(signum)


def _deliver_again(signum: int) -> None:
    time.sleep(0.002)
    _thread.interrupt_main(signal.Signals(signum))


def _unraisable(hook: Any) -> Any:
    """sys.unraisablehook while interrupts are exceptions. Python runs a signal's handler at the next
    bytecode of the main thread, which may be inside a weakref callback or a __del__ (an import's module
    lock, seen under load); an exception raised there is only printed, so a SIGHUP or SIGTERM was lost
    and the run went on to publish its outputs and exit 0. This hook takes such an Interrupted, prints
    nothing, and has the signal delivered to the main thread again, a moment later, in ordinary code."""

    def unraisable(info: Any) -> None:
        exc = info.exc_value
        if isinstance(exc, Interrupted):
            _SIG["fired"] = False
            # from another thread, once this hook has returned: raised from here, in the main thread, it
            # would land in this hook again (threading.Thread.start would wait for the thread, inside it)
            _thread.start_new_thread(_deliver_again, (exc.signum,))
            return
        hook(info)

    return unraisable


@contextlib.contextmanager
def interrupts_as_exceptions() -> Iterator[None]:
    """Inside, SIGINT/SIGTERM/SIGHUP raise Interrupted in the main thread (a signal the process ignores,
    as under nohup, stays ignored). Outside the main thread nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for sig in INTERRUPT_SIGNALS:
        old = signal.getsignal(sig)
        if old is signal.SIG_IGN:
            continue
        previous[sig] = old
        signal.signal(sig, _on_signal)
    _SIG.update(fired=False, defer=0, pending=0)
    hook = sys.unraisablehook
    sys.unraisablehook = _unraisable(hook)
    try:
        yield
    finally:
        sys.unraisablehook = hook
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Signals that arrive inside wait until it ends (then raise Interrupted)."""
    _SIG["defer"] += 1
    try:
        yield
    finally:
        _SIG["defer"] -= 1
        pending = _SIG["pending"]
        if not _SIG["defer"] and pending:
            _SIG["pending"] = 0
            if not _SIG["fired"]:
                _SIG["fired"] = True
                raise Interrupted(pending)


def interrupt_exit_code(exc: BaseException) -> int:
    return 128 + getattr(exc, "signum", signal.SIGINT)


def interrupt_message(exc: BaseException) -> str:
    signum = getattr(exc, "signum", signal.SIGINT)
    return "Interrupted" if signum == signal.SIGINT else f"Interrupted ({signal.Signals(signum).name})"


# ---------------------------------------------------------------------------- stdout


class GuardedStdout:
    """sys.stdout whose reader may go away: on EPIPE the rest is sent to /dev/null, never an error."""

    def __init__(self, stream):
        self._stream = stream
        self.broken = False

    def _closed_pipe(self) -> None:
        self.broken = True
        silence_stdout(self._stream)

    def write(self, text):
        if self.broken:
            return len(text)
        try:
            return self._stream.write(text)
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise
            self._closed_pipe()
            return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise
            self._closed_pipe()
            with contextlib.suppress(OSError):
                self._stream.flush()  # what was buffered now goes to /dev/null

    def __getattr__(self, name):
        return getattr(self._stream, name)


def silence_stdout(stream=None) -> None:
    """Point the stdout file descriptor at /dev/null (the Python docs' advice for a closed pipe), so that
    no later flush, not even the interpreter's at exit, fails."""
    stream = stream if stream is not None else sys.stdout
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


@contextlib.contextmanager
def stdout_guard() -> Iterator[GuardedStdout]:
    """sys.stdout is a GuardedStdout inside (nested: the same one); flushed and restored at the end."""
    if isinstance(sys.stdout, GuardedStdout):
        yield sys.stdout
        return
    original = sys.stdout
    guard = GuardedStdout(original)
    sys.stdout = guard
    try:
        yield guard
    finally:
        with contextlib.suppress(OSError, ValueError):
            guard.flush()
        if sys.stdout is guard:
            sys.stdout = original
