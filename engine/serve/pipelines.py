"""Loaded backends kept between jobs, so the second take on the same models starts at once.

Keyed by engine.generate.backend_key (backend, models, controls, device settings). A miss
means a load is about to happen, so that is when room is made: the least recently used
backend goes first, until fewer than `max_loaded` are held and free memory (RAM, and GPU
memory when CUDA is in use) is above its floor.
"""

import gc
import sys
import threading
from collections import OrderedDict

DEFAULT_MAX_LOADED = 2
DEFAULT_MIN_FREE_MB = 2048


def free_ram_bytes():
    """Available RAM (Linux /proc/meminfo MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def free_vram_bytes():
    """Free memory on the current CUDA device, or None when torch is not loaded or has no GPU."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    free, _total = torch.cuda.mem_get_info()
    return free


def _release_memory():
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


class LoadedBackends:
    """A small LRU mapping backend_key -> loaded backend; thread-safe (the worker writes, /health reads)."""

    def __init__(self, max_loaded=DEFAULT_MAX_LOADED, min_free_mb=DEFAULT_MIN_FREE_MB,
                 free_memory=(free_ram_bytes, free_vram_bytes)):
        self.max_loaded, self.min_free = max_loaded, min_free_mb * 1024 * 1024
        self.free_memory = free_memory
        self._held, self._lock = OrderedDict(), threading.Lock()
        self.evicted = []  # keys, oldest first, for /health readers and tests

    def get(self, key):
        """The loaded backend (now the most recently used), or None after making room for a load."""
        with self._lock:
            if key in self._held:
                self._held.move_to_end(key)
                return self._held[key]
        self.make_room()
        return None

    def __setitem__(self, key, backend):
        with self._lock:
            self._held[key] = backend
            self._held.move_to_end(key)

    def keys(self):
        with self._lock:
            return list(self._held)

    def _short_of_memory(self):
        readings = [read() for read in self.free_memory]
        return any(free is not None and free < self.min_free for free in readings)

    def make_room(self):
        """Evict least recently used backends while one more would exceed max_loaded or memory is short."""
        while True:
            with self._lock:
                if not self._held or (len(self._held) < self.max_loaded and not self._short_of_memory()):
                    return
                key, _backend = self._held.popitem(last=False)
                self.evicted.append(key)
            del _backend
            _release_memory()
