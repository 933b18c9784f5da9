"""`python -m k3s_home <command>` (also the `k3s-home` console script): the Makefile's stack commands.

Exit codes: 0 ok, 1 blocked or failed, 2 bad input (stack config, usage). Refusals are one line.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from components.config import ConfigError, clock
from k3s_home import commands, recover, toolchain
from k3s_home.backend import run_dir
from k3s_home.log import Refusal, log

COMMANDS = ("preview", "up", "destroy", "recover", "cancel", "audit", "record-migration-sources")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="k3s-home", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("preview", help="refresh, preview with the policy pack, save the plan, run the gate")
    p.add_argument("--ack", action="append", default=[], metavar="NAME", help="accept losing this resource")
    p.add_argument("--expect-no-changes", action="store_true", help="fail when the preview has changes")
    p = sub.add_parser("up", help="apply exactly the reviewed plan")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p = sub.add_parser("destroy", help="preview the destroy, gate it, then destroy")
    p.add_argument("--ack", action="append", default=[], metavar="NAME", help="accept losing this resource")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    sub.add_parser("recover", help="settle an interrupted update: stale lock, pending operations, refresh")
    sub.add_parser("cancel", help="clear a stale lock")
    sub.add_parser(
        "record-migration-sources", help="write each migrated claim's live facts into the stack file"
    )
    sub.add_parser("audit", help="k3s-home-audit DIR [...]", add_help=False)
    return parser


def _day() -> date:
    """The day this run judges on, read once and pinned for the program and the pack it starts."""
    try:
        return clock.pin()
    except ConfigError as err:
        raise Refusal(str(err), code=2) from None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "audit":
        from review.audit import main as audit

        return audit(argv[1:])
    run = run_dir()
    try:
        if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
            return commands.passthrough(run, argv)  # any other pulumi subcommand, as stack.sh did
        args = _parser().parse_args(argv)
        today = _day()
        if args.command == "preview":
            extra = ["--expect-no-changes"] if args.expect_no_changes else []
            return commands.preview(run, today, args.ack, extra)
        if args.command == "up":
            return commands.up(run, today, args.yes)
        if args.command == "destroy":
            return commands.destroy(run, today, args.ack, args.yes)
        if args.command == "record-migration-sources":
            return commands.record_migration_sources()
        if args.command == "recover":
            toolchain.require("pulumi")
            return recover.recover(run)
        toolchain.require("pulumi")
        return commands.cancel(run)
    except Refusal as refusal:
        log(str(refusal))
        return refusal.code
    except FileNotFoundError as err:  # a tool gone between the check and its start
        log(toolchain.missing(err))
        return 2
    except KeyboardInterrupt:
        log("interrupted")
        return 130
