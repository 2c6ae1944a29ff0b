"""Build the one native extension: our C in csrc/ behind a thin Cython layer.

SIMD kernel files get their own flags (-msse2, -mavx2, -mavx512f ...) only if the compiler accepts them;
the CPU is checked at run time (csrc/fc_cpu.c), never at build time, so the build never
depends on the build host's CPU. FASTCHUNK_DEBUG=1 builds -O0 -g; FASTCHUNK_SANITIZE=1 adds
AddressSanitizer and UndefinedBehaviorSanitizer (run with LD_PRELOAD of libasan).
"""
import os
import tempfile

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

CSRC = "csrc"
CORE_SOURCES = [
    "fc_lz4.c",
    "fc_bitshuffle.c",
    "fc_bitshuffle_generic.c",
    "fc_lz4_filter.c",
    "fc_lzf.c",
    "fc_blosc.c",
    "fc_blosclz.c",
    "fc_snappy.c",
    "fc_scaleoffset.c",
    "fc_szip.c",
    "fc_zstd.c",
    "fc_zstd_entropy.c",
    "fc_shuffle.c",
    "fc_fletcher32.c",
    "fc_inflate.c",
    "fc_decode.c",
    "fc_convert.c",
    "fc_partial.c",
    "fc_plan.c",
    "fc_cpu.c",
    "fc_pool.c",
    "fc_io.c",
    "fc_job.c",
]
# kernel file -> (flags it needs, macro telling fc_cpu.c it was built)
SIMD_SOURCES = {
    "fc_bitshuffle_sse2.c": (["-msse2"], "FC_HAVE_SSE2"),
    "fc_bitshuffle_avx2.c": (["-mavx2"], "FC_HAVE_AVX2"),
    "fc_bitshuffle_avx512.c": (["-mavx512f", "-mavx512bw", "-mgfni"], "FC_HAVE_AVX512"),
}

DEBUG = os.environ.get("FASTCHUNK_DEBUG") == "1"
SANITIZE = os.environ.get("FASTCHUNK_SANITIZE") == "1"
BASE_CFLAGS = ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
BASE_CFLAGS += ["-O0", "-g"] if DEBUG or SANITIZE else ["-O3"]
LDFLAGS = ["-pthread"]
if SANITIZE:
    # -fno-wrapv: Python's own CFLAGS carry -fwrapv, which would hide signed overflow from UBSan.
    san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined",
           "-fno-wrapv"]
    BASE_CFLAGS += san
    LDFLAGS += san


class BuildExt(build_ext):
    """Compile each SIMD kernel file with its own flags, if the compiler accepts them."""

    def _accepts(self, flags):
        with tempfile.TemporaryDirectory() as tmp:
            probe = os.path.join(tmp, "probe.c")
            with open(probe, "w") as fh:
                fh.write("int main(void) { return 0; }\n")
            try:
                self.compiler.compile([probe], output_dir=tmp, extra_postargs=flags)
                return True
            except Exception:
                return False

    def build_extension(self, ext):
        for name, (flags, macro) in SIMD_SOURCES.items():
            if not self._accepts(flags):
                print(f"fastchunk: compiler rejects {flags}; {name} left out")
                continue
            objs = self.compiler.compile(
                [os.path.join(CSRC, name)],
                output_dir=self.build_temp,
                include_dirs=[CSRC],
                extra_postargs=BASE_CFLAGS + flags,
            )
            ext.extra_objects.extend(objs)
            ext.define_macros.append((macro, "1"))
        if self._has_zlib():
            ext.define_macros.append(("FC_HAVE_ZLIB", "1"))
            ext.libraries.append("z")
        else:
            print("fastchunk: zlib.h not found; deflate chunks will be read through h5py")
        super().build_extension(ext)

    def _has_zlib(self):
        with tempfile.TemporaryDirectory() as tmp:
            probe = os.path.join(tmp, "zprobe.c")
            with open(probe, "w") as fh:
                fh.write("#include <zlib.h>\nint main(void) { return zlibVersion() == 0; }\n")
            try:
                objs = self.compiler.compile([probe], output_dir=tmp)
                self.compiler.link_executable(objs, "zprobe", output_dir=tmp, libraries=["z"])
                return True
            except Exception:
                return False


native = Extension(
    "fastchunk._native",
    sources=["src/fastchunk/_native.pyx"] + [os.path.join(CSRC, s) for s in CORE_SOURCES],
    include_dirs=[CSRC],
    # The SIMD files are compiled apart (BuildExt); naming them and the headers here makes an
    # in-place rebuild relink when only they changed.
    depends=[os.path.join(CSRC, s) for s in SIMD_SOURCES]
    + [os.path.join(CSRC, h) for h in ("fastchunk.h", "fc_internal.h", "fc_job.h")],
    extra_compile_args=BASE_CFLAGS,
    extra_link_args=LDFLAGS,
    libraries=["m"],  # pow/powf: scale-offset's float decoding
)

setup(
    ext_modules=cythonize([native], language_level=3, compiler_directives={"boundscheck": False}),
    cmdclass={"build_ext": BuildExt},
)
