"""How tensors print: ``lamina.set_printoptions`` (PyTorch's names and defaults).

    lamina.set_printoptions(precision=2)        # tensor([0.12, 3.46])
    lamina.set_printoptions(profile="default")  # back to precision 4, threshold 1000, ...
"""
from __future__ import annotations

import math

_PROFILES = {"default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
             "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
             "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80)}
_options = dict(_PROFILES["default"], sci_mode=None)


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """Set how tensors print, as ``torch.set_printoptions``.

    precision: digits after the point (4); threshold: element count above which the middle is
    summarised with '...' (1000); edgeitems: items kept at each edge when summarising (3);
    linewidth: characters per line (80); profile: 'default' | 'short' | 'full' resets all of
    them first; sci_mode: True forces scientific notation, False forbids it, None decides.
    """
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of {sorted(_PROFILES)}, got {profile!r}")
        _options.update(_PROFILES[profile])
    for name, value in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                        ("linewidth", linewidth)):
        if value is not None:
            _options[name] = value
    _options["sci_mode"] = sci_mode


def get_printoptions() -> dict:
    return dict(_options)


def array2string_kwargs(fixed: bool) -> dict:
    """Keyword arguments for ``numpy.array2string`` that follow the current options; ``fixed``
    asks for a fixed number of decimals (floats that are not all whole numbers)."""
    p = int(_options["precision"])
    th = _options["threshold"]
    kw = dict(precision=p, threshold=int(min(th, 2**62)), edgeitems=int(_options["edgeitems"]),
              max_line_width=int(_options["linewidth"]), floatmode="fixed" if fixed else "maxprec")
    if _options["sci_mode"] is True:
        kw["formatter"] = {"float_kind": lambda v: f"{v:.{p}e}"}
    elif _options["sci_mode"] is False:
        kw["suppress_small"] = True
    return kw
