"""Python's parser and compiler, for code that runs on many threads at once (the lab answers each
request on a thread of its own, and a class sends many).

CPython 3.11 counts the depth of the syntax tree it converts in state that all threads share, so
two threads parsing at the same moment can fail with ``SystemError: AST constructor recursion
depth mismatch`` (python/cpython#106905; the lab's load test met it about once in eight runs).
Every parse and compile of this package goes through here and takes one lock: each is short,
and an uncontended lock costs a tenth of a microsecond.

>>> parse("x * w", mode="eval").body.op
<ast.Mult object at ...>
"""

from __future__ import annotations

import ast
import threading

_ONE_AT_A_TIME = threading.Lock()


def parse(text, mode="exec"):
    """`ast.parse`, one thread at a time."""
    with _ONE_AT_A_TIME:
        return ast.parse(text, mode=mode)


def compile_code(source, filename="<string>", mode="exec"):
    """The builtin `compile` of source text or a syntax tree, one thread at a time."""
    with _ONE_AT_A_TIME:
        return compile(source, filename, mode)
