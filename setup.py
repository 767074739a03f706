"""The optional compiled parts: the fast parser's per-line loops (jarvis_diag/logs/_scan.c)
and shape matcher (jarvis_diag/logs/_match.c), and the builder of the correlation's records
(jarvis_diag/_records.c).

Without a C compiler the package still installs, and the parser does the same work with
numpy and the records in Python instead (slower); everything else is in pyproject.toml.
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("jarvis_diag.logs._scan", ["jarvis_diag/logs/_scan.c"], optional=True, extra_compile_args=["-O2", "-Wall"]),
    Extension("jarvis_diag.logs._match", ["jarvis_diag/logs/_match.c"], optional=True, extra_compile_args=["-O2", "-Wall"]),
    Extension("jarvis_diag._records", ["jarvis_diag/_records.c"], optional=True, extra_compile_args=["-O2", "-Wall"]),
])
