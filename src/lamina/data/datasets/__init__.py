"""Ready-made datasets. Their optional dependencies are imported only when a loader is called."""
from .digits import load_digits, load_digits_splits

__all__ = ["load_digits", "load_digits_splits"]
