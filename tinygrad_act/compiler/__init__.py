"""The backward pass as code: trace a function once, print it as straight-line numpy, run that.

`trace(fn, *args)` runs `fn` once on Values and keeps the graph; its ``code`` is the forward pass
then the backward pass, one line per value, as the course's assignments write them. `compile(fn)`
traces on the first call and then runs the generated code instead of building a graph.
"""

from tinygrad_act.compiler.runner import Compiled, compile
from tinygrad_act.compiler.tracing import Trace, trace

__all__ = ["Compiled", "Trace", "compile", "trace"]
