"""Read the next block on a thread of its own while the caller works on this one."""
import threading


def prefetched(read, starts):
    """Yield (start, read(i)) for each start, read(i + 1) running while the caller holds
    block i. An exception from a read is raised where its block would have been yielded."""
    if not starts:
        return
    result = {}

    def fetch(i):
        try:
            result[i] = read(i)
        except BaseException as e:  # handed to the consumer below
            result[i] = e

    worker = threading.Thread(target=fetch, args=(0,), daemon=True)
    worker.start()
    for i, a in enumerate(starts):
        worker.join()
        if isinstance(result[i], BaseException):
            raise result.pop(i)
        if i + 1 < len(starts):
            worker = threading.Thread(target=fetch, args=(i + 1,), daemon=True)
            worker.start()
        # No local keeps the block: once the caller drops it, its memory can be reused.
        yield a, result.pop(i)
