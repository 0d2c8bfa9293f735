"""Running the lab: listen on a host and port, then serve the app with uvicorn until Ctrl-C.

The socket is bound here, before uvicorn starts, so a port in use is one clear error (and the URL
printed is one that already accepts connections).
"""

from __future__ import annotations

import errno
import ipaddress
import socket


class LabStartError(Exception):
    """The lab cannot listen where it was asked to: one line for the command to print."""


def listen(host="127.0.0.1", port=8000):
    """A listening socket on host:port and the page's URL; port 0 picks a free port."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as err:
        raise LabStartError(f"cannot listen on host {host!r}: {err}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise LabStartError(
                f"port {port} on {host} is already in use; stop what uses it or choose "
                "another with --port"
            ) from None
        if err.errno == errno.EACCES:
            raise LabStartError(
                f"no permission to listen on port {port} (ports below 1024 need root); "
                "choose another with --port"
            ) from None
        raise LabStartError(f"cannot listen on {host}:{port}: {err.strerror}") from None
    bound = sock.getsockname()[1]
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return sock, f"http://{shown}:{bound}/"


def is_loopback(host):
    """Whether only this machine can reach `host` ('127.0.0.1', '::1', 'localhost')."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_server(app=None):
    """A uvicorn server for the lab app; the app's event streams end as soon as it shuts down.

    Access logs are off: the terminal shows the URL and warnings only.
    """
    import uvicorn

    from tinygrad_act.lab.app import create_app

    app = app or create_app()
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, timeout_graceful_shutdown=2, lifespan="on"
    )
    server = uvicorn.Server(config)
    # uvicorn waits for open connections before it stops; the streams ask this and end.
    app.state.stopping = lambda: server.should_exit
    return server


def serve(sock, app=None):
    """Serve the lab on `sock` until Ctrl-C (uvicorn then shuts down and the interrupt re-raises)."""
    build_server(app).run(sockets=[sock])
