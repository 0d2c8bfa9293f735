"""Files written whole or not at all, and files opened only when they are plain files.

`write_atomically` writes into a temporary file in the target's folder and renames it over the
target (``os.replace`` is atomic on one file system), so a full disk, a crash or Ctrl-C halfway
leaves the previous file as it was. `open_regular_file` refuses folders, FIFOs, devices and file
descriptor numbers before reading, so a load can never hang on a pipe.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "note.txt")
>>> write_atomically(path, lambda f: f.write(b"hello"))
>>> with open_regular_file(path, "load") as f:
...     f.read()
b'hello'
"""

from __future__ import annotations

import os
import secrets
import stat

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def check_path(path, caller):
    """`path` as a str; a file descriptor number or anything else that is not a path is a TypeError."""
    if isinstance(path, (str, bytes, os.PathLike)):
        return os.fsdecode(path)
    what = "a file descriptor number" if isinstance(path, int) else type(path).__name__
    raise TypeError(f"{caller} takes a file path (str or os.PathLike), not {what} ({path!r})")


def write_atomically(path, write, *, durable=True):
    """Call ``write(f)`` on a temporary binary file next to `path`, then rename it to `path`.

    Either the whole new content lands or `path` keeps what it held before; the temporary file is
    removed on any failure, Ctrl-C included. Through a symlink, the file it points to is replaced.
    `durable` also flushes the data to the disk before the rename, so a power cut cannot leave an
    empty file under the name (a checkpoint wants that; a picture that can be redrawn does not).
    """
    target = os.path.realpath(check_path(path, "write_atomically"))
    folder, name = os.path.split(target)
    tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
    # 0o666 as open() uses, so the umask gives the new file the permissions a plain write would.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            if durable:
                f.flush()
                os.fsync(f.fileno())  # the data is on disk before the name points at it
        if os.path.exists(target):
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def open_regular_file(path, caller):
    """Open `path` for binary reading; a ValueError names what it is when it is not a plain file.

    The file is opened without blocking first (opening a FIFO for reading would wait for a
    writer), checked, then switched back to blocking reads.
    """
    path = check_path(path, caller)
    nonblock = getattr(os, "O_NONBLOCK", 0)  # POSIX only; Windows has no FIFOs to wait on
    fd = os.open(path, os.O_RDONLY | nonblock | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "of an unknown kind")
            raise ValueError(f"{caller}: {path} is {kind}, not a file")
        if nonblock:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")
