"""make mutation: mutation testing (mutmut) of the modules that hold the rules, to show the tests would notice a
wrong rule, not only that they pass. Not part of `make test` or CI: on 2 shared cores with one runner, fees and
visibility take about a quarter of an hour each, outbox and clock (hundreds of mutants) one to two hours.

    make mutation                              # all four modules
    ONLY="fees visibility" make mutation       # some of them
    MAX_CHILDREN=2 make mutation               # more parallel mutants (default 1: the box is shared)
    RESUME=1 ONLY=outbox make mutation         # keep the scratch copy: mutants already checked keep their result
                                               # (unless the test selection changed: mutmut then resets them)
    RESUME=1 ONLY=fees MUTANTS="request_service.domain.fees.x_fee_for*" make mutation   # re-check just these

mutmut lives in its own virtualenv, .venv-mutation (the project's pinned dependencies plus mutmut), made here on
first use: the services never import it. Each module is mutated in a scratch copy of the work tree under
bench-results/tmp/mutation/<name>/ (mutmut rewrites the code into mutants/ there and reads its settings from that
copy's pyproject.toml), against only the focused test files that exercise it, on SQLite, with `-x`: a mutant
dies at the first failing test. The report, bench-results/mutation-<name>.md per module, lists killed / survived /
total and the diff of each surviving mutant; bench-results/mutation.jsonl keeps one line per module and run.

What mutmut cannot check here: decorated functions are never mutated (so the outbox's session hooks are registered
with `event.listen`, not a decorator), and code that runs at import — `Outbox.__init__`, called when a service's
models are imported — ran before the mutant was chosen, so its mutants would all "survive": leave it out with
MUTANTS (see bench-results/mutation-outbox.md). PostgreSQL-only branches (the ordering lock, FOR UPDATE) are
equivalent on SQLite; the PostgreSQL tests cover them.
"""

import json
import os
import shutil
import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-mutation"
MUTMUT_VERSION = "3.8.1"
RESULTS = ROOT / "bench-results"
SCRATCH = RESULTS / "tmp" / "mutation"

# module under mutation → the test files (or classes) that exercise it; mutmut runs, per mutant, only those of
# their tests that reached the mutated function. Small on purpose: every mutant run sets up the test databases.
MODULES: dict[str, tuple[str, list[str]]] = {
    "clock": ("request_service/domain/clock.py",
              ["tests/request_service/test_handling.py", "tests/request_service/test_calendar.py",
               # expired_on: the decisions that must come before the period runs out (延期, 延迟答复)
               *(f"tests/request_service/test_guard_rails.py::{t}" for t in (
                   "test_extension_after_the_period_ran_out_is_refused",
                   "test_extension_while_consulting_after_the_period_ran_out_is_refused",
                   "test_extension_on_the_last_day_is_allowed_and_the_day_after_refused",
                   "test_deferral_after_the_period_ran_out_is_refused")),
               # recompute: a deferred deadline (第三十五条) and a new application's staged ledger (当面提交)
               "tests/request_service/test_statute_procedures.py::test_explain_then_defer_with_a_notice_letter",
               "tests/request_service/test_intake.py::test_in_person_starts_the_clock_on_the_day_handed_in"]),
    "fees": ("request_service/domain/fees.py", ["tests/request_service/test_fees.py"]),
    "visibility": ("catalog_service/domain/visibility.py",
                   ["tests/catalog_service/test_workflow.py", "tests/catalog_service/test_search.py::TestVisibility"]),
    "outbox": ("services/outbox.py", ["tests/services/test_outbox.py"]),
}
PACKAGES = ["services", "catalog_service", "request_service", "stats_service", "gateway"]
# Tests read migrations and alembic.ini from the copy (tests/support.py finds them next to tests/).
ALSO_COPY = ["migrations", "alembic.ini"]
STATUS_ORDER = ("killed", "survived", "no tests", "timeout", "suspicious", "segfault", "caught by type check",
                "check was interrupted by user", "not checked", "skipped")


def ensure_venv() -> Path:
    mutmut = VENV / "bin" / "mutmut"
    if mutmut.exists():
        return mutmut
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["dev"], f"mutmut=={MUTMUT_VERSION}"]
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", *requirements], check=True)
    return mutmut


def scratch_copy(name: str, module: str, tests: list[str], *, resume: bool) -> Path:
    """The tracked and untracked-but-not-ignored files of the work tree (new tests count before they are
    committed), plus mutmut's settings for this module in the copy's pyproject.toml. With `resume` the copy is
    refreshed in place and mutmut's mutants/ (with the results so far) is kept."""
    work = SCRATCH / name
    if not resume:
        shutil.rmtree(work, ignore_errors=True)
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, work / rel)
    settings = {
        "source_paths": PACKAGES,
        "only_mutate": [module],
        "also_copy": ALSO_COPY,
        "pytest_add_cli_args": ["-x", "-q", "-p", "no:cacheprovider"],
        "pytest_add_cli_args_test_selection": tests,
        "use_git_change_detection": False,
    }
    with (work / "pyproject.toml").open("a", encoding="utf-8") as f:
        f.write("\n[tool.mutmut]\n")
        for key, value in settings.items():
            f.write(f"{key} = {json.dumps(value)}\n")
    return work


