"""The package's layers, checked by parsing every ``import`` in deepgrad (also the ones
inside functions): lower layers never import higher ones.

    tensor / autograd / random  ->  ops  ->  nn  ->  vision
                                     optim (never nn)        train  ->  recipes  ->  cli
"""
import ast
import pathlib

import pytest

import deepgrad

ROOT = pathlib.Path(deepgrad.__file__).parent
SUBMODULES = {p.stem for p in ROOT.glob("*.py")} | {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}

# layer -> the top-level parts of deepgrad it must never import
FORBIDDEN = {
    "autograd": {"ops", "nn", "optim", "data", "train", "vision", "recipes", "serialization", "cli", "check"},
    "tensor": {"nn", "optim", "data", "train", "vision", "recipes", "serialization", "cli", "check"},
    "random": {"tensor", "autograd", "ops", "nn", "optim", "data", "train", "vision", "recipes", "serialization", "cli"},
    "ops": {"nn", "optim", "data", "train", "vision", "recipes", "serialization", "cli", "check"},
    "nn": {"optim", "data", "train", "vision", "recipes", "serialization", "cli"},
    "optim": {"nn", "data", "train", "vision", "recipes", "serialization", "cli"},
    "data": {"nn", "optim", "train", "vision", "recipes", "cli"},
    "check": {"train", "vision", "recipes", "cli"},
    "vision": {"train", "recipes", "cli"},
    "train": {"recipes", "cli"},
    "serialization": {"train", "recipes", "cli"},
    "recipes": {"cli"},
}


def _layer(path: pathlib.Path) -> str:
    rel = path.relative_to(ROOT).parts
    return rel[0][:-3] if rel[0].endswith(".py") else rel[0]


def _imports(path: pathlib.Path):
    """(line, top-level deepgrad part) for every import of a deepgrad module in ``path``."""
    pkg = list(path.relative_to(ROOT.parent).parts[:-1])  # e.g. ['deepgrad', 'nn']
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] == "deepgrad" and len(parts) > 1:
                    yield node.lineno, parts[1]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - node.level + 1]
                mod = base + (node.module.split(".") if node.module else [])
            else:
                mod = (node.module or "").split(".")
            if not mod or mod[0] != "deepgrad":
                continue
            if len(mod) > 1:
                yield node.lineno, mod[1]
            else:  # ``from deepgrad import nn, optim``: the names that are submodules
                for a in node.names:
                    if a.name in SUBMODULES:
                        yield node.lineno, a.name


FILES = sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_parser_sees_imports():
    found = dict(((p.relative_to(ROOT).as_posix(), m), ln) for p in FILES for ln, m in _imports(p))
    assert ("nn/module.py", "tensor") in found  # a relative import two levels up
    assert ("nn/linear.py", "ops") in found
    assert any(f.startswith("train/") and m == "nn" for f, m in found)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_upward_import(path):
    layer = _layer(path)
    bad = FORBIDDEN.get(layer, set())
    offending = [f"line {ln}: imports deepgrad.{m}" for ln, m in _imports(path) if m in bad and m != layer]
    assert not offending, f"{path.relative_to(ROOT)} (layer {layer!r}) " + "; ".join(offending)
