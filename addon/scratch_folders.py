"""Scratch folders for render files, and sweeping the ones killed exports left (bpy-free).

A killed export (SIGKILL, a crash, a farm timeout) never runs its cleanup, so its
`blockcast-render-*` folder stays in the temp folder. Each folder records its owner
(process id and host) in OWNER_FILE; a later export removes a folder only when it is
named like ours, is a real folder of this user, records an owner on this host, and that
process is gone. A live render, ours or anyone's, and any folder without a readable owner
record is left alone.
"""

import json
import os
import shutil
import socket
import tempfile

PREFIX = "blockcast-render-"
OWNER_FILE = "blockcast-owner.json"


def make_scratch_folder(parent=None):
    """A new private folder under `parent` (default: the temp folder), after sweeping stale ones."""
    sweep_stale_folders(parent)
    path = tempfile.mkdtemp(prefix=PREFIX, dir=parent)
    with open(os.path.join(path, OWNER_FILE), "w", encoding="utf-8") as handle:
        json.dump({"pid": os.getpid(), "host": socket.gethostname()}, handle)
    return path


def _process_alive(pid):
    """Whether `pid` runs here (POSIX only: on Windows os.kill(pid, 0) would send Ctrl-C)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _is_stale(path):
    if os.name != "posix":
        return False  # no safe liveness test there: leave the folder to the system's temp cleanup
    try:
        if os.path.islink(path) or not os.path.isdir(path) or os.stat(path).st_uid != os.getuid():
            return False
        with open(os.path.join(path, OWNER_FILE), encoding="utf-8") as handle:
            owner = json.load(handle)
        pid, host = owner["pid"], owner["host"]
    except (OSError, ValueError, KeyError, TypeError):
        return False  # not provably ours: leave it
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or host != socket.gethostname():
        return False
    return pid != os.getpid() and not _process_alive(pid)


def sweep_stale_folders(parent=None):
    """Remove the scratch folders whose owning process has died; returns their paths."""
    parent = parent or tempfile.gettempdir()
    try:
        names = os.listdir(parent)
    except OSError:
        return []
    removed = []
    for name in sorted(names):
        path = os.path.join(parent, name)
        if name.startswith(PREFIX) and _is_stale(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
