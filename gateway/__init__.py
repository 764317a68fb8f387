"""Gongkai's gateway: a thin reverse proxy in front of the three services (style.md §7.11).

Routing by path prefix, JWT check at the edge, rate and body limits, timeouts, request ids, metrics, and the merged
OpenAPI document with Swagger UI / ReDoc served offline. No database and no business rules.
"""
