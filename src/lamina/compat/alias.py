"""``as_torch()``: make ``import torch`` give lamina, so an existing PyTorch script runs on lamina.

    import lamina.compat; lamina.compat.as_torch()     # first lines of the script
    import torch, torch.nn as nn, torch.nn.functional as F
    from torch.utils.data import DataLoader, TensorDataset

How: the torch module names are entered in ``sys.modules`` pointing at lamina's modules
(``torch`` -> ``lamina``, ``torch.nn`` -> ``lamina.nn``, ``torch.utils.data`` -> ``lamina.data``,
...), and an import hook placed first on ``sys.meta_path`` maps any other ``torch.X.Y`` to
``lamina.X.Y`` when it is imported (so ``torch.distributions`` works as soon as lamina has it).
A ``torch.*`` name lamina has no module for raises ModuleNotFoundError naming the lamina module it
looked for; the hook never lets Python load a second copy of a lamina file under a torch name.

It refuses (RuntimeError) when the real PyTorch is already imported: two different ``torch``
modules in one process would mix tensors of both libraries. ``restore()`` undoes it; used as a
context manager (``with as_torch():``) it restores at the end of the block.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

__all__ = ["EAGER", "as_torch", "is_active", "restore", "torch_name_to_lamina"]

# torch module -> lamina module, entered eagerly (when lamina has it); everything else is mapped
# by the hook on import, name for name.
EAGER = {
    "torch": "lamina",
    "torch.nn": "lamina.nn",
    "torch.nn.functional": "lamina.nn.functional",
    "torch.nn.init": "lamina.nn.init",
    "torch.nn.utils": "lamina.nn.utils",
    "torch.nn.parallel": "lamina.nn.parallel",
    "torch.optim": "lamina.optim",
    "torch.optim.lr_scheduler": "lamina.optim.lr_scheduler",
    "torch.utils": "lamina.utils",
    "torch.utils.data": "lamina.data",
    "torch.autograd": "lamina.autograd",
    "torch.autograd.functional": "lamina.autodiff.functional",
    "torch.cuda": "lamina.cuda",
    "torch.accelerator": "lamina.accelerator",
    "torch.backends": "lamina.backends",
    "torch.backends.cudnn": "lamina.backends.cudnn",
    "torch.backends.cuda": "lamina.backends.cuda",
    "torch.backends.mps": "lamina.backends.mps",
    "torch.backends.cpu": "lamina.backends.cpu",
    "torch.distributions": "lamina.distributions",
    "torch.linalg": "lamina.linalg",
}
_PREFIXES = {"torch.utils.data": "lamina.data", "torch.autograd.functional": "lamina.autodiff.functional"}


def torch_name_to_lamina(name: str) -> str:
    """The lamina module that stands for the torch module ``name`` ('torch.nn' -> 'lamina.nn')."""
    if name in EAGER:
        return EAGER[name]
    for tp, lp in _PREFIXES.items():
        if name.startswith(tp + "."):
            return lp + name[len(tp):]
    return "lamina" + name[len("torch"):]


def _is_torch_name(name: str) -> bool:
    return name == "torch" or name.startswith("torch.")


def _import_lamina(torch_name: str):
    target = torch_name_to_lamina(torch_name)
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as e:
        if e.name and (target == e.name or target.startswith(e.name + ".")):
            raise ModuleNotFoundError(
                f"No module named {torch_name!r}: lamina.compat.as_torch() maps torch modules to lamina's, and "
                f"lamina has no {target!r} (run `python -m lamina.compat` to see what lamina covers)",
                name=torch_name) from None
        raise


class _AliasLoader(importlib.abc.Loader):
    """Hands the import system an existing lamina module instead of executing a file."""

    def __init__(self, module):
        self.module = module
        self.spec = getattr(module, "__spec__", None)

    def create_module(self, spec):
        return self.module

    def exec_module(self, module):
        module.__spec__ = self.spec  # module_from_spec set the torch-named spec: give the module its own back


class _TorchFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if not _is_torch_name(fullname):
            return None
        module = _import_lamina(fullname)
        return importlib.util.spec_from_loader(fullname, _AliasLoader(module))


_finder = _TorchFinder()


def _is_ours(module) -> bool:
    return getattr(module, "__name__", "").split(".")[0] == "lamina"


def is_active() -> bool:
    """True while ``import torch`` gives lamina."""
    return _finder in sys.meta_path


def _check_no_real_torch() -> None:
    real = sys.modules.get("torch")
    if real is not None and not _is_ours(real):
        where = getattr(real, "__file__", None) or "?"
        raise RuntimeError(
            f"lamina.compat.as_torch(): the real PyTorch is already imported in this process ({where}). Call "
            "as_torch() before anything imports torch (first lines of the script), or run the script in a "
            "process without PyTorch; two torch modules in one process would mix both libraries' tensors.")


class _Handle:
    """What ``as_torch()`` returns: ``with as_torch() as torch:`` restores on exit."""

    def __enter__(self):
        return sys.modules["torch"]

    def __exit__(self, *exc):
        restore()
        return False


def as_torch() -> _Handle:
    """Make ``import torch`` (and ``torch.nn``, ``torch.nn.functional``, ``torch.optim``,
    ``torch.utils.data``, ``torch.autograd``, ``torch.cuda``, ``torch.backends``, ...) give lamina.

    Idempotent. Raises RuntimeError if the real PyTorch is already imported.
    """
    _check_no_real_torch()
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
    for tname, lname in EAGER.items():
        if tname in sys.modules:
            continue
        try:
            sys.modules[tname] = importlib.import_module(lname)
        except ImportError:  # not in lamina (yet): the hook maps it if a later version has it
            continue
    return _Handle()


def restore() -> None:
    """Undo :func:`as_torch`: ``import torch`` finds the real PyTorch again (if installed)."""
    while _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    for name in [n for n in sys.modules if _is_torch_name(n)]:
        if _is_ours(sys.modules[name]):
            del sys.modules[name]
