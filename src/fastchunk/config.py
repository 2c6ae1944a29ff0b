"""What this installation of fastchunk is and runs on: show_config() and the machine facts that
`fastchunk bench --json` and benchmarks/report.py put at the top of their figures."""
import os
import platform
import sys


def cpu_model():
    """The CPU's model name as the OS reports it ('' when it does not)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith(("model name", "Model name", "cpu model", "Hardware")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            import subprocess
            return subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True,
                                  text=True, timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine()


def machine():
    """The machine a figure was measured on: CPU model, cores (online and usable by this
    process), SIMD kernel in use and available, the threads a read uses by default, and the
    software versions that set the speed."""
    import h5py
    import numpy as np

    from . import __version__, _native
    from .engine import default_num_threads, usable_cpus
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "usable_cores": usable_cpus(),
            "simd_kernel": _native.simd_kernel(), "simd_available": _native.simd_available(),
            "threads": default_num_threads(), "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "fastchunk": __version__, "numpy": np.__version__,
            "h5py": h5py.__version__, "hdf5": h5py.version.hdf5_version}


def deflate_native():
    """Whether this build decodes deflate itself (its own inflate; no zlib needed)."""
    from . import _native
    return bool(getattr(_native, "HAVE_DEFLATE", getattr(_native, "HAVE_ZLIB", False)))


def native_codecs():
    """{HDF5 filter name: what fastchunk's C code decodes of it}, for this build."""
    deflate = deflate_native()
    codecs = {"bitshuffle": "with LZ4 or zstd, or none (filter 32008)",
              "lz4": "HDF5 LZ4 filter (32004)",
              "zstd": "filter 32015",
              "lzf": "filter 32000",
              "blosc": "Blosc 1 (32001): blosclz, lz4, lz4hc, snappy, zstd" + (", zlib" if deflate else "")
                       + "; byte and bit shuffle",
              "deflate": "gzip (filter 1), fastchunk's own inflate" if deflate else "not native in this build (h5py reads it)",
              "shuffle": "filter 2",
              "fletcher32": "checksum checked (3)",
              "szip": "filter 4, decoded without libaec",
              "scaleoffset": "filter 6"}
    return codecs


def config():
    """show_config()'s facts as a dict."""
    import hdf5plugin

    from . import _native
    from .engine import default_num_threads
    doc = machine()
    doc.update(hdf5plugin=getattr(hdf5plugin, "version", "?"), deflate_native=deflate_native(),
               default_threads=default_num_threads(),
               threads_from=("FASTCHUNK_NUM_THREADS" if os.environ.get("FASTCHUNK_NUM_THREADS")
                             else "the CPUs this process may use"),
               native_codecs=native_codecs(),
               not_native="Blosc2, nbit, and any other plugin filter: read through h5py + hdf5plugin",
               extension=_native.__file__)
    return doc


def format_config(doc=None):
    """The text show_config() prints."""
    doc = config() if doc is None else doc
    lines = [f"fastchunk {doc['fastchunk']}",
             f"  extension      {doc['extension']}",
             f"  python         {doc['python']} on {doc['os']}",
             f"  numpy          {doc['numpy']}",
             f"  h5py           {doc['h5py']} (HDF5 {doc['hdf5']}), hdf5plugin {doc['hdf5plugin']}",
             f"  cpu            {doc['cpu']}, {doc['cores']} cores ({doc['usable_cores']} usable here)",
             f"  SIMD kernel    {doc['simd_kernel']} (available here: {', '.join(doc['simd_available'])})",
             f"  threads        {doc['default_threads']} per read by default ({doc['threads_from']})",
             f"  deflate        {'native: fastchunk decodes it (zlib not needed)' if doc['deflate_native'] else 'not native: read through h5py'}",
             "  native codecs"]
    for name, what in doc["native_codecs"].items():
        lines.append(f"    {name:<12} {what}")
    lines.append(f"  not native     {doc['not_native']}")
    return "\n".join(lines)


def show_config(file=None):
    """Print what this installation is: version, extension, SIMD kernel in use and available,
    threads, numpy / h5py / HDF5 versions, whether deflate is native, the native codecs."""
    print(format_config(), file=file or sys.stdout)
