"""The lab: a local web app where the engine answers every interaction (``tinygrad-act lab``).

A thin layer over the package's public API, one module per job:

- `limits`       every bound the server enforces, in one place
- `schema`       strict checking of request bodies (unknown fields, wrong types, nan: a 400)
- `explain`      a node's op, local derivative with the numbers plugged in, and its chain rule
- `graph_panel`  the expression panel: parse, backward, the drawing, the step frames
- `explorer`     the activation explorer: g(z), g'(z) three ways, the tangent, the kink note
- `training`     live training runs: networks, steps, curves, decision boundary, health
- `sessions`     one session per browser tab: its run, its stream, its bounds
- `app`          the Starlette routes; `server` runs it with uvicorn

The page (``static/``) is plain HTML, CSS and ES modules: it draws what the server computes.
"""
