"""Thread policy: how lamina's two thread pools share the cores.

lamina's work runs on two pools: OpenBLAS's pthreads (NumPy's matmuls) and Numba's OpenMP
threads (our fused kernels: norms, softmax, optimizer updates, pooling). By default an OpenMP
thread that finishes a parallel region *spins* for a while before sleeping, and so does an
OpenBLAS thread after a GEMM. With both pools alternating on a 2-core machine, the spinning
threads of one pool steal the cores from the working threads of the other.

Measured on the ``resnet`` benchmark step (2 cores, one other process busy): 229 ms/step with
OpenMP's default (active) waiting, 92 ms/step with ``OMP_WAIT_POLICY=PASSIVE``; BatchNorm's
Numba kernels alone went from 3.2 ms to 0.3 ms per call. So lamina makes OpenMP threads sleep
when idle, unless the user has chosen otherwise.

This must run before Numba first loads its OpenMP runtime (at the first parallel kernel), which
is why ``lamina/__init__.py`` imports this module first. A user's own ``OMP_WAIT_POLICY`` always
wins.
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
