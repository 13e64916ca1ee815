"""Command line: serve MCP (stdio or streamable HTTP), serve the simulator, or run the demo.

Start-up failures print one line on stderr and exit with status 2, never a traceback. Nothing but
the MCP protocol is ever written to stdout while serving.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from . import __version__
from .settings import (
    DEFAULT_HTTP_PORT,
    OPTIONS,
    ConfigError,
    Settings,
    check_http_transport,
    check_oauth,
    load_settings,
)

if TYPE_CHECKING:
    from .surface.oauth import JwtVerifier

PROG = "clearstreet-positions-mcp"
EXIT_CONFIG = 2


def _serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="MCP server for Clear Street positions. Without arguments: serve MCP over stdio "
        "against the embedded simulator. Subcommands: 'simulator' serves the simulated API over "
        "HTTP, 'demo' walks through every capability.",
        epilog="Each option can also be set by the environment variable shown in brackets; the option wins.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--transport", choices=("stdio", "streamable-http"), default="stdio", help="default: stdio")
    parser.add_argument(
        "--host", default=None, help="HTTP address (default 127.0.0.1; with --transport streamable-http)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"HTTP port (default {DEFAULT_HTTP_PORT}; with --transport streamable-http)",
    )
    for option in OPTIONS:
        help_text = f"{option.help} [{option.env}]"
        if option.switch:
            parser.add_argument(option.flag, dest=option.name, action="store_true", default=None, help=help_text)
        else:
            parser.add_argument(
                option.flag, dest=option.name, default=None, metavar=option.name.upper(), help=help_text
            )
    return parser


_TOKEN = re.compile(r"cst1\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*)?")
_OWN_LOGGERS = ("positions_mcp.",)
_QUIET_OWN_LOGGERS = ("positions_mcp.simulator.",)


class ServingLogFilter(logging.Filter):
    """What may reach stderr while serving MCP: no confirmation token and no position data.

    Libraries below WARNING are dropped (the HTTP stack logs every response chunk at DEBUG, the SDK
    logs tool failures, whose text can name positions, at INFO), and so is the embedded simulator's
    own chatter (it logs orders); any confirmation token left in a message is cut out.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name + "."
        own = name.startswith(_OWN_LOGGERS) and not name.startswith(_QUIET_OWN_LOGGERS)
        if record.levelno < logging.WARNING and not own:
            return False
        message = record.getMessage()
        if "cst1." in message:
            record.msg, record.args = _TOKEN.sub("cst1.[redacted]", message), None
        return True


def _configure_logging(level: str, *, serving: bool = False) -> None:
    """Logs go to stderr, whatever the level: stdout belongs to the protocol."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if serving:
        handler.addFilter(ServingLogFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def _fail(message: str) -> int:
    sys.stderr.write(f"{PROG}: {message}\n")
    sys.stderr.flush()
    return EXIT_CONFIG


def load(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> tuple[argparse.Namespace, Settings]:
    """The serve command's arguments and the settings they and ``environ`` (``os.environ``) make."""
    args = _serve_parser().parse_args(list(argv))
    overrides = {option.name: getattr(args, option.name) for option in OPTIONS}
    return args, load_settings(os.environ if environ is None else environ, overrides)


def _check_state_changing(settings: Settings) -> None:
    """State changes are audited and single use is durable: an audit log, a ledger or a token key
    that cannot be written stops start-up."""
    from .actions.dependencies import Dependencies, StartupProblem

    try:
        Dependencies(settings).check_state_changing()
    except StartupProblem as exc:
        raise ConfigError(f"{exc}; {exc.remedy}, or set POSITIONS_MCP_READ_ONLY=true") from None


def _check_desk(settings: Settings) -> JwtVerifier | None:
    """A desk's service: the grants file reads, and the issuer's metadata and keys can be fetched
    (else start-up stops with one line). Returns the checked verifier, to serve with."""
    if settings.account_grants is not None:
        from .safety.grants import load_grants

        load_grants(settings.account_grants)
    if not settings.oauth:
        return None
    from .surface.oauth import JwtVerifier

    verifier = JwtVerifier(settings)
    verifier.check()
    return verifier


def serve(argv: Sequence[str]) -> int:
    try:
        args, settings = load(argv)
        host = args.host if args.host is not None else "127.0.0.1"
        port = args.port if args.port is not None else DEFAULT_HTTP_PORT
        if args.transport == "streamable-http":
            check_http_transport(settings, host)
            if not 0 < port < 65536:
                raise ConfigError(f"--port {port} is not a TCP port (1-65535)")
        elif args.host is not None or args.port is not None:
            given = " and ".join(
                flag for flag, value in (("--host", args.host), ("--port", args.port)) if value is not None
            )
            raise ConfigError(
                f"{given} only apply to the HTTP transport: add --transport streamable-http, or drop them to serve stdio"
            )
        if args.transport == "stdio":
            check_oauth(settings, http=False)
        if settings.state_changing_enabled:
            _check_state_changing(settings)
        verifier = _check_desk(settings)
    except ConfigError as exc:
        return _fail(str(exc))
    for line in settings.withheld:
        sys.stderr.write(f"{PROG}: {line}\n")
    sys.stderr.flush()
    _configure_logging(settings.log_level, serving=True)
    from .surface.server import build_server

    if args.transport == "stdio":
        build_server(settings).run("stdio")
    else:
        from .surface.http import run_http

        run_http(build_server(settings, verifier=verifier), settings, host, port)
    return 0


def simulator(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} simulator",
        description="Serve the simulated Clear Street positions API over HTTP (any non-empty bearer "
        "key is accepted). Point the official SDK at it with CLEAR_STREET_BASE_URL.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=0, help="seed of the demo book (default 0)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every response")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    parser.add_argument(
        "--generate",
        action="append",
        default=[],
        metavar="ACCOUNT=POSITIONS",
        help="add a generated account of that many positions (repeatable), e.g. 777=10000",
    )
    args = parser.parse_args(list(argv))
    generated: dict[int, int] = {}
    for spec in args.generate:
        account, _, count = spec.partition("=")
        if not (account.isdecimal() and count.isdecimal() and int(account) > 0 and int(count) > 0):
            return _fail(f"--generate {spec!r}: expected ACCOUNT=POSITIONS, e.g. 777=10000")
        generated[int(account)] = int(count)
    if not 0 < args.port < 65536:
        return _fail(f"--port {args.port} is not a TCP port (1-65535)")
    if args.latency < 0:
        return _fail("--latency must not be negative")
    _configure_logging(args.log_level)
    from .simulator import serve as serve_simulator

    try:
        serve_simulator(host=args.host, port=args.port, seed=args.seed, latency=args.latency, generated=generated)
    except ValueError as exc:  # e.g. a generated account larger than the simulator allows
        return _fail(str(exc))
    return 0


def demo(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} demo",
        description="A narrated walk through every capability, driven by a real MCP client over "
        "stdio against the embedded simulator.",
    )
    parser.parse_args(list(argv))
    from .demo import run_demo

    return run_demo()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"simulator": simulator, "demo": demo}
    if argv and argv[0] in commands:
        return commands[argv[0]](argv[1:])
    return serve(argv)


if __name__ == "__main__":
    raise SystemExit(main())
