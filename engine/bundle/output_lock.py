"""One writer per output folder: a lock file beside it, `.NAME.lock`, naming the writer.

The lock is the operating system's own file lock (flock on Linux and macOS, msvcrt on
Windows) on that file, so a killed writer's lock ends with its process: the file it leaves
(holding a dead pid) is simply taken over by the next writer. The file's text (pid, host,
start time) is only there to tell the user which process holds the lock.
"""

import errno
import json
import os
import socket
import time
from pathlib import Path

if os.name == "nt":
    import msvcrt
else:
    import fcntl

# Windows locks are mandatory byte ranges: lock one byte far past the holder text, so others can read it.
_LOCKED_BYTE = 1 << 20
_HELD_ERRNOS = (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES, getattr(errno, "EDEADLOCK", errno.EDEADLK))


class LockHeld(Exception):
    """Another live process holds the lock; str() says which."""


def lock_path(final_dir):
    final_dir = Path(final_dir)
    return final_dir.parent / f".{final_dir.name}.lock"


def _try_lock(fd):
    try:
        if os.name == "nt":
            os.lseek(fd, _LOCKED_BYTE, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in _HELD_ERRNOS:
            return False
        raise
    return True


def _unlock(fd):
    if os.name == "nt":
        os.lseek(fd, _LOCKED_BYTE, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _is_current(fd, path):
    """False when the file we locked was removed (by its releasing holder) after we opened it."""
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _holder(fd):
    """'process 123 on host (since 08:50:01 UTC)' from a lock file's text, as far as it can be read."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        record = json.loads(os.read(fd, 4096).decode("utf-8"))
        return f"process {int(record['pid'])} on {record['host']} (since {record['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"  # it has the lock but has not written its name yet


class OutputLock:
    """Held while a writer works on `final_dir`: `with OutputLock(path):` or acquire/release."""

    def __init__(self, final_dir):
        self.path = lock_path(final_dir)
        self._fd = None

    def acquire(self, wait=0.5):
        """Take the lock, waiting up to `wait` seconds (enough for a sweep to finish, not an
        export); raises LockHeld naming the holder, or OSError when the folder is not writable."""
        deadline = time.monotonic() + wait
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if _try_lock(fd):
                if _is_current(fd, self.path):
                    break
                _unlock(fd)
                os.close(fd)
                continue
            holder = _holder(fd)
            os.close(fd)
            if time.monotonic() >= deadline:
                raise LockHeld(holder)
            time.sleep(0.05)
        try:
            record = {"pid": os.getpid(), "host": socket.gethostname(),
                      "since": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, (json.dumps(record) + "\n").encode("utf-8"))
        except OSError:
            self._fd = fd
            self.release()
            raise
        self._fd = fd
        return self

    def release(self):
        """Remove the lock file and let go. On POSIX the file goes first, so a waiting writer
        never keeps a removed file's lock (it checks _is_current); Windows cannot remove an open
        file, so there it goes after, and stays if another writer has opened it meanwhile."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if os.name != "nt":
            _remove(self.path)
        _unlock(fd)
        os.close(fd)
        if os.name == "nt":
            _remove(self.path)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, exc_type, exc, tb):
        self.release()
        return False


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass
