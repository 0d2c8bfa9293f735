"""Who may drive the lab: the request gate in front of every route.

Any web page a student visits can send requests to the lab's address, and a page on a
DNS-rebinding name (``evil.example`` resolving to the lab) can even read the answers. So:

- a request must be addressed to a host the lab serves (its `Host` header), else 403;
- a POST must come from the lab's own page: an `Origin` other than the lab's own, or a
  browser request (it sends `Sec-Fetch-Site`) from another site, gets 403; scripts that send
  neither (curl, the tests) are let through;
- a POST body must be JSON (``content-type: application/json``, else 415): a cross-site page can
  only send that after a CORS preflight, which the lab never grants;
- a session has at most `limits.MAX_REQUESTS_PER_SESSION` computing requests in flight (past it,
  429), so one busy tab cannot take the worker threads of the others. A request names its
  session in its path or in the ``x-lab-session`` header; requests without one are counted per
  client address.

Every refusal is a one-line JSON ``{"error": ...}``, like the routes' own.
"""

from __future__ import annotations

import json
import re

from tinygrad_act.lab import limits

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")  # what a lab on this machine only answers

# The requests that compute (graph, explorer, training); the page, its files, the menu and the
# long-lived event stream are not counted.
_COMPUTING = re.compile(r"^/api/(graph|activation|sessions/(?P<sid>[^/]+)/train)$")


def host_name(host_header):
    """'Example.org:8000' -> 'example.org', '[::1]:8000' -> '[::1]' (the name without its port)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class RequestGate:
    """ASGI middleware: refuse what did not come from the lab's own page, bound each session."""

    def __init__(self, app, hosts, sessions):
        self.app = app
        self.hosts = frozenset(name.lower() for name in hosts)
        self.sessions = sessions  # the SessionStore's dict: a session in the path must exist
        self.in_flight = {}  # session id (or client address) -> its computing requests now

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        refused = self.refusal(scope, headers)
        if refused is not None:
            await _refuse(send, *refused)
            return
        found = _COMPUTING.match(scope["path"])
        if found is None:
            await self.app(scope, receive, send)
            return
        who = self._who(scope, headers, found["sid"])
        if self.in_flight.get(who, 0) >= limits.MAX_REQUESTS_PER_SESSION:
            await _refuse(
                send,
                429,
                f"this session already has {limits.MAX_REQUESTS_PER_SESSION} requests in "
                "flight (its limit); wait for their answers",
            )
            return
        self.in_flight[who] = self.in_flight.get(who, 0) + 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight[who] -= 1
            if not self.in_flight[who]:
                del self.in_flight[who]

    def refusal(self, scope, headers):
        """(status, message) when the request must not reach the lab, else None."""
        host = headers.get("host", "")
        if host_name(host) not in self.hosts:
            served = ", ".join(sorted(self.hosts))
            return 403, (
                f"this lab answers requests for {served}, not for host {host!r} "
                "(start it with --allow-host NAME to add a name)"
            )
        if scope["method"] != "POST":
            return None
        origin = headers.get("origin")
        own = f"{scope.get('scheme', 'http')}://{host}".lower()
        if origin is not None and origin.lower() != own:
            return (
                403,
                f"requests from {origin!r} are refused: only the lab's own page ({own}) can change it",
            )
        site = headers.get("sec-fetch-site")
        if origin is None and site not in (None, "same-origin"):
            return 403, f"a {site} request is refused: only the lab's own page can change it"
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != "application/json":
            return (
                415,
                f"a POST body must be JSON (content-type: application/json), got {media or 'none'!r}",
            )
        return None

    def _who(self, scope, headers, sid):
        sid = sid or headers.get("x-lab-session")
        if sid in self.sessions:
            return sid
        client = scope.get("client")
        return f"client {client[0] if client else '?'}"


async def _refuse(send, status, message):
    body = json.dumps({"error": " ".join(message.split())}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
