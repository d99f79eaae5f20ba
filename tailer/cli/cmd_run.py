"""``tailer run``: the live daemon (journal and files in, errors into the store)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run", help="follow the journal and log files, storing errors (the daemon)",
        description="Follow the journal and log files and store their errors until SIGTERM. "
        "Without --config: /etc/tailer/tailer.toml, else the example configuration shipped "
        "with tailer (the system journal when journald runs, /var/log/*.log).",
    )
    parser.add_argument("--config", metavar="FILE", help="TOML configuration file")
    parser.add_argument("--db", metavar="PATH", help="database file (overrides `store`)")
    parser.add_argument("--check", action="store_true",
                        help="validate the configuration, print what it means, and exit")
    parser.add_argument("--verbose", "-v", action="store_true", help="log debug messages")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import logging

    from tailer.config import ConfigError, default_config_path, load_config
    from tailer.daemon.lifecycle import StoreStartError, run_daemon
    from tailer.daemon.logsetup import setup_logging

    setup_logging(logging.DEBUG if args.verbose else logging.INFO)
    try:
        config = load_config(args.config or default_config_path())
        if args.db:
            config = dataclasses.replace(config, store=args.db)
        if args.check:
            print(f"configuration {config.source} is valid; store: {config.store_path()}")
            for field in dataclasses.fields(config):
                print(f"  {field.name} = {getattr(config, field.name)!r}")
            return 0
        return run_daemon(config)
    except ConfigError as exc:
        print(f"tailer run: {exc}", file=sys.stderr)
        return 2
    except StoreStartError as exc:
        print(f"tailer run: {exc}", file=sys.stderr)
        return 1
