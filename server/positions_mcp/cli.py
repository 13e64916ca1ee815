"""Command line: ``clearstreet-positions-mcp [serve options] | simulator | demo``."""

from __future__ import annotations

import argparse
import sys


def _simulator_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="clearstreet-positions-mcp simulator",
        description="Serve the simulated Clear Street positions API over HTTP.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=0, help="seed of the demo book (default 0)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every response")
    args = parser.parse_args(argv)
    from .simulator import serve

    serve(host=args.host, port=args.port, seed=args.seed, latency=args.latency)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "simulator":
        return _simulator_command(argv[1:])
    raise SystemExit("not implemented yet")


if __name__ == "__main__":
    raise SystemExit(main())
