"""The layers of README.md's Layout are real boundaries: each module's imports, read from its
source, stay inside what its layer may use. Data flows one way (MCP arguments → policy → client →
wire models → domain → result models): the surface is the only layer that speaks MCP, the domain does
no I/O, and the client knows nothing of MCP or of the layers above it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "server" / "positions_mcp"

WIRE_MODELS = {"clearstreet.models", "clearstreet.market_models", "clearstreet.enums", "clearstreet.decimals"}
"""What the domain reads of the client's package: the wire models, never the client that fetches them."""

MAY_USE: dict[str, set[str]] = {
    "domain": {"domain", *WIRE_MODELS},
    "clearstreet": {"clearstreet", "secret"},
    "settings": {"settings", "clearstreet", "secret"},
    "safety": {"safety", "domain", "clearstreet", "settings", "secret"},
    # the simulator stands in for the upstream API: it shares the wire models and the pure rules
    "simulator": {"simulator", "domain", "clearstreet"},
    # actions may start the in-process simulator as the upstream of a demo or a test
    "actions": {"actions", "domain", "safety", "clearstreet", "settings", "simulator"},
    "surface": {"surface", "actions", "domain", "safety", "clearstreet", "settings", "secret", "simulator"},
}
"""For each layer, the layers (or modules of one) of this package it may import."""

NO_IO = {"httpx", "anyio", "asyncio", "socket", "sqlite3", "os", "pathlib", "starlette", "uvicorn", "mcp", "logging"}
SPEAKS_MCP = {"surface", "cli", "demo"}


def imports_of(path: Path, root: Path = PACKAGE) -> set[str]:
    """Every module ``path`` imports, written absolute (``positions_mcp.domain.osi``, ``httpx``)."""
    parts = ["positions_mcp", *path.relative_to(root).parts[:-1]]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = parts[: len(parts) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            if node.module is None:  # `from . import x` imports the module x
                found.update(f"{module}.{alias.name}" for alias in node.names if not alias.name.startswith("__"))
    return found


def allowed(target: str, may_use: set[str]) -> bool:
    return any(target == entry or target.startswith(f"{entry}.") for entry in may_use)


def broken_rules(root: Path = PACKAGE) -> list[str]:
    """Each import under ``root`` that its layer may not make, in words."""
    broken = []
    for path in sorted(root.rglob("*.py")):
        where = path.relative_to(root)
        layer = where.parts[0].removesuffix(".py")
        for module in sorted(imports_of(path, root)):
            # the package itself (``from .. import __version__``) is open to every layer
            target = module.removeprefix("positions_mcp.") if module.startswith("positions_mcp.") else None
            if layer in MAY_USE and target and not allowed(target, MAY_USE[layer]):
                broken.append(f"{where} imports {module}")
            if module.split(".")[0] == "mcp" and layer not in SPEAKS_MCP:
                broken.append(f"{where} speaks MCP ({module}) outside the surface")
            if layer == "domain" and module.split(".")[0] in NO_IO:
                broken.append(f"{where} does I/O ({module}) in the domain")
    return broken


def test_each_layer_imports_only_what_it_may() -> None:
    assert list(PACKAGE.glob("domain/*.py")) and broken_rules() == []


def test_the_check_sees_each_kind_of_broken_rule(tmp_path: Path) -> None:
    """The checker itself, on a package that breaks each rule once (so the test above can fail)."""
    domain, actions = tmp_path / "domain", tmp_path / "actions"
    domain.mkdir()
    actions.mkdir()
    (domain / "fetching.py").write_text("import httpx\nfrom ..clearstreet.client import ClearStreetClient\n")
    (domain / "pure.py").write_text("from ..clearstreet.models import Position\nfrom . import osi\n")
    (actions / "upward.py").write_text("from mcp.server import MCPServer\nfrom ..surface import app\n")
    assert broken_rules(tmp_path) == [
        "actions/upward.py speaks MCP (mcp.server) outside the surface",
        "actions/upward.py imports positions_mcp.surface",
        "domain/fetching.py does I/O (httpx) in the domain",
        "domain/fetching.py imports positions_mcp.clearstreet.client",
    ]
