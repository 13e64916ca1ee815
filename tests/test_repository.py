"""The README, mcp.json and .ci/run stay true to the code."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from positions_mcp.settings import OPTIONS, ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_mcp_json_runs_the_console_script_with_known_variables() -> None:
    config = json.loads((ROOT / "mcp.json").read_text())
    script = next(iter(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]))
    known = {option.env for option in OPTIONS}
    servers = config["mcpServers"]
    assert set(servers) == {"clearstreet-positions", "clearstreet-positions-live"}
    for server in servers.values():
        assert server["command"] == script
        assert set(server["env"]) <= known
    assert servers["clearstreet-positions"]["env"] == {}  # the simulator by default


def test_the_live_example_refuses_to_start_until_configured() -> None:
    env = json.loads((ROOT / "mcp.json").read_text())["mcpServers"]["clearstreet-positions-live"]["env"]
    try:
        load_settings({**env, "CLEAR_STREET_API_KEY": "k"})
    except ConfigError as exc:
        assert "is not an account id" in str(exc)
    else:  # pragma: no cover - the placeholder must never pass for an account
        raise AssertionError("the placeholder account id was accepted")


def test_readme_documents_every_setting_and_the_ci_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    for option in OPTIONS:
        assert f"`{option.env}`" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install -r requirements-dev.lock && pip install --no-deps -e . && pytest" in readme
    assert "pip install --quiet -r requirements-dev.lock && python -m pip install --quiet --no-deps -e ." in ci
    assert "pytest" in ci


def test_help_lists_every_flag() -> None:
    script = Path(sys.executable).with_name("clearstreet-positions-mcp")
    help_text = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True).stdout
    for option in OPTIONS:
        assert option.flag in help_text and option.env in help_text


def test_the_startup_bench_checks_the_tools_list_budget() -> None:
    """bench/bench_startup.py fails loudly above the tools/list budget; its size check is
    deterministic, so the tests run it (the timing part is for people, not for CI)."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_startup.py"), "--size-only"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ABOVE BUDGET" not in result.stdout


@pytest.mark.anyio
async def test_readme_names_every_tool_prompt_and_the_largest_page(tmp_path: Path) -> None:
    """The README's surface table lists exactly the tools the server offers (every one, state
    changes allowed), the prompts in prompts/, and the real largest page size."""
    import re

    from mcp import Client
    from positions_mcp.surface.read_tools import MAX_PAGE_SIZE
    from positions_mcp.surface.server import build_server

    readme = (ROOT / "README.md").read_text()
    table = readme.split("## The MCP surface", 1)[1].split("\n\n", 2)[1]
    documented = set(re.findall(r"`(\w+)`", "\n".join(row.split("|")[1] for row in table.splitlines()[2:])))
    settings = load_settings({"POSITIONS_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl")})
    async with Client(build_server(settings)) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        prompts = {prompt.name for prompt in (await client.list_prompts()).prompts}
    assert documented == tools
    assert all(f"`{name}`" in readme for name in prompts)
    assert f"up to {MAX_PAGE_SIZE})" in table


def test_the_lock_pins_every_declared_dependency_within_its_range() -> None:
    """requirements-dev.lock (``uv pip compile pyproject.toml --group dev --generate-hashes
    --universal``) is what CI installs: a dependency added to pyproject.toml, or a range moved past
    the locked version, must come with a new lock."""
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    groups = project["dependency-groups"]
    declared = [*project["project"]["dependencies"]]
    for name in [item["include-group"] for item in groups["dev"] if isinstance(item, dict)]:
        declared += groups[name]
    locked: dict[str, str] = {}
    for line in (ROOT / "requirements-dev.lock").read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, _, rest = line.partition("==")
            locked[name.strip().lower().replace("_", "-")] = rest.split()[0].rstrip(" ;\\")
    for text in declared:
        requirement = Requirement(text)
        name = requirement.name.lower().replace("_", "-")
        assert name in locked, f"{name} is not in requirements-dev.lock: regenerate it"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"{name}=={locked[name]} is outside {requirement.specifier}: regenerate requirements-dev.lock"
        )
