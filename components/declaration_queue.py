"""Declarations a component may hand to the stack program to make later, in batches (issue 16, target 3).

The Python SDK starts a task for every Output of a resource when the resource is declared (pulumi/output.py
`Output.__init__`, `asyncio.ensure_future(compute_data())`, pulumi 3.272), and none of them runs before the
program's synchronous part returns: a stack that declares everything at once holds every resource's
pending tasks, coroutines and serialized inputs together (dev + 3,000 API keys: 18,000 resources, ~13 tasks
each, a 1.37 GB peak, of which ~70 % is freed once the Outputs resolve, but never given back to the system). A
program that *arms* the queue (infra/program.py) lets a component queue the declarations nothing declared
synchronously waits for; the program's asynchronous entry point (infra/settle.py) then declares them batch after
batch, letting each batch's Outputs resolve before the next: what is pending at once is what was declared
synchronously plus one batch, not the whole stack.

The rule a component follows: a queued declaration may use anything declared before it, but nothing declared
synchronously may wait for a queued one (settle waits for every pending Output before declaring the next batch:
that wait would never end).
Names, parents, inputs and dependencies are the same whenever a declaration runs: only the order changes.

Nothing is ever silently left undeclared. Unarmed (another program using the component, an SDK without
`pulumi.run`), `defer` declares at once, exactly as a component without the queue would. Armed, the program must
drain the queue: arming it again or closing it while declarations are still queued raises
UndeclaredResourcesError naming them.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable


class UndeclaredResourcesError(RuntimeError):
    """Declarations were queued and the program ended (or started again) without making them."""


class DeclarationQueue:
    """FIFO of (what, declare) pairs; `declare` is called with no arguments and declares resources."""

    def __init__(self) -> None:
        self._armed = False
        self._queued: deque[tuple[str, Callable[[], Any]]] = deque()

    @property
    def armed(self) -> bool:
        return self._armed

    def __len__(self) -> int:
        return len(self._queued)

    def arm(self) -> None:
        """From now on `defer` queues; refuses while an earlier arming's declarations are still queued."""
        self._refuse_undeclared("the queue was armed again")
        self._armed = True

    def defer(self, what: str, declare: Callable[[], Any]) -> None:
        """Declare now (unarmed) or queue for the program's drain (armed). `what` names it in errors."""
        if self._armed:
            self._queued.append((what, declare))
        else:
            declare()

    def declare_next(self, count: int) -> int:
        """Make up to `count` queued declarations, oldest first (those they queue go last); how many were made."""
        made = 0
        while self._queued and made < count:
            _, declare = self._queued.popleft()
            declare()
            made += 1
        return made

    def declare_all(self) -> None:
        while self.declare_next(len(self._queued) or 1):
            pass

    def close(self) -> None:
        """End the arming: raises UndeclaredResourcesError if anything is still queued (nothing is declared)."""
        self._armed = False
        self._refuse_undeclared("the program closed the queue")

    def discard(self) -> None:
        """End the arming of a program that already failed: what it queued is dropped with it."""
        self._armed = False
        self._queued.clear()

    def _refuse_undeclared(self, when: str) -> None:
        if self._queued:
            first = self._queued[0][0]
            count = len(self._queued)
            self._queued.clear()
            raise UndeclaredResourcesError(
                f"{count} queued resource declaration(s) were never made ({first} first) and {when}: the program "
                "that armed the declaration queue must drain it (infra/settle.py settle_outputs)")


# One program runs per process at a time, as the SDK's own settings (pulumi.runtime.settings.SETTINGS) assume.
DECLARATIONS = DeclarationQueue()
