"""Write development tokens for the demo users to data/demo-tokens.txt (one role each, demo organs)."""

from pathlib import Path

from catalog_service.seed import DEMO_ORGAN_CODES
from services.auth import mint_token
from services.settings import AuthSettings

CITY, OFFICE = DEMO_ORGAN_CODES[0], DEMO_ORGAN_CODES[1]
USERS = [
    ("admin", ["admin"], None), ("drafter", ["drafter"], OFFICE), ("division_head", ["division_head"], OFFICE),
    ("unit_head", ["unit_head"], OFFICE), ("secrecy_officer", ["secrecy_officer"], OFFICE),
    ("intake_clerk", ["intake_clerk"], OFFICE), ("handler", ["handler"], OFFICE),
    ("reply_approver", ["reply_approver"], OFFICE), ("stats_officer", ["stats_officer"], CITY),
    ("auditor", ["auditor"], CITY), ("integration", ["integration"], OFFICE), ("service", ["service"], None),
]

settings = AuthSettings()
lines = ["# Development tokens (HS256, valid 7 days). Use: curl -H \"Authorization: Bearer <token>\" ...",
         f"# Demo organs: city {CITY}, office {OFFICE}. Mint others with: make token ROLE=... ORGAN=..."]
for name, roles, organ in USERS:
    tok = mint_token(settings, sub=f"demo-{name}", roles=roles, organ=organ, name=f"演示{name}",
                     ttl_seconds=7 * 24 * 3600)
    lines.append(f"{name}\t{organ or '-'}\t{tok}")
Path("data").mkdir(exist_ok=True)
Path("data/demo-tokens.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
print(f"demo tokens written to data/demo-tokens.txt ({len(USERS)} users)")
