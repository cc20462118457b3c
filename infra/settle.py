"""Settle the program's Outputs before the Python SDK's shutdown wait, in time linear in their number (issue 16).

After the program returns, pulumi's `wait_for_rpcs` (pulumi/runtime/stack.py, unchanged from 3.272 to pulumi/pulumi
master of 2026-08) waits for the tracked Output tasks with `asyncio.wait(pending, return_when=FIRST_COMPLETED)` in a
loop, putting the unfinished ones back each time: every wake-up re-arms a callback on every pending task. Its RPC loop
comes first but finds no RPC yet (a registration's RPC is listed only once its task first runs), so the whole stack
resolves inside that loop: dev + 300 keys re-armed 1.5 M callbacks over ~8,000 pending tasks in 186 wake-ups, half of
the program's CPU, and growing with the square of the stack.

`settle_outputs` waits for the same tasks with `ALL_COMPLETED` instead (one callback per task per round), round after
round, as resolving Outputs creates more, until none is left pending. A task appears in at most one round's pending
snapshot (every task of a round is done when it ends), so the cost is linear. It runs as the program's asynchronous
entry point (`pulumi.run`, pulumi >= 3.254), which the SDK awaits after the program's module code and before
`wait_for_rpcs`; the tasks that failed stay tracked, so `wait_for_rpcs` raises their errors exactly as before.

It reads two SDK internals, the set of tracked Output tasks (`SETTINGS.outputs`, what `wait_for_rpcs` itself waits
for) and its lock; with an SDK that lacks either or `pulumi.run`, nothing is registered and the SDK's own wait does
all the work (slower, same result). Nothing of pulumi is replaced.

It also drains the program's declaration queue (components/declaration_queue.py) when the program armed it
(`arm_declarations`): once the synchronous part's Outputs settled, it declares `DECLARATION_BATCH` queued entries,
settles their Outputs, and so on, so at most one batch of them is pending at a time: the peak RSS of a preview of
dev + 3,000 keys with the pack went from 1,368 MB to ~925 MB, at 1,000 keys from 589 to 450 (bench/scale.py). The
Outputs of the whole stack pending at once were most of the peak, and what they free stays in the process. The
cost in an update would be real: a batch's Outputs resolve once the engine created its resources (a readiness once
its secret's first rotation ended), so a first deployment of thousands of keys would create them in waves of
DECLARATION_BATCH keys instead of all at once (pulumi's `--parallel` is unbounded by default), after the whole
synchronous part (the database among it). So only previews (`pulumi preview`, the preview phase of `pulumi up`, the
offline preview, the drift check) queue; an update declares everything at once, as before, with the old peak.

`program_collector` sets the cyclic garbage collector's thresholds for the program's run and `settle_outputs`
puts the previous ones back once everything resolved. A stack program builds one large graph that lives until it
exits (every resource keeps its Outputs) and makes little cyclic garbage; with CPython's defaults (700, 10, 10) the
collector rescanned that growing graph in a full collection whenever it grew by a quarter: 20 s of the 37 s of dev
+ 1,000 keys, 16 full collections of 1.25 s each. The collector stays on (docs.python.org/3/library/gc.html
`set_threshold`): young objects are collected as before, only less often, and a full collection waits for 100
middle ones, so cyclic garbage is still freed, later.
"""
from __future__ import annotations

import asyncio
import gc
from typing import Any, Callable, Optional

import pulumi
from pulumi.runtime import settings as runtime_settings

from securestack.components.declaration_queue import DECLARATIONS, DeclarationQueue


# gen0 allocations, gen0 collections per gen1, gen1 collections per full collection (defaults 700, 10, 10).
PROGRAM_COLLECTOR_THRESHOLDS = (10_000, 20, 100)
# Queued entries (one API key's policies, rotation and readiness: 4 resources) declared per round.
DECLARATION_BATCH = 200


def _tracked_outputs() -> Optional[set[Any]]:
    return getattr(getattr(runtime_settings, "SETTINGS", None), "outputs", None)


def supported() -> bool:
    """The SDK has an asynchronous entry point and tracks its Output tasks where `wait_for_rpcs` reads them."""
    settings = getattr(runtime_settings, "SETTINGS", None)
    return callable(getattr(pulumi, "run", None)) and isinstance(_tracked_outputs(), set) and \
        hasattr(settings, "lock")


