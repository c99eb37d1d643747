"""Command line: run, demo, collect, replay, validate-config and the one-shot tools (`check` is
in cli_check.py). Every exit code is listed in docs/cli.md."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from exporter.app import Daemon, Runtime, load_runtime
from exporter.checks.bounce import classify_bounce
from exporter.checks.smtp_password import derive_smtp_password
from exporter.cli_check import EXIT_OK, EXIT_UNKNOWN, add_check_parser, check, printable
from exporter.collector import EventsCollector
from exporter.config import (
    DEFAULT_PORT,
    Config,
    ConfigError,
    EventsConfig,
    Overrides,
    parse_hostport,
)
from exporter.demo.daemon import DEMO_DIR, DemoDaemon
from exporter.demo.nameserver import DemoNameserver
from exporter.jobs.events import build_pipeline
from exporter.logs import configure_logging
from exporter.malloc import limit_malloc_arenas
from exporter.sources.archive import replay_files
from exporter.version import describe

__all__ = ["main"]


EXIT_CONFIG = 2  # a usage or configuration error (`check` says 3, UNKNOWN, instead)
EXIT_PARTIAL = 1  # collect: a collector is down; replay: a file gave no event
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for `yes | head -1`
_WRITERS = frozenset({"check", "doctor", "collect", "replay", "classify-bounce", "smtp-password"})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ses-deliverability-exporter",
        description="Prometheus exporter for the email deliverability of Amazon SES senders.",
    )
    parser.add_argument("--version", action="version", version=describe())
    sub = parser.add_subparsers(dest="command", required=True)
    _add_daemon_parsers(sub)
    _add_offline_parsers(sub)
    add_check_parser(sub)
    doctor_parser = sub.add_parser(
        "doctor",
        help="check the AWS side of a configuration, read-only (exit 0 pass, 1 warn, 2 fail, "
        "3 unknown)",
    )
    doctor_parser.add_argument("--config", required=True, type=Path, help="TOML configuration file")
    doctor_parser.add_argument("--format", choices=("text", "json"), default="text")
    return parser


def _add_daemon_parsers(sub: Any) -> None:
    """The commands that read a configuration: the daemon, the demo, one pass, validation,
    replay."""
    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("--config", required=True, type=Path, help="TOML configuration file")
    run.add_argument(
        "--listen-address", help=f"override server.listen_address, e.g. 127.0.0.1:{DEFAULT_PORT}"
    )
    run.add_argument("--web-config-file", help="override server.web_config_file")
    run.add_argument("--role", help="override cluster.role: all, checks or events")
    run.add_argument("--shard-count", type=int, help="override cluster.shard_count")
    run.add_argument(
        "--shard-index", help="override cluster.shard_index: a number, or auto (pod ordinal)"
    )

    demo = sub.add_parser("demo", help="run the daemon on bundled zone files (no AWS, no internet)")
    demo.add_argument(  # the container image sets the variable to :10190 (all interfaces)
        "--listen-address",
        default=os.environ.get("SES_EXPORTER_DEMO_LISTEN_ADDRESS", f"127.0.0.1:{DEFAULT_PORT}"),
        help="default: %(default)s ($SES_EXPORTER_DEMO_LISTEN_ADDRESS)",
    )

    collect = sub.add_parser(
        "collect", help="run every enabled collector once and print the exposition to stdout"
    )
    collect.add_argument("--config", required=True, type=Path, help="TOML configuration file")
    validate = sub.add_parser(
        "validate-config", help="exit 0 if the file is valid, 2 with every problem"
    )
    validate.add_argument("file", type=Path)

    replay = sub.add_parser(
        "replay", help="run archived SES events through the pipeline and print the exposition"
    )
    replay.add_argument("paths", nargs="+", type=Path, help="files or directories of events")
    replay.add_argument(
        "--config", type=Path, help="sending domains, watch-list and resolver to use"
    )


def _add_offline_parsers(sub: Any) -> None:
    """The one-shot tools that need no configuration: SMTP password, bounce text."""
    password = sub.add_parser(
        "smtp-password",
        help="derive the SES SMTP password from a secret access key read from stdin",
    )
    password.add_argument("--region", required=True, help="the SES region, e.g. eu-west-1")
    classify = sub.add_parser("classify-bounce", help="explain one bounce diagnostic string")
    classify.add_argument("text", help='the diagnosticCode, e.g. "smtp; 553 5.1.8 ..."')
    classify.add_argument("--bounce-type", help="Permanent, Transient or Undetermined")
    classify.add_argument("--bounce-subtype", help="e.g. General, NoEmail, MailboxFull")
    classify.add_argument("--status", help="the recipient's DSN status, e.g. 5.1.8")
    classify.add_argument("--mail-from-domain", help="your MAIL FROM domain, named in remedies")
    classify.add_argument("--json", action="store_true", help="print JSON")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        # `check` is a monitoring plugin: a usage error is UNKNOWN (3), not argparse's 2.
        if exc.code == 2 and argv[:1] in (["check"], ["doctor"]):  # noqa: PLR2004 - argparse's usage code
            return EXIT_UNKNOWN
        raise
    if args.command not in _WRITERS:
        return _dispatch(args)
    try:
        code = _dispatch(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
    except BrokenPipeError:
        # The reader left (`... | head -2`): stop quietly, as command line tools do. Output
        # still buffered goes to /dev/null, or the interpreter's exit would fail on it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return code


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "validate-config":
        return _validate_config(args.file)
    if args.command == "check":
        return check(args)
    if args.command == "doctor":
        from exporter.doctor import doctor  # noqa: PLC0415 - boto3 only for this command

        return doctor(args)
    if args.command == "smtp-password":
        return _smtp_password(args.region)
    if args.command == "collect":
        return _collect(args.config)
    if args.command == "replay":
        return _replay(args.paths, args.config)
    if args.command == "classify-bounce":
        return _classify(args)
    if args.command == "demo":
        nameserver = DemoNameserver()  # the resolver's stand-in for the internet (loopback)
        return _run(
            DEMO_DIR / "demo.toml", args.listen_address, overrides=nameserver.flags, demo=nameserver
        )
    return _run(args.config, args.listen_address, overrides=_run_overrides(args))


def _run_overrides(args: argparse.Namespace) -> Overrides:
    """The `run` flags as config values, validated (and kept across reloads) like the file."""
    cluster: dict[str, Any] = {}
    if args.role is not None:
        cluster["role"] = args.role
    if args.shard_count is not None:
        cluster["shard_count"] = args.shard_count
    if args.shard_index is not None:
        index = args.shard_index
        cluster["shard_index"] = int(index) if index.isdigit() else index
    overrides: dict[str, dict[str, Any]] = {"cluster": cluster} if cluster else {}
    if args.web_config_file is not None:
        overrides["server"] = {"web_config_file": args.web_config_file}
    return overrides


def _validate_config(path: Path) -> int:
    try:
        runtime = _load(path)
    except ConfigError as exc:
        return _print_config_error(exc)
    print(f"{path}: valid, {len(runtime.config.domains)} domain(s)")
    for warning in runtime.warnings:
        print(f"  warning: {printable(warning)}")
    return EXIT_OK


def _load(path: Path, overrides: Overrides | None = None) -> Runtime:
    """`load_runtime`, with whatever failure it does not name itself still a ConfigError:
    a hostile file gets one line and exit 2, never a traceback."""
    try:
        return load_runtime(path, overrides)
    except ConfigError:
        raise
    except Exception as exc:  # the command line's boundary: one line, not a traceback
        problem = f"cannot be used ({type(exc).__name__}: {str(exc)[:200]})"
        raise ConfigError(str(path), [problem]) from exc


def _print_config_error(exc: ConfigError) -> int:
    print(f"{printable(exc.source)}: invalid configuration", file=sys.stderr)
    for problem in exc.problems:
        print(f"  {printable(problem)}", file=sys.stderr)
    return EXIT_CONFIG


def _replay(paths: list[Path], config_path: Path | None) -> int:
    for path in paths:
        if not path.exists():
            print(f"replay: no such file or directory: {path}", file=sys.stderr)
            return EXIT_CONFIG
    try:
        runtime = _load(config_path) if config_path else None
    except ConfigError as exc:
        return _print_config_error(exc)
    config = runtime.config if runtime else Config(events=EventsConfig(provider_lookup=False))
    pipeline = build_pipeline(config, runtime.overrides if runtime else None)
    summary = replay_files(paths, pipeline)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EventsCollector(pipeline))
    sys.stdout.write(generate_latest(registry).decode())
    for problem in summary.unreadable:
        print(f"replay: {printable(problem)}", file=sys.stderr)
    print(f"replay: {summary.line()}", file=sys.stderr)
    return EXIT_PARTIAL if summary.unreadable else EXIT_OK


def _smtp_password(region: str) -> int:
    """For rotation runbooks: the secret never appears on the command line or in history."""
    secret = sys.stdin.readline().strip()
    if not secret:
        print("smtp-password: no secret access key on stdin", file=sys.stderr)
        return EXIT_CONFIG
    try:
        print(derive_smtp_password(secret, region))
    except ValueError as exc:
        print(f"smtp-password: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return EXIT_OK


def _collect(config_path: Path) -> int:
    """Print the exposition; exit 1 naming every collector that is down (0 when all are up)."""
    try:
        runtime = _load(config_path)
        configure_logging(runtime.config.log.level, runtime.config.log.format)
        daemon = Daemon(config_path, runtime)
    except ConfigError as exc:
        return _print_config_error(exc)
    sys.stdout.write(daemon.collect_once().decode())
    down = [
        f"{name} ({health.last_error})" if health.last_error else name
        for name, health in sorted(daemon.store.read().health.items())
        if not health.up
    ]
    down += [
        f"sqs:{queue} ({state.last_error})" if state.last_error else f"sqs:{queue}"
        for queue, state in sorted(daemon.events.stats.snapshot().items())
        if not state.up
    ]
    for collector in down:
        print(f"collect: collector down: {printable(collector)}", file=sys.stderr)
    return EXIT_PARTIAL if down else EXIT_OK


def _classify(args: argparse.Namespace) -> int:
    diagnosis = classify_bounce(
        args.bounce_type,
        args.bounce_subtype,
        args.status,
        args.text,
        mail_from_domain=args.mail_from_domain,
    )
    fields = {
        "category": diagnosis.category,
        "smtp_code": diagnosis.smtp_code,
        "enhanced_status": diagnosis.enhanced_status,
        "status_class": diagnosis.status_class,
        "explanation": diagnosis.explanation,
        "remedy": diagnosis.remedy,
    }
    if args.json:
        json.dump(fields, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for key, value in fields.items():
            print(f"{key + ':':17}{value if value is not None else '-'}")
    return EXIT_OK


def _run(
    config_path: Path,
    listen_address: str | None,
    *,
    demo: DemoNameserver | None = None,
    overrides: Overrides | None = None,
) -> int:
    limit_malloc_arenas()  # before any thread starts: see exporter.malloc
    try:
        listen = parse_hostport(listen_address, DEFAULT_PORT) if listen_address else None
    except ValueError as exc:
        print(f"--listen-address: {printable(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        runtime = _load(config_path, overrides)
    except ConfigError as exc:
        return _print_config_error(exc)
    configure_logging(runtime.config.log.level, runtime.config.log.format)
    daemon = (
        DemoDaemon(config_path, runtime, listen=listen, nameserver=demo, flags=overrides)
        if demo is not None
        else Daemon(config_path, runtime, listen=listen, flags=overrides)
    )
    try:
        daemon.start()
    except OSError as exc:
        print(f"cannot listen: {exc}", file=sys.stderr)
        return 1
    daemon.serve_until_stopped()
    return 0
