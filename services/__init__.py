"""Gongkai shared library: small and domain-free (style.md §7.3).

Settings, database sessions, errors, auth, pagination, the outbox/event feed, logging and health.
Nothing here names a table of a service, a URL of a service or a domain noun.
"""