def pending_outputs() -> list[asyncio.Future[Any]]:
    """The tracked Output tasks not yet done (a snapshot, taken under the SDK's lock as `wait_for_rpcs` does)."""
    tracked = _tracked_outputs()
    if tracked is None:
        return []
    with runtime_settings.SETTINGS.lock:
        return [task for task in tracked if not task.done()]


async def _settle() -> None:
    while pending := pending_outputs():
        await asyncio.wait(pending, return_when=asyncio.ALL_COMPLETED)


async def settle_outputs(restore_thresholds: Optional[tuple[int, ...]] = None,
                         declarations: Optional[DeclarationQueue] = None, batch: Optional[int] = None) -> None:
    """Wait until no tracked Output task is pending; then, with an armed `declarations` queue, make its
    declarations `batch` at a time, each batch settled before the next, and close it. Puts the collector's
    `restore_thresholds` back (if given) at the end. Never raises a task's error (`wait_for_rpcs` does); a
    declaration's own error propagates (the program fails, naming it), and the rest of the queue is dropped."""
    try:
        await _settle()
        if declarations is not None:
            while declarations.declare_next(batch or DECLARATION_BATCH):
                await _settle()
            declarations.close()
    except BaseException:
        if declarations is not None:
            declarations.discard()
        raise
    finally:
        if restore_thresholds is not None:
            promote_to_old_generation()
            gc.set_threshold(*restore_thresholds)


def promote_to_old_generation() -> None:
    """Move every tracked object to the collector's oldest generation (gc.freeze, then gc.unfreeze, which puts the
    frozen objects "back into the oldest generation": docs.python.org/3/library/gc.html; both splice lists, O(1)).

    Called once the program's graph settled and before the default thresholds come back: that graph lives until the
    program ends, and with the program's counters far past the defaults the first allocation after the restore
    scanned all of it in a young-generation collection (dev: one 50-90 ms gen-1 collection in Stack._finish, a sixth
    of the program's CPU). In the oldest generation it is scanned only by a full collection, whose own heuristic
    waits until the objects new since the last one outnumber a quarter of it. Nothing becomes uncollectable:
    cyclic garbage among these objects is freed by the next full collection."""
    gc.freeze()
    gc.unfreeze()


def program_collector() -> Optional[tuple[int, ...]]:
    """Set the program's collector thresholds if `settle_after_program` can put them back; the previous ones."""
    if not supported():
        return None
    previous = gc.get_threshold()
    gc.set_threshold(*PROGRAM_COLLECTOR_THRESHOLDS)
    return previous


def arm_declarations(declarations: DeclarationQueue = DECLARATIONS,
                     preview: Optional[bool] = None) -> Optional[DeclarationQueue]:
    """Arm the declaration queue for a preview (`preview`, default: the engine's dry-run flag) if
    `settle_after_program` can drain it; the armed queue, or None (components then declare everything at once).

    Never in an update: there a batch's Outputs resolve only once the engine created its resources (a readiness
    once its secret's first rotation ended), so batches would make a first deployment of thousands of keys wait
    for each wave, and the first batch for the whole synchronous part (the database among it)."""
    if not supported() or not (pulumi.runtime.is_dry_run() if preview is None else preview):
        return None
    declarations.arm()
    return declarations


def settle_after_program(restore_thresholds: Optional[tuple[int, ...]] = None,
                         register: Optional[Callable[[Callable[[], Any]], None]] = None,
                         declarations: Optional[DeclarationQueue] = None) -> bool:
    """Register `settle_outputs` as the program's asynchronous entry point; False if the SDK cannot (then the
    armed `declarations`, if any, are all made here and now, nothing is left queued).

    Call it once, at the end of the program's synchronous part, with what `program_collector` and
    `arm_declarations` returned."""
    if not supported():
        if restore_thresholds is not None:
            gc.set_threshold(*restore_thresholds)
        if declarations is not None:
            declarations.declare_all()
            declarations.close()
        return False
    (register or pulumi.run)(lambda: settle_outputs(restore_thresholds, declarations))
    return True
