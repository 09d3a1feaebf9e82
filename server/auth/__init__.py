"""Accounts: password hashing, server-side sessions, sign-in rate limit, API tokens, bootstrap."""
