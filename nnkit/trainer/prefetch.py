"""Reading the next batches on background threads while the current one trains: a generator's ``next``, a
PyDataset's ``__getitem__`` (on ``workers`` threads), the conversion and checks, and the copy to the device through
pinned memory all happen off the training thread, ``depth`` batches ahead at most."""
import collections
from concurrent.futures import ThreadPoolExecutor

from .. import backend

#: What ``fetch`` returns when its source is exhausted.
END = object()


def prefetched(fetch, count=None, workers=1, depth=2, give_back=None):
    """Yield ``fetch(0)``, ``fetch(1)``, ... in order: ``count`` of them, or until one returns ``END``. They run on
    ``workers`` background threads, at most ``depth`` ahead of the consumer. An exception in ``fetch`` is raised
    here, at its turn. When the consumer stops early, ``give_back`` gets the results fetched but not consumed
    (so a one-shot generator's items are not lost)."""
    fetch = backend.on_current_device(fetch)
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="nnkit-prefetch")
    pending, submitted, finished = collections.deque(), 0, False
    try:
        while True:
            while not finished and len(pending) < max(1, depth) and (count is None or submitted < count):
                pending.append(pool.submit(fetch, submitted))
                submitted += 1
            if not pending:
                return
            result = pending.popleft().result()
            if result is END:
                finished = True
                for future in pending:
                    future.cancel()
                pending.clear()
                return
            yield result
    finally:
        for future in pending:
            future.cancel()
        unused = [future.result() for future in pending
                  if not future.cancelled() and future.exception() is None]
        pool.shutdown(wait=True)
        if give_back is not None:
            give_back([result for result in unused if result is not END])
