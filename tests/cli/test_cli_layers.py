"""lamina.cli has no import circles: each module imports only modules below it (cli.LAYERS)."""
from __future__ import annotations

import ast
import os

import lamina.cli as cli

ROOT = os.path.dirname(cli.__file__)


def _modules():
    for dirpath, _, files in os.walk(ROOT):
        for f in sorted(files):
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(dirpath, f), ROOT)
                if rel != "__init__.py":
                    yield rel


def _layer(rel: str) -> str:
    return "commands" if rel.startswith("commands" + os.sep) else rel[:-3]


def _cli_imports(rel: str) -> set:
    """The cli modules ``rel`` imports anywhere in it (module level or inside functions)."""
    depth = rel.count(os.sep) + 1  # the number of dots that name lamina.cli from this file
    tree = ast.parse(open(os.path.join(ROOT, rel), encoding="utf-8").read())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == depth:
                out |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
            elif node.level == 0 and (node.module or "").startswith("lamina.cli."):
                out.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[2] for a in node.names if a.name.startswith("lamina.cli.")}
    return out


def test_every_module_has_a_layer():
    assert {_layer(rel) for rel in _modules()} == set(cli.LAYERS)


def test_modules_import_only_the_layers_below_them():
    order = {name: i for i, name in enumerate(cli.LAYERS)}
    bad = []
    for rel in _modules():
        mine = _layer(rel)
        for name in _cli_imports(rel):
            if name in order and order[name] >= order[mine] and not (mine == name == "commands"):
                bad.append(f"{rel} imports {name}")
    assert not bad, bad


def test_the_layers_are_documented():
    doc = " ".join(cli.__doc__.split())
    for name in cli.LAYERS:
        assert f" {name} " in doc, name
