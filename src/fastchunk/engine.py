"""The native engine as the Face uses it: the C planner and chunk scanner it hands to Plan,
thread defaults, codec layouts, and one read run to its end."""
import functools
import os
import sys

from . import _native, libhdf5
from .errors import FileClosedError

plan_box = _native.plan_box  # the C box planner, handed to plan.make_plan
HAVE_DEFLATE = _native.HAVE_ZLIB


def default_num_threads():
    """Decoder threads of a read that does not say: FASTCHUNK_NUM_THREADS; inside a
    dask.distributed worker, its share of the CPUs (see _dask_worker_share); else the CPUs
    this process may run on."""
    env = os.environ.get("FASTCHUNK_NUM_THREADS")
    if env:
        return max(1, int(env))
    cpus = usable_cpus()
    share = _dask_worker_share(cpus)
    return cpus if share is None else share


@functools.lru_cache(maxsize=1)
def usable_cpus():
    """The CPUs this process may run on (asked once: it is on every read's path)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _dask_worker_share(cpus):
    """Threads per read inside a dask.distributed worker (None outside one). Its tasks run side
    by side, each with one read: dask starts workers with OMP_NUM_THREADS=1 so that native
    libraries do not oversubscribe the cores, and fastchunk honours it; without it, a read gets
    the CPUs divided by the worker's threads."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        nthreads = distributed.get_worker().state.nthreads
    except (ValueError, AttributeError):
        return None  # not in a worker
    omp = os.environ.get("OMP_NUM_THREADS", "")
    if omp.isdigit() and int(omp) > 0:
        return int(omp)
    return max(1, cpus // max(1, nthreads))


def scan_chunks(dset, ndim):
    """A chunked dataset's index records through H5Dchunk_iter with the C visitor (no Python
    call per chunk), or None where libhdf5 cannot be called that way."""
    sink = _native.IndexSink(ndim)
    rc = libhdf5.chunk_iter(dset.id, _native.chunk_visit_address(), sink.address)
    return sink.to_array() if rc is not None and rc >= 0 else None


def layouts(grid, elem_size, filters, flags, convert, last_slab_rows):
    """Native layouts of one stored dataset: layout 0 is the chunk (or row slab); a contiguous
    dataset's short last slab of last_slab_rows rows is layout 1."""
    out = [_native.Layout(grid, elem_size, filters, flags, convert)]
    if last_slab_rows:
        out.append(_native.Layout((last_slab_rows,) + tuple(grid[1:]), elem_size, convert=convert))
    return out


def can_convert(src, dst):
    """True if the workers convert src elements into dst themselves."""
    return _native.can_convert(src, dst)


def run(file, name, rows, regions, step, out_shape, dest, fds, lays, num_threads, describe, closing):
    """Run a read plan into dest; FileClosedError if the file was closed meanwhile."""
    if num_threads is None:  # one chunk is decoded on the caller's thread: no need to ask
        num_threads = 1 if len(rows) == 1 else file.num_threads
    done = _native.read(rows, regions, step, out_shape, dest, fds, lays, num_threads,
                        file.io_inflight_bytes, describe=describe, stop=closing)
    if done is None:
        raise FileClosedError(f"{file.filename}: the file was closed during the read of {name!r}")
    return done
