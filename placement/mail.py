"""Alert mails: one per recipient and sending run, German, plain text with an HTML
alternative, and only counts, facility names and pseudonymous references. Sent over SMTP
(``MAIL_SERVER``, ``MAIL_PORT``, ``MAIL_DEFAULT_SENDER``, optional TLS and credentials)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import Flask, current_app
from flask_babel import gettext, ngettext
from markupsafe import escape

from placement.messages import alert_line, alert_title
from placement.models.alert import Notification
from placement.models.enums import NotificationKind

SECTIONS = (
    (NotificationKind.FIRING, "Neu"),
    (NotificationKind.REMINDER, "Weiterhin"),
    (NotificationKind.RESOLVED, "Erledigt"),
)


def compose(recipient: str, notifications: list[Notification]) -> EmailMessage:
    """The mail for one recipient: everything new, still firing and resolved; the subject
    names the most severe item."""
    message = EmailMessage()
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    message["To"] = recipient
    message["From"] = sender
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    alerts = [n for n in notifications if n.kind in {k for k, _ in SECTIONS}]
    reports = [n for n in notifications if n.kind not in {k for k, _ in SECTIONS}]
    lines: list[str] = []
    html: list[str] = []
    for kind, heading in SECTIONS:
        items = [n for n in alerts if n.kind == kind]
        if not items:
            continue
        title = gettext(heading)
        lines += ["", f"{title}:"]
        html.append(f"<h2>{escape(title)}</h2><ul>")
        for item in sorted(items, key=lambda n: -n.severity):
            text = alert_line(item.payload["rule"], item.payload["details"])
            lines.append(f"- {text}")
            html.append(f"<li>{escape(text)}</li>")
        html.append("</ul>")
    for report in reports:
        lines += ["", *report.payload.get("lines", [])]
        html += [f"<p>{escape(line)}</p>" for line in report.payload.get("lines", [])]
    message["Subject"] = subject(alerts, reports)
    footer = gettext("Platzplan · Zeiten in Europe/Berlin · keine Antworten an diese Adresse")
    message.set_content("\n".join([*lines, "", "--", footer]).strip() + "\n")
    message.add_alternative(
        "<html><body>"
        + "".join(html)
        + f"<hr><p><small>{escape(footer)}</small></p></body></html>",
        subtype="html",
    )
    for report in reports:
        attachment = report.payload.get("attachment")
        if attachment:
            message.add_attachment(
                attachment["content"].encode("utf-8-sig"),
                maintype="text",
                subtype="csv",
                filename=attachment["filename"],
            )
    return message


def subject(alerts: list[Notification], reports: list[Notification]) -> str:
    """E.g. "Überbelegung: IOCE Am Mühlholz (+28) und 2 weitere"."""
    if not alerts:
        return reports[0].payload.get("subject", "Platzplan") if reports else "Platzplan"
    ordered = sorted(
        alerts,
        key=lambda n: (n.kind == NotificationKind.RESOLVED, -n.severity, n.id),
    )
    first = alert_title(ordered[0].payload["rule"], ordered[0].payload["details"])
    if ordered[0].kind == NotificationKind.RESOLVED:
        first = gettext("Erledigt: %(title)s", title=first)
    # A resolved and a new episode of the same alert in one mail are one subject, not two.
    others = len({n.alert_id or -n.id for n in alerts}) - 1
    if others > 0:
        first += ngettext(" und %(num)d weitere", " und %(num)d weitere", others)
    return first


def send(app: Flask, message: EmailMessage) -> None:
    """Deliver one mail; raises on any SMTP or connection error."""
    config = app.config
    server, port = config["MAIL_SERVER"], int(config["MAIL_PORT"])
    timeout = float(config["MAIL_TIMEOUT"])
    if config["MAIL_USE_SSL"]:
        connection: smtplib.SMTP = smtplib.SMTP_SSL(server, port, timeout=timeout)
    else:
        connection = smtplib.SMTP(server, port, timeout=timeout)
    with connection:
        if config["MAIL_USE_TLS"]:
            connection.starttls()
        if config["MAIL_USERNAME"]:
            connection.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        connection.send_message(message)
