"""The demo a new user runs first (README): the real console script, to the end, saying what the
README promises it shows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_the_demo_runs_to_the_end_and_shows_what_the_readme_promises(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from positions_mcp.domain.calendar import new_york, next_expiry_business_day

    # The demo runs on the real clock. Exercising 2 AAPL 145 calls pays 29,000.00 against 25,000.00
    # of cash; on the demo contracts' expiry day the same night's expiry settles with it (the other
    # 8 calls 116,000.00, the NVDA puts assigned 62,500.00): 182,500.00 short, as the summary says.
    today = new_york(datetime.now(UTC)).date()
    preview_short = "$182,500.00" if next_expiry_business_day(today) == today else "$4,000.00"
    script = Path(sys.executable).with_name("clearstreet-positions-mcp")
    environ = {
        key: value for key, value in os.environ.items() if not key.startswith(("CLEAR_STREET_", "POSITIONS_MCP_"))
    }
    done = subprocess.run(
        [str(script), "demo"],
        env={**environ, "XDG_STATE_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = " ".join(done.stdout.split())
    for shown in (
        "net / gross delta",  # delta exposure
        "WARNING: cash short by $182,500.00 at expiry",  # what expiry needs against the cash
        "What if AAPL falls 10 %?",  # a scenario
        "Refused (ALREADY_USED)",  # single use
        "Refused (WRONG_ARGUMENTS)",  # a token allows its own plan only
        "its keys are the keys sent",
        "Refused (DECLINED)",
        "instruction(s) accepted for processing",
        f"cash short by {preview_short}",  # the exercise preview checks the cash
    ):
        assert shown in out, shown
    assert "Traceback" not in done.stderr
