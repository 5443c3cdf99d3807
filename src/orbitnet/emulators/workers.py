"""Train networks in spawned worker processes, a few per process, one TensorFlow thread each.

Repeated training in one TensorFlow process keeps memory that no call returns (~100 MB per
DCNN emulator, measured), so the chapters that train dozens of networks train them here and
then load them from the store. A worker is a fresh interpreter (``spawn``); the pool is
replaced after ``per_process`` tasks per worker (the executor's own ``max_tasks_per_child``
can hang on Python 3.11 when a worker retires).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from tqdm.auto import tqdm

#: What the pool initializer hands to the tasks of one worker process.
STATE: dict[str, Any] = {}


def _start(threads: int, state: dict[str, Any]) -> None:
    """Pool initializer: ``threads`` TensorFlow threads (set before Keras loads, so that a
    network's numbers do not depend on the machine's cores), then the shared ``state``."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    STATE.update(state)


def worth_processes(n_todo: int, min_tasks: int = 2) -> bool:
    """Whether ``n_todo`` trainings are worth worker processes: at least ``min_tasks`` (a
    worker's start-up, ~8 s, costs more than it saves on fewer) and Keras on TensorFlow (with
    JAX on a GPU the caller trains in its own process)."""
    import keras

    return n_todo >= max(1, min_tasks) and keras.backend.backend() == "tensorflow"


def run_in_processes(task: Callable[[Any], None], items: Sequence[Any],
                     state: dict[str, Any], n_jobs: int | None = None, per_process: int = 4,
                     progress: bool = True, desc: str = "networks",
                     name: Callable[[Any], str] = str) -> None:
    """Run ``task(item)`` for every item, ``n_jobs`` worker processes at a time (None: all
    cores), each with one TensorFlow thread and :data:`STATE` filled from ``state``; fresh
    processes after ``per_process`` items each. ``task`` must be a module-level function. The
    first failure cancels the rest and is raised naming ``name(item)``."""
    n = max(1, min(int(n_jobs or os.cpu_count() or 1), len(items)))
    size = n * max(1, int(per_process))
    ctx = multiprocessing.get_context("spawn")
    with tqdm(total=len(items), desc=desc, unit="network", disable=not progress) as bar:
        for start in range(0, len(items), size):
            batch = items[start:start + size]
            with ProcessPoolExecutor(max_workers=min(n, len(batch)), mp_context=ctx,
                                     initializer=_start, initargs=(1, state)) as pool:
                futures = {pool.submit(task, item): item for item in batch}
                for fut in as_completed(futures):
                    try:
                        fut.result()
                    except Exception as exc:
                        for f in futures:
                            f.cancel()
                        raise RuntimeError(f"training {name(futures[fut])} failed: "
                                           f"{type(exc).__name__}: {exc}") from exc
                    bar.update()
