"""Whether a request comes from this machine (for the deep health check), also behind the
reverse proxy.

A request that names a client in a forwarding header (``X-Forwarded-For``, ``Forwarded``,
``X-Real-IP``) came through a proxy. Its loopback peer address (the proxy on this host) then
says nothing about the client, so it counts as local only if ProxyFix is configured to
trust ``X-Forwarded-For`` (``PROXY_FIX_X_FOR`` > 0), the header has at least that many
entries, and the client address ProxyFix took from it is a loopback address. Without a
forwarding header the peer address decides: 127.0.0.0/8 or ::1."""

from __future__ import annotations

import ipaddress

from flask import Request, current_app

FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def _is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address((address or "").strip("[]")).is_loopback
    except ValueError:
        return False


def from_loopback(request: Request) -> bool:
    """True for a caller on this machine (see the module docstring)."""
    forwarded = [name for name in FORWARDING_HEADERS if name in request.headers]
    if not forwarded:
        return _is_loopback(request.remote_addr)
    trusted = int(current_app.config.get("PROXY_FIX_X_FOR", 0) or 0)
    if trusted <= 0 or "X-Forwarded-For" not in forwarded:
        return False
    hops = [part for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
    if len(hops) < trusted:
        return False  # ProxyFix left the proxy's own address in place
    return _is_loopback(request.remote_addr)
