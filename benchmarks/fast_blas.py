"""Imported first by a benchmark, before numpy: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, when the
environment sets them, make OpenBLAS pick kernels that are slow on small matrix products. They
are read when numpy loads OpenBLAS, so this drops them and starts the script again; REMOVED
then says what was dropped (for the benchmark's report)."""
import os
import sys

VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_SAID = "BENCH_REMOVED_BLAS_VARS"
if "numpy" not in sys.modules and any(name in os.environ for name in VARS):
    os.environ[_SAID] = " ".join(f"{name}={os.environ.pop(name)}" for name in VARS if name in os.environ)
    os.execv(sys.executable, [sys.executable, *sys.argv])
REMOVED = os.environ.get(_SAID)
