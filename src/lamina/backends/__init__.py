"""lamina.backends: the ``torch.backends`` switches scripts set (cudnn, cuda, mps, cpu).

lamina computes with NumPy/BLAS on the CPU and CuPy on a GPU; it uses neither cuDNN nor MPS,
so ``cudnn.is_available()`` and ``mps.is_available()`` are False. The flags
(``cudnn.benchmark = True``, ``cuda.matmul.allow_tf32 = True``) can be set and read back, and
change nothing.
"""
from . import cpu, cuda, cudnn, mps

__all__ = ["cpu", "cuda", "cudnn", "mps"]
