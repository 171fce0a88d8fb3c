"""A Babel extraction method for Python that sees a call's arguments as the compiler does.

Babel's own `python` method reads tokens, so `_("a" + name)` or `_(f"Hi {name}")` can come out
as a message the code never looks up. This one reads the syntax tree: a call of a keyword
yields its arguments, each the string literal it is or None, and a call whose arguments are
not exactly the keyword's (one literal for `_`, two and a count for `_n`) yields only Nones,
so Babel skips it and the catalog check reports it (`catalogs.problems`).
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

ARITY = {"_": 1, "_n": 3}
"""How many positional arguments each message function takes."""


def extract_python(
    fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str], options: Mapping[str, Any]
) -> Iterator[tuple[int, str, tuple[str | None, ...], list[str]]]:
    """Babel's extraction interface: (line, function, arguments, comments) per call of a keyword."""
    tree = ast.parse(fileobj.read(), filename=getattr(fileobj, "name", "<unknown>"))
    calls = (node for node in ast.walk(tree) if isinstance(node, ast.Call))
    for node in sorted(calls, key=lambda n: (n.lineno, n.col_offset)):
        function = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        if function is None or function not in keywords:
            continue
        arguments = tuple(_literal(a) for a in node.args)
        arity = ARITY.get(function, len(arguments))
        if len(arguments) != arity or node.keywords or any(a is None for a in arguments[: max(arity - 1, 1)]):
            arguments = (None,) * max(arity, 1)
        yield node.lineno, function, arguments, []


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value else None
