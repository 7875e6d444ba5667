"""Named tuples returned by ops that give several tensors, as ``torch.return_types``.

    values, indices = x.sort(dim=1)          # or  r = x.sort(1); r.values, r.indices
"""
from __future__ import annotations

from collections import namedtuple


def _pair(name: str, first: str = "values", second: str = "indices"):
    cls = namedtuple(name, [first, second])
    cls.__doc__ = f"({first}, {second}) returned by {name}, as torch.return_types.{name}."
    return cls


max = _pair("max")
min = _pair("min")
sort = _pair("sort")
topk = _pair("topk")
kthvalue = _pair("kthvalue")
median = _pair("median")
nanmedian = _pair("nanmedian")
mode = _pair("mode")
cummax = _pair("cummax")
cummin = _pair("cummin")
aminmax = _pair("aminmax", "min", "max")
histogram = _pair("histogram", "hist", "bin_edges")
histogramdd = _pair("histogramdd", "hist", "bin_edges")
