"""Import boundaries (style.md §7.2–7.3), checked on the AST of every module."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICE_PACKAGES = ("catalog_service", "request_service", "stats_service")


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", modules("services"), ids=str)
def test_shared_library_imports_no_service(path: Path):
    bad = {n for n in imports_of(path) if n.split(".")[0] in (*SERVICE_PACKAGES, "gateway")}
    assert not bad, f"services/ must stay domain-free: {path} imports {bad}"


def test_shared_library_modules_declare_all():
    for path in modules("services"):
        if path.name != "__init__.py":
            assert "__all__" in path.read_text(encoding="utf-8"), f"{path} must define __all__"


@pytest.mark.parametrize("package", SERVICE_PACKAGES)
def test_services_never_import_each_other(package: str):
    others = set(SERVICE_PACKAGES) - {package}
    for path in modules(package):
        bad = {n for n in imports_of(path) if n.split(".")[0] in others | {"gateway"}}
        assert not bad, f"{path} imports {bad}: services talk over HTTP and event feeds only"


@pytest.mark.parametrize("package", SERVICE_PACKAGES)
def test_domain_code_does_not_import_fastapi(package: str):
    for path in modules(package):
        if path.name == "domain.py" or path.parent.name == "domain":
            bad = {n for n in imports_of(path) if n.split(".")[0] in ("fastapi", "starlette")}
            assert not bad, f"{path}: domain code must not import {bad}"


def test_gateway_imports_services_only_for_openapi():
    for path in modules("gateway"):
        service_imports = {n for n in imports_of(path) if n.split(".")[0] in SERVICE_PACKAGES}
        if service_imports:
            assert path.name == "openapi.py", f"{path} imports {service_imports}"
