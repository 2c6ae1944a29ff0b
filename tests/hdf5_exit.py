"""Keep libhdf5's exit handler out of test and benchmark runs: import this before h5py.

HDF5 2.0.0 can crash the process after Python has finished, in its own atexit handler
(H5_term_library). A failed dataset open leaks an internal dataset-creation property list
(each failed open of ../shared/realdata/hdf5/tfilters.h5:/nbit leaves one), and in the dask
tests, where the scheduler thread of a LocalCluster unpickles fastchunk datasets, the leaked
list is sometimes a virtual dataset's. At exit H5_term_library closes it, which closes that
dataset's source property lists while HDF5 is walking the same list of identifiers: a
use-after-free that ended about one full test run in five with SIGSEGV (rc 139) after every
test had passed, without a faulthandler trace (Python is gone by then). Two cores showed
  exit -> H5_term_library -> H5P_term_package -> H5I_clear_type -> H5P_close (dcpl)
  -> H5D__virtual_reset_layout -> H5I_dec_ref -> H5P_close -> a freed function pointer.
H5dont_atexit() before the library initialises keeps the handler from being registered. Only
what outlives Python is then left unclosed, and test runs write nothing but temporary files.
fastchunk itself does not do this: a user's program that writes with h5py needs HDF5's exit
handler to flush files left open.
"""
import ctypes
import glob
import importlib.util
import os
import sys


def skip_hdf5_exit_handler():
    """Call H5dont_atexit in the libhdf5 h5py links, if h5py is not imported yet (the call only
    works before HDF5 initialises). Returns True if it was made."""
    if "h5py" in sys.modules:
        return False
    spec = importlib.util.find_spec("h5py")  # the package's place, without importing it
    if spec is None or spec.origin is None:
        return False
    for path in glob.glob(os.path.join(os.path.dirname(spec.origin), "defs.*")):
        try:
            ctypes.CDLL(path).H5dont_atexit()  # resolved in the libhdf5 h5py's extension links
            return True
        except (OSError, AttributeError):
            return False
    return False