# Statuses and the diffs of the mutants that were not killed, read in one process inside the mutation virtualenv
# (`mutmut show` per mutant costs a start of mutmut each).
COLLECT = """
import json
from mutmut.__main__ import SourceFileMutationData, get_diff_for_mutant, status_by_exit_code, walk_mutatable_files
out = {}
for path in walk_mutatable_files():
    data = SourceFileMutationData(path=path)
    data.load()
    for key, code in data.exit_code_by_key.items():
        status = status_by_exit_code[code]
        out[key] = {"status": status, "diff": None if status == "killed" else get_diff_for_mutant(key, path=data.path)}
print(json.dumps(out))
"""


def run_module(name: str, max_children: int, *, resume: bool, mutant_names: list[str]) -> dict:
    module, tests = MODULES[name]
    tests = [t for t in tests if (ROOT / t.partition("::")[0]).exists()]
    work = scratch_copy(name, module, tests, resume=resume)
    started = datetime.now(UTC)
    print(f"== mutation: {name} ({module}) against {', '.join(tests)}", flush=True)
    env = {**os.environ, "TEST_DATABASE": "sqlite"}
    log = RESULTS / "tmp" / f"mutation-{name}.log"
    with log.open("a" if resume else "w") as out:
        run = subprocess.run([str(VENV / "bin" / "mutmut"), "run", "--max-children", str(max_children),
                              *mutant_names], cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)
    print(f"   mutmut exit code {run.returncode}; log {log.relative_to(ROOT)}", flush=True)
    collected = subprocess.run([str(VENV / "bin" / "python"), "-c", COLLECT], cwd=work, env=env, check=True,
                               capture_output=True, text=True).stdout
    mutants: dict[str, dict] = json.loads(collected)
    counts = {s: sum(1 for m in mutants.values() if m["status"] == s) for s in STATUS_ORDER}
    survivors = {key: f"{m['status']}\n{m['diff']}" for key, m in sorted(mutants.items()) if m["status"] != "killed"}
    return {"module": name, "path": module, "tests": tests, "at": started.isoformat(timespec="seconds"),
            "seconds": round((datetime.now(UTC) - started).total_seconds()), "exit_code": run.returncode,
            "total": len(mutants), **{k: v for k, v in counts.items() if v}, "survivors": survivors,
            "log": str(log.relative_to(ROOT))}


def report(results: list[dict]) -> str:
    lines = ["# Mutation testing (mutmut)", "",
             f"Run {datetime.now(UTC).isoformat(timespec='seconds')} on SQLite, `pytest -x`, mutmut {MUTMUT_VERSION}.",
             "", "| module | killed | survived | other | total | seconds |", "| --- | --- | --- | --- | --- | --- |"]
    for r in results:
        other = r["total"] - r.get("killed", 0) - r.get("survived", 0)
        lines.append(f"| {r['path']} | {r.get('killed', 0)} | {r.get('survived', 0)} | {other} | {r['total']} "
                     f"| {r['seconds']} |")
    for r in results:
        lines += ["", f"## {r['path']}", "", f"Tests: {', '.join(r['tests'])}; mutmut exit code {r['exit_code']} "
                  f"(log: {r['log']}).", ""]
        if not r["survivors"]:
            lines.append("No surviving mutants.")
        for key, text in r["survivors"].items():
            status, _, diff = text.partition("\n")
            lines += [f"### {key} ({status})", "", "```diff", diff.strip(), "```", ""]
    return "\n".join(lines) + "\n"


def main() -> int:
    names = os.environ.get("ONLY", " ".join(MODULES)).split()
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        print(f"unknown module(s) {unknown}; choose from {list(MODULES)}", file=sys.stderr)
        return 2
    max_children = int(os.environ.get("MAX_CHILDREN", "1"))
    ensure_venv()
    SCRATCH.mkdir(parents=True, exist_ok=True)
    results = []
    for name in names:
        result = run_module(name, max_children, resume=os.environ.get("RESUME") == "1",
                            mutant_names=os.environ.get("MUTANTS", "").split())
        results.append(result)
        with (RESULTS / "mutation.jsonl").open("a", encoding="utf-8") as f:
            f.write(json.dumps({k: v for k, v in result.items() if k != "survivors"}
                               | {"survived_mutants": sorted(result["survivors"])}, ensure_ascii=False) + "\n")
        print(f"   {name}: killed {result.get('killed', 0)}, survived {result.get('survived', 0)}, "
              f"total {result['total']} in {result['seconds']} s", flush=True)
    for result in results:
        path = RESULTS / f"mutation-{result['module']}.md"
        path.write_text(report([result]), encoding="utf-8")
        print(f"report: {path.relative_to(ROOT)}")
    return 0 if all(r["exit_code"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
