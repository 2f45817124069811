"""Accounts: users and API tokens, permissions, and the audit trail."""
