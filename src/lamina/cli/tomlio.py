"""Reading and writing the TOML configs of the command line.

Reading uses the standard library's ``tomllib`` (Python >= 3.11) or its backport ``tomli``
(Python 3.10). Writing uses a small writer of our own: configs are tables of scalars, lists
of scalars and lists of small tables, which it writes as ``[section]`` / ``[section.sub]``
headers and inline tables, so that ``loads(dumps(cfg)) == cfg``.
"""
from __future__ import annotations

import datetime
import json
import math
import re

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    try:
        import tomli as tomllib
    except ModuleNotFoundError:  # pragma: no cover - depends on the interpreter
        tomllib = None

__all__ = ["TOMLDecodeError", "dumps", "loads", "parse_value"]

TOMLDecodeError = tomllib.TOMLDecodeError if tomllib is not None else ValueError
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _need_tomllib():
    if tomllib is None:  # pragma: no cover
        raise RuntimeError("reading TOML on Python 3.10 needs the tomli package: pip install tomli")


def loads(text: str) -> dict:
    """Parse a TOML document into a dict (raises ``TOMLDecodeError``)."""
    _need_tomllib()
    return tomllib.loads(text)


def parse_value(text: str):
    """A single TOML value: ``'5'`` -> 5, ``'[1, 2]'`` -> [1, 2], ``'"adam"'`` -> 'adam'.

    A bare word that is not valid TOML (``adam``, ``runs/x``) is taken as a string, as a shell
    user expects; text that starts like a TOML string, array or table must be valid TOML.
    """
    _need_tomllib()
    text = text.strip()
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        if not text or text[0] in "[{\"'" or "\n" in text:
            raise
        return text


# ---------------------------------------------------------------- writing
def _key(k) -> str:
    k = str(k)
    return k if _BARE_KEY.match(k) else json.dumps(k)


def _scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # JSON string escapes are valid TOML basic strings
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_scalar(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_scalar(x)}" for k, x in v.items()) + "}"
    if hasattr(v, "item"):  # NumPy scalars
        return _scalar(v.item())
    raise TypeError(f"TOML writer: cannot write a value of type {type(v).__name__}: {v!r}")


def _table(d: dict, path: list, out: list) -> None:
    subtables = [(k, v) for k, v in d.items() if isinstance(v, dict)]
    tables_list = [(k, v) for k, v in d.items()
                   if isinstance(v, list) and v and all(isinstance(x, dict) for x in v) and path == []]
    plain = [(k, v) for k, v in d.items() if v is not None and not isinstance(v, dict)
             and (k, v) not in tables_list]
    if path and (plain or not subtables):
        out.append(f"\n[{'.'.join(_key(p) for p in path)}]")
    for k, v in plain:
        out.append(f"{_key(k)} = {_scalar(v)}")
    for k, v in subtables:
        _table(v, path + [k], out)
    for k, v in tables_list:  # top-level arrays of tables: [[transforms]]
        for item in v:
            out.append(f"\n[[{_key(k)}]]")
            out.extend(f"{_key(ik)} = {_scalar(iv)}" for ik, iv in item.items() if iv is not None)


def dumps(cfg: dict) -> str:
    """Write ``cfg`` (nested dicts of scalars and lists) as TOML. ``None`` values are left out."""
    out: list = []
    _table(cfg, [], out)
    return "\n".join(out).lstrip("\n") + "\n"
