"""The generated TypeScript client compiles (issue 14 item 8): scripts/check_ts_client.sh generates the types from
the merged OpenAPI document of the code with openapi-typescript and compiles clients/typescript/src/example.ts (a
portal page on the pagination contract, labels and problem codes) with `tsc --strict`.

The example reads `next_cursor`, `has_more`, labels and the problem `code` enum as the document now types them: on
the document before issue 14 (response fields optional, `code` a plain string) it does not compile.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_typescript_client_compiles_strict():
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the TypeScript client check (apt-get install nodejs npm)")
    result = subprocess.run(["scripts/check_ts_client.sh"], cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PY": sys.executable})
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert (ROOT / "clients/typescript/src/schema.d.ts").stat().st_size > 10_000

