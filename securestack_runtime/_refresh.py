"""The reload schedule shared by the verifiers and the signer.

Loaded sets are reloaded lazily: the first call after `refresh_seconds` reloads (on the calling thread, once:
concurrent calls keep using the set they have), so a process with no traffic makes no AWS calls and no thread
is started (safe under forking servers). A *miss* (a key or signature that nothing loaded accepts) reloads once
more, because the caller may have switched to a value newer than the set: the rotator adds the pending value
to what verifiers read before it promotes it. Miss reloads are rate-limited to one per `miss_reload_seconds`
per instance, so unknown keys cannot multiply AWS calls. A miss inside that interval waits for the next
allowed reload instead of being refused on a stale set: every miss is decided on a set loaded after it
happened, whatever other misses came just before (a refusal would otherwise depend on unrelated traffic).
An unknown key therefore costs its request at most `miss_reload_seconds` plus one load; a known key never waits.

A failed load keeps the last good set (see _failures); nothing that was not loaded is ever accepted.
"""

import math
import threading
import time
from typing import Callable, Optional


def check_seconds(name: str, value: object, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < minimum:
        raise ValueError(f"{name} must be a number >= {minimum}")
    return float(value)


class ReloadSchedule:
    """When to call `load`, which swaps in a new set. Thread-safe; the set itself is the subclass's business."""

    def __init__(self, load: Callable[[], bool], refresh_seconds: float, miss_reload_seconds: float,
                 clock: Optional[Callable[[], float]] = None, sleep: Optional[Callable[[float], None]] = None) -> None:
        """`load` swaps in a new set and says whether all of it loaded."""
        self._load_fn = load
        self.refresh_seconds = check_seconds("refresh_seconds", refresh_seconds, 1)
        self.miss_reload_seconds = check_seconds("miss_reload_seconds", miss_reload_seconds, 0)
        # Scheduling follows a monotonic clock; an injected clock (tests) drives scheduling and validity alike.
        self._monotonic = clock or time.monotonic
        self._sleep = sleep or time.sleep
        self._load_lock = threading.Lock()  # one load at a time, so a set is never replaced by an older one
        self._miss_lock = threading.Lock()  # queues misses: one reload serves every miss queued before it
        self._next_refresh = -math.inf
        self._last_miss_reload = -math.inf
        self._started = 0  # loads started so far
        self._completed = 0  # the number (1-based) of the last load that completed

    def generation(self) -> int:
        """Loads started so far: a miss seen now is settled by any load numbered above it."""
        return self._started

    def due(self) -> None:
        """Called on every use: reloads if the set is older than refresh_seconds (never waits for another load)."""
        if self._monotonic() < self._next_refresh:
            return
        if not self._load_lock.acquire(blocking=False):
            return  # someone is loading; the set in hand is at most one refresh old
        try:
            self._run_load()
        finally:
            self._load_lock.release()

    def after_miss(self, seen_generation: int) -> None:
        """Returns once a load that started after `seen_generation` completed (rate-limited)."""
        with self._miss_lock:
            if self._completed > seen_generation:
                return
            delay = self._last_miss_reload + self.miss_reload_seconds - self._monotonic()
            if delay > 0:
                self._sleep(delay)
            with self._load_lock:
                if self._completed > seen_generation:
                    return  # a scheduled reload ran meanwhile
                self._last_miss_reload = self._monotonic()
                self._run_load()

    def load_now(self) -> bool:
        with self._load_lock:
            return self._run_load()

    def _run_load(self) -> bool:
        self._started += 1
        number = self._started
        self._next_refresh = self._monotonic() + self.refresh_seconds
        try:
            return self._load_fn()
        finally:
            self._completed = number
