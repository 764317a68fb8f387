"""Cursors of the public change feed (增量同步): opaque numbers, not the internal event ids.

The change feed reads the catalogue's outbox, whose ids also number what the public never sees (drafting, review
steps, organ changes). Handed out as they are, the gap between two public cursors would tell a reader how much
hidden activity happened in between — after a quiet week, five drafts created (security review, issue 11 item 6).
So each id is passed through a keyed permutation of the positive 63-bit integers on the way out and back on the
way in: a 4-round Feistel network on 64 bits with HMAC-SHA256 round functions (Luby–Rackoff: a pseudo-random
permutation), cycle-walked into [1, 2⁶³). The cursor stays an integer that fits the `after` parameter, is stable
for a given key (a harvester's stored cursor keeps working across restarts), and says nothing about order or
distance. 0 stays "from the start". The key is `CATALOG_FEED_CURSOR_KEY`; changing it invalidates stored cursors
(harvesters then resume from 0, which the at-least-once contract makes harmless).
"""

import hashlib
import hmac

LIMIT = 1 << 63  # cursors and ids are positive int64
_MASK32 = (1 << 32) - 1
_ROUNDS = 4


def _round(key: bytes, n: int, half: int) -> int:
    digest = hmac.new(key, n.to_bytes(1, "big") + half.to_bytes(4, "big"), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big")


def _encrypt64(key: bytes, value: int) -> int:
    left, right = value >> 32, value & _MASK32
    for n in range(_ROUNDS):
        left, right = right, left ^ _round(key, n, right)
    return (left << 32) | right


def _decrypt64(key: bytes, value: int) -> int:
    left, right = value >> 32, value & _MASK32
    for n in reversed(range(_ROUNDS)):
        left, right = right ^ _round(key, n, left), left
    return (left << 32) | right


def encode(key: bytes, event_id: int) -> int:
    """The public cursor of an event id (≥ 1): a number in [1, 2⁶³) that only `decode` with the same key undoes."""
    if event_id <= 0:
        return 0
    value = _encrypt64(key, event_id)
    while value >= LIMIT or value == 0:  # cycle-walking: stay inside the domain, still a permutation of it
        value = _encrypt64(key, value)
    return value


def decode(key: bytes, cursor: int) -> int:
    """The event id behind a cursor; 0 → 0 (from the start). Any other number decodes to some id — a forged or stale
    cursor only moves the reader within public data, which anyone may read from 0."""
    if cursor <= 0:
        return 0
    value = _decrypt64(key, cursor)
    while value >= LIMIT or value == 0:
        value = _decrypt64(key, value)
    return value
