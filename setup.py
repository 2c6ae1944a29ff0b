"""Build the one native extension: our C in csrc/ behind a thin Cython layer.

csrc/ is in layers, one folder each (ARCHITECTURE.md): common/, simd/, codecs/, pipeline/,
engine/, plan/; every .c file in them is built, the SIMD kernel files apart with their own
flags (-msse2, -mavx2, -mavx512f ...) and only if the compiler accepts them; the CPU is checked
at run time (csrc/simd/fc_cpu.c), never at build time, so the build never depends on the build
host's CPU. FASTCHUNK_DEBUG=1 builds -O0 -g; FASTCHUNK_SANITIZE=1 adds AddressSanitizer and
UndefinedBehaviorSanitizer (run with LD_PRELOAD of libasan).

Before anything is built (build_py, build_ext, sdist) the named constants of csrc/fastchunk.h
are written to src/fastchunk/_constants.py, so Python reads them without the extension.
"""
import ast
import glob
import json
import os
import re
import sys
import tempfile

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

CSRC = "csrc"
HEADER = os.path.join(CSRC, "fastchunk.h")
CONSTANTS = os.path.join("src", "fastchunk", "_constants.py")
LAYERS = ["common", "simd", "codecs", "pipeline", "engine", "plan"]
# SIMD kernel sets, each built only if the compiler accepts its flags and the set before it
# was built (AVX2's unshuffle falls back to SSE2's, AVX-512 uses AVX2's): flags, the macro
# telling fc_cpu.c the set is there, its files.
SIMD_SETS = [
    (["-msse2"], "FC_HAVE_SSE2", ["simd/fc_bitplane_sse2.c", "simd/fc_unshuffle_sse2.c"]),
    (["-mavx2"], "FC_HAVE_AVX2", ["simd/fc_bitplane_avx2.c", "simd/fc_unshuffle_avx2.c"]),
    (["-mavx512f", "-mavx512bw", "-mgfni"], "FC_HAVE_AVX512", ["simd/fc_bitplane_avx512.c"]),
]
SIMD_SOURCES = [os.path.join(CSRC, f) for _, _, files in SIMD_SETS for f in files]
CORE_SOURCES = [p for layer in LAYERS for p in sorted(glob.glob(os.path.join(CSRC, layer, "*.c")))
                if p not in SIMD_SOURCES]
HEADERS = [HEADER] + sorted(glob.glob(os.path.join(CSRC, "*", "*.h")))

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


def header_tables(path=HEADER):
    """The header's X-macro tables (#define FC_NAME(X) ...) as a function: table name -> the
    argument lists of its X(...) entries, tables it names expanded in place, as cpp does."""
    with open(path, encoding="utf-8") as fh:
        text = re.sub(r"/\*.*?\*/|//[^\n]*", "", fh.read(), flags=re.S).replace("\\\n", " ")
    bodies = dict(re.findall(r"^\s*#\s*define\s+(FC_\w+)\(X\)(.*)$", text, flags=re.M))
    call = re.compile(r'\b(X|FC_\w+)\(((?:[^()"]|"(?:[^"\\]|\\.)*")*)\)')

    def entries(name):
        out = []
        for m in call.finditer(bodies[name]):
            if m.group(1) == "X":
                out.append([a.strip() for a in re.findall(r'"(?:[^"\\]|\\.)*"|[^,]+', m.group(2))])
            else:
                out += entries(m.group(1))
        return out
    return entries


def numpy_code(ctype):
    """numpy type code of a fixed-width C integer type, in this host's byte order."""
    m = re.fullmatch(r"(u?)int(8|16|32|64)_t", ctype)
    if not m:
        sys.exit(f"setup.py: FC_ROW_FIELDS type {ctype} has no numpy code")
    order = "<" if sys.byteorder == "little" else ">"
    return f"{order}{'u' if m.group(1) else 'i'}{int(m.group(2)) // 8}"


def constants_module():
    """The text of _constants.py: every named constant, the errors, the row fields."""
    entries = header_tables()
    lines = ["# generated from csrc/fastchunk.h by setup.py; do not edit"]
    lines += [f"{name} = {int(value.rstrip('uU'), 0)}" for name, value in entries("FC_NAMED_CONSTANTS")]
    errors = [(name, int(code, 0), ast.literal_eval(msg)) for name, code, msg in entries("FC_ERRORS")]
    lines += [f"{name} = {code}" for name, code, _ in errors]
    q = json.dumps  # a JSON string is a Python string literal too
    lines.append("ERRORS = {")
    lines += [f"    {code}: ({q(name)}, {q(msg)})," for name, code, msg in errors]
    lines.append("}")
    lines.append("ROW_FIELDS = [")
    lines += [f"    ({q(name)}, {q(numpy_code(ctype))})," for ctype, name in entries("FC_ROW_FIELDS")]
    lines.append("]")
    return "\n".join(lines) + "\n"


def write_constants():
    """(Re)write _constants.py when the header says something else than it does."""
    text = constants_module()
    if os.path.exists(CONSTANTS):
        with open(CONSTANTS, encoding="utf-8") as fh:
            if fh.read() == text:
                return
    with open(CONSTANTS, "w", encoding="utf-8") as fh:
        fh.write(text)


class BuildPy(build_py):
    def run(self):
        write_constants()
        super().run()


class SDist(sdist):
    def run(self):
        write_constants()
        super().run()


class BuildExt(build_ext):
    """Write the constants, then compile each SIMD kernel set with its own flags, if the
    compiler accepts them."""

    def run(self):
        write_constants()
        super().run()

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
        for i, (flags, macro, files) in enumerate(SIMD_SETS):
            if not self._accepts(flags):
                print(f"fastchunk: compiler rejects {flags}; {macro} and the sets after it left out")
                if i == 0:  # no x86 SIMD at all (as on ARM64): the codecs' x86 variants too
                    ext.define_macros.append(("FC_NO_X86_DISPATCH", "1"))
                break
            objs = self.compiler.compile(
                [os.path.join(CSRC, f) for f in files],
                output_dir=self.build_temp,
                include_dirs=[CSRC],
                extra_postargs=BASE_CFLAGS + flags,
            )
            ext.extra_objects.extend(objs)
            ext.define_macros.append((macro, "1"))
        super().build_extension(ext)


native = Extension(
    "fastchunk._native",
    sources=["src/fastchunk/_native.pyx"] + CORE_SOURCES,
    include_dirs=[CSRC],
    # The SIMD files are compiled apart (BuildExt); naming them and the headers here makes an
    # in-place rebuild relink when only they changed.
    depends=SIMD_SOURCES + HEADERS + ["src/fastchunk/_native.pxd"],
    extra_compile_args=BASE_CFLAGS,
    extra_link_args=LDFLAGS,
    libraries=["m"],  # pow/powf: scale-offset's float decoding
)

setup(
    ext_modules=cythonize([native], language_level=3, compiler_directives={"boundscheck": False}),
    cmdclass={"build_py": BuildPy, "build_ext": BuildExt, "sdist": SDist},
)
