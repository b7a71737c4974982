"""Build the Cython extensions.

Every ``.pyx`` under the source packages is one extension module, found by glob so that adding a
family or a value type needs no edit here.  ``CACHEMERE_DEBUG=1`` builds with line tracing and -O0.
"""
import glob
import os

from setuptools import setup, Extension
from Cython.Build import cythonize

PACKAGES = ["protocol", "engine", "server", "replication", "cluster", "services"]
DEBUG = os.environ.get("CACHEMERE_DEBUG") == "1"


def extensions():
    exts = []
    for pkg in PACKAGES:
        for path in sorted(glob.glob(os.path.join(pkg, "**", "*.pyx"), recursive=True)):
            module = path[:-4].replace(os.sep, ".")
            macros = [("CYTHON_TRACE", "1")] if DEBUG else []
            args = ["-O0", "-g"] if DEBUG else ["-O2"]
            exts.append(Extension(module, [path], define_macros=macros, extra_compile_args=args))
    return exts


directives = {
    "language_level": "3",
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "embedsignature": True,
}
if DEBUG:
    directives["linetrace"] = True

setup(
    ext_modules=cythonize(extensions(), compiler_directives=directives, annotate=DEBUG, nthreads=2),
)
