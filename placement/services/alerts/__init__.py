"""Alerts: the rules (``rules``), their state with episodes and the outbox (``engine``),
delivery bookkeeping (``outbox``) and the in-app inbox, silences and thresholds
(``inbox``). Mails are composed and sent by ``placement.mail``; ``placement.jobs`` and the
scheduler drive it."""
