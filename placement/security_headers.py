"""HTTP security headers on every answer (OWASP ASVS 4.0 chapter 14.4), set by Flask-Talisman.

The content security policy allows only this server's own scripts, styles, images and fonts:
no inline scripts, no inline ``style=`` attributes (templates and the server-rendered SVG
charts use classes and SVG presentation attributes, which a CSP does not govern), no plugins,
no framing, forms only to this server. Dynamic answers carry ``Cache-Control: no-store``
(pages, API answers, downloads and error pages may hold personal data); static files stay
cacheable. TLS is terminated by the reverse proxy, so HTTPS is not forced here
(``FORCE_HTTPS``); HSTS is sent whenever the request came over HTTPS, directly or as the
proxy's ``X-Forwarded-Proto: https``."""

from __future__ import annotations

from flask import Flask, Response, request
from flask_talisman import Talisman

CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",  # Bootstrap's own CSS draws some icons as data: SVG
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

# Features no page of the product uses.
PERMISSIONS_POLICY = {
    "camera": "()",
    "microphone": "()",
    "geolocation": "()",
    "payment": "()",
    "usb": "()",
    "browsing-topics": "()",
}


def init_app(app: Flask) -> None:
    """Security headers on every answer of ``app``, static files cacheable, the rest not."""
    # One Talisman per application: it keeps its app and options on the instance.
    app.extensions["talisman"] = Talisman(
        app,
        force_https=app.config["FORCE_HTTPS"],
        strict_transport_security=True,
        strict_transport_security_max_age=app.config["HSTS_MAX_AGE"],
        strict_transport_security_include_subdomains=False,
        content_security_policy=CONTENT_SECURITY_POLICY,
        permissions_policy=PERMISSIONS_POLICY,
        frame_options="DENY",
        referrer_policy="same-origin",
        # Cookie flags belong to the session configuration, not to the header policy:
        # keep what the configuration says (Talisman would otherwise overwrite them).
        session_cookie_secure=bool(app.config.get("SESSION_COOKIE_SECURE")),
        session_cookie_http_only=bool(app.config.get("SESSION_COOKIE_HTTPONLY", True)),
        session_cookie_samesite=app.config.get("SESSION_COOKIE_SAMESITE") or "Lax",
        x_content_type_options=True,
    )
    app.after_request(_cache_control)


def _is_static() -> bool:
    endpoint = request.endpoint or ""
    return endpoint == "static" or endpoint.endswith(".static")


def _cache_control(response: Response) -> Response:
    """No copy of a dynamic answer in any cache; static files may be cached."""
    if _is_static() and response.status_code < 400:
        return response
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"  # HTTP/1.0 caches
    response.headers.pop("Expires", None)
    return response
