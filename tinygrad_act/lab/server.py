"""Running the lab: listen on a host and port, then serve the app with uvicorn until Ctrl-C.

The socket is bound here, before uvicorn starts, so a port in use is one clear error (and the URL
printed is one that already accepts connections). `served_hosts` says which host names the lab
answers (the rest is refused: DNS rebinding), and `student_urls` what a class types in.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
import sys

from tinygrad_act.lab import limits
from tinygrad_act.lab.gate import LOOPBACK_HOSTS

EVERY_INTERFACE = ("0.0.0.0", "::", "")


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


def machine_addresses():
    """This machine's IP addresses, IPv6 in brackets (link-local ones left out: a browser cannot
    use them without naming the interface)."""
    import psutil

    found = []
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            if entry.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            address = ipaddress.ip_address(entry.address.split("%", 1)[0])
            if address.is_link_local:
                continue
            found.append(f"[{address}]" if address.version == 6 else str(address))
    return sorted(set(found), key=lambda a: (a.startswith("["), a))


def _bracketed(host):
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def served_hosts(host, allowed=()):
    """The host names the lab answers when it listens on `host`, plus the `--allow-host` names.

    >>> served_hosts("127.0.0.1")
    ['127.0.0.1', '[::1]', 'localhost']
    >>> served_hosts("192.0.2.7", ["lab.school.example"])
    ['192.0.2.7', 'lab.school.example']
    """
    if host in EVERY_INTERFACE:
        names = {"localhost", *machine_addresses()}
    elif is_loopback(host):
        names = {*LOOPBACK_HOSTS, _bracketed(host)}
    else:  # a name or an address of this machine; a name's addresses are served too
        names = {_bracketed(host.lower())}
        with contextlib.suppress(OSError):
            names |= {_bracketed(info[4][0]) for info in socket.getaddrinfo(host, None)}
    return sorted(names | {name.lower() for name in allowed})


def student_urls(host, port):
    """The URLs other machines open when the lab listens on `host`: each of this machine's
    addresses that is not loopback (those `host` listens on), or `host` itself."""
    if is_loopback(host):
        return []
    if host not in EVERY_INTERFACE:
        return [f"http://{_bracketed(host)}:{port}/"]
    ipv4_only = host == "0.0.0.0"
    return [
        f"http://{address}:{port}/"
        for address in machine_addresses()
        if not ipaddress.ip_address(address.strip("[]")).is_loopback
        and not (ipv4_only and address.startswith("["))
    ]


def build_server(app=None):
    """A uvicorn server for the lab app; the app's event streams end as soon as it shuts down.

    Access logs are off: the terminal shows the URL and warnings only. Connections are kept in
    bounds: a request's head and body must each arrive within `limits.REQUEST_SECONDS`, an idle
    connection closes after `limits.KEEP_ALIVE_SECONDS`, and past `limits.MAX_CONNECTIONS`
    uvicorn answers 503 instead of opening more.
    """
    import uvicorn

    from tinygrad_act.lab.app import create_app

    app = app or create_app()
    config = uvicorn.Config(
        app,
        http=_protocol(),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
        timeout_keep_alive=limits.KEEP_ALIVE_SECONDS,
        h11_max_incomplete_event_size=limits.MAX_HEAD_BYTES,
        limit_concurrency=limits.MAX_CONNECTIONS,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    # uvicorn waits for open connections before it stops; the streams ask this and end.
    app.state.stopping = lambda: server.should_exit
    return server


def serve(sock, app=None):
    """Serve the lab on `sock` until Ctrl-C (uvicorn then shuts down and the interrupt re-raises)."""
    # Training threads hold the interpreter in 5 ms slices by default; 1 ms slices let the event
    # loop and the students' requests in sooner (slider p50 ~240 -> ~180 ms with 30 students).
    sys.setswitchinterval(0.001)
    build_server(app).run(sockets=[sock])


def _protocol():
    """uvicorn's HTTP/1.1 protocol with the one timeout it lacks: a request's head must arrive
    within `limits.REQUEST_SECONDS` of the connection opening or of the previous answer.
    Without it a client that sends nothing, or a header line a minute, holds its connection
    (and a file descriptor) for ever; the body's own deadline is `app.read_body`'s."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class LabProtocol(H11Protocol):
        _head_deadline = None

        def connection_made(self, transport):
            super().connection_made(transport)
            self._expect_head()

        def on_response_complete(self):
            super().on_response_complete()
            self._expect_head()

        def handle_events(self):
            cycle = self.cycle
            super().handle_events()
            if self.cycle is not cycle:  # a request's head has arrived
                self._cancel_head_deadline()

        def connection_lost(self, exc):
            self._cancel_head_deadline()
            super().connection_lost(exc)

        def _expect_head(self):
            self._cancel_head_deadline()
            self._head_deadline = self.loop.call_later(limits.REQUEST_SECONDS, self._head_late)

        def _cancel_head_deadline(self):
            if self._head_deadline is not None:
                self._head_deadline.cancel()
                self._head_deadline = None

        def _head_late(self):
            self._head_deadline = None
            idle = self.cycle is None or self.cycle.response_complete
            if idle and not self.transport.is_closing():
                self.transport.close()

    return LabProtocol
