"""Mint a development token (HS256, GONGKAI_AUTH_JWT_SECRET): make token ROLE=drafter ORGAN=<code>."""

import argparse

from services.auth import mint_token
from services.settings import AuthSettings

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--role", action="append", required=True, help="role; repeat or comma-separate for several")
parser.add_argument("--organ", default=None, help="organ code the person works for")
parser.add_argument("--sub", default=None)
parser.add_argument("--name", default="演示用户")
parser.add_argument("--hours", type=float, default=8)
args = parser.parse_args()
roles = [r.strip() for value in args.role for r in value.split(",") if r.strip()]
sub = args.sub or f"demo-{'-'.join(roles)}"
print(mint_token(AuthSettings(), sub=sub, roles=roles, organ=args.organ or None, name=args.name,
                 ttl_seconds=int(args.hours * 3600)))
