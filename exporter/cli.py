"""Command line: run, demo, check, validate-config."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import socket
import sys
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from prometheus_client import CollectorRegistry, generate_latest

from exporter import __version__
from exporter.app import Daemon, load_runtime
from exporter.checks.bounce import classify_bounce
from exporter.checks.smtp_password import derive_smtp_password
from exporter.collector import EventsCollector
from exporter.config import (
    Config,
    ConfigError,
    EventsConfig,
    Overrides,
    normalize_domain,
    parse_hostport,
)
from exporter.demo import sample_ses_state
from exporter.jobs.dns import check_domains
from exporter.jobs.events import build_pipeline, replay_paths
from exporter.jobs.ses import SesRegionResult
from exporter.logs import configure_logging
from exporter.model import DomainReport, DomainTarget, Status
from exporter.sources.dns import DnsClient, system_nameservers
from exporter.sources.zones import ZoneFileError, ZoneOverrides

__all__ = ["main"]

# monitoring-plugins (Nagios/Icinga) exit codes
EXIT_OK, EXIT_WARN, EXIT_CRITICAL, EXIT_UNKNOWN = 0, 1, 2, 3
EXIT_CONFIG = 2
_EXIT_FOR_STATUS = {
    Status.PASS: EXIT_OK,
    Status.WARN: EXIT_WARN,
    Status.FAIL: EXIT_CRITICAL,
    Status.UNKNOWN: EXIT_UNKNOWN,
}
_ANSI = {Status.PASS: "32", Status.WARN: "33", Status.FAIL: "31", Status.UNKNOWN: "90"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ses-deliverability-exporter",
        description="Prometheus exporter for the email deliverability of Amazon SES senders.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("--config", required=True, type=Path, help="TOML configuration file")
    run.add_argument(
        "--listen-address", help="override server.listen_address, e.g. 127.0.0.1:10190"
    )
    run.add_argument("--web-config-file", help="override server.web_config_file")
    run.add_argument("--role", help="override cluster.role: all, checks or events")
    run.add_argument("--shard-count", type=int, help="override cluster.shard_count")
    run.add_argument(
        "--shard-index", help="override cluster.shard_index: a number, or auto (pod ordinal)"
    )

    demo = sub.add_parser("demo", help="run the daemon on bundled zone files (no AWS, no internet)")
    demo.add_argument("--listen-address", default="127.0.0.1:10190", help="default: %(default)s")

    collect = sub.add_parser(
        "collect", help="run every enabled collector once and print the exposition to stdout"
    )
    collect.add_argument("--config", required=True, type=Path, help="TOML configuration file")

    password = sub.add_parser(
        "smtp-password",
        help="derive the SES SMTP password from a secret access key read from stdin",
    )
    password.add_argument("--region", required=True, help="the SES region, e.g. eu-west-1")

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

    classify = sub.add_parser("classify-bounce", help="explain one bounce diagnostic string")
    classify.add_argument("text", help='the diagnosticCode, e.g. "smtp; 553 5.1.8 ..."')
    classify.add_argument("--bounce-type", help="Permanent, Transient or Undetermined")
    classify.add_argument("--bounce-subtype", help="e.g. General, NoEmail, MailboxFull")
    classify.add_argument("--status", help="the recipient's DSN status, e.g. 5.1.8")
    classify.add_argument("--mail-from-domain", help="your MAIL FROM domain, named in remedies")
    classify.add_argument("--json", action="store_true", help="print JSON")

    check_parser = sub.add_parser(
        "check", help="diagnose one sending domain once (exit 0 pass, 1 warn, 2 fail, 3 unknown)"
    )
    check_parser.add_argument("domain", help="the sending (From) domain")
    check_parser.add_argument(
        "--mail-from", help="the full custom MAIL FROM domain, e.g. mail.example.com"
    )
    check_parser.add_argument(
        "--dkim-token", action="append", default=[], help="an SES Easy DKIM token (repeat for each)"
    )
    check_parser.add_argument("--region", help="the SES region of the identity, e.g. eu-west-1")
    check_parser.add_argument(
        "--nameserver",
        action="append",
        default=[],
        help="HOST[:PORT] to ask instead of resolv.conf; [::1]:53 for IPv6 (repeatable)",
    )
    check_parser.add_argument(
        "--zone-file",
        action="append",
        default=[],
        type=Path,
        help="answer names inside this zone from the file (check a change before publishing it)",
    )
    check_parser.add_argument(
        "--authoritative",
        action="store_true",
        help="ask the domain's own nameservers, past a resolver's cached NXDOMAIN (after a fix)",
    )
    check_parser.add_argument("--timeout", type=float, default=2.0, help="seconds per DNS query")
    check_parser.add_argument("--format", choices=("text", "json"), default="text")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        # `check` is a monitoring plugin: a usage error is UNKNOWN (3), not argparse's 2.
        if exc.code == 2 and argv[:1] == ["check"]:  # noqa: PLR2004 - argparse's usage code
            return EXIT_UNKNOWN
        raise
    if args.command == "validate-config":
        return _validate_config(args.file)
    if args.command == "check":
        return _check(args)
    if args.command == "smtp-password":
        return _smtp_password(args.region)
    if args.command == "collect":
        return _collect(args.config)
    if args.command == "replay":
        return _replay(args.paths, args.config)
    if args.command == "classify-bounce":
        return _classify(args)
    if args.command == "demo":
        demo = Path(str(resources.files("exporter.demo")))
        return _run(
            demo / "demo.toml",
            args.listen_address,
            replay=(demo / "events",),
            seed_ses=(sample_ses_state(),),
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
        runtime = load_runtime(path)
    except ConfigError as exc:
        return _print_config_error(exc)
    print(f"{path}: valid, {len(runtime.config.domains)} domain(s)")
    return EXIT_OK


def _print_config_error(exc: ConfigError) -> int:
    print(f"{exc.source}: invalid configuration", file=sys.stderr)
    for problem in exc.problems:
        print(f"  {problem}", file=sys.stderr)
    return EXIT_CONFIG


def _replay(paths: list[Path], config_path: Path | None) -> int:
    for path in paths:
        if not path.exists():
            print(f"replay: no such file or directory: {path}", file=sys.stderr)
            return EXIT_CONFIG
    try:
        runtime = load_runtime(config_path) if config_path else None
    except ConfigError as exc:
        return _print_config_error(exc)
    config = runtime.config if runtime else Config(events=EventsConfig(provider_lookup=False))
    pipeline = build_pipeline(config, runtime.overrides if runtime else None)
    replay_paths(paths, pipeline)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EventsCollector(pipeline))
    sys.stdout.write(generate_latest(registry).decode())
    return EXIT_OK


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
    try:
        runtime = load_runtime(config_path)
    except ConfigError as exc:
        return _print_config_error(exc)
    configure_logging(runtime.config.log.level, runtime.config.log.format)
    sys.stdout.write(Daemon(config_path, runtime).collect_once().decode())
    return EXIT_OK


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
    replay: tuple[Path, ...] = (),
    seed_ses: tuple[SesRegionResult, ...] = (),
    overrides: Overrides | None = None,
) -> int:
    try:
        runtime = load_runtime(config_path, overrides)
        listen = parse_hostport(listen_address, 10190) if listen_address else None
    except ConfigError as exc:
        return _print_config_error(exc)
    except ValueError as exc:
        print(f"--listen-address: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(runtime.config.log.level, runtime.config.log.format)
    daemon = Daemon(
        config_path,
        runtime,
        listen=listen,
        replay=replay,
        seed_ses=seed_ses,
        flags=overrides,
    )
    try:
        daemon.start()
    except OSError as exc:
        print(f"cannot listen: {exc}", file=sys.stderr)
        return 1
    daemon.serve_until_stopped()
    return 0


def _check(args: argparse.Namespace) -> int:
    try:
        target = DomainTarget(
            name=normalize_domain(args.domain),
            mail_from=normalize_domain(args.mail_from) if args.mail_from else None,
            dkim_tokens=tuple(t.strip().lower() for t in args.dkim_token),
            region=args.region,
        )
        nameservers = []
        for text in args.nameserver:
            host, port = parse_hostport(text, 53)
            nameservers.append((_nameserver_address(host), port))
        overrides = ZoneOverrides.from_files(args.zone_file)
    except (ValueError, ZoneFileError) as exc:
        print(f"ses-deliverability-exporter check: error: {exc}", file=sys.stderr)
        return EXIT_UNKNOWN
    if args.timeout <= 0:
        print(
            "ses-deliverability-exporter check: error: --timeout must be positive", file=sys.stderr
        )
        return EXIT_UNKNOWN

    async def run() -> DomainReport:
        client = DnsClient(
            nameservers=nameservers or system_nameservers(),
            timeout=args.timeout,
            attempts=2,
            concurrency=16,
            overrides=overrides,
            authoritative=args.authoritative,
        )
        result = await check_domains([target], client)
        return result.reports[0]

    report = asyncio.run(run())
    if args.format == "json":
        json.dump(report_json(report), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        write_report_text(report, sys.stdout, colour=sys.stdout.isatty())
    return _EXIT_FOR_STATUS[report.worst]


def _nameserver_address(host: str) -> str:
    """An IP address as given, or a host name (`localhost`, `ns1.example.net`) resolved once."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, 53, type=socket.SOCK_DGRAM)
    except OSError as exc:
        raise ValueError(f"nameserver {host!r} does not resolve: {exc}") from exc
    return str(infos[0][4][0])


def report_json(report: DomainReport) -> dict[str, object]:
    """The pinned JSON shape of `check --format json`."""
    return {
        "domain": report.domain,
        "checks": [
            {"check": c.check, "status": c.status.value, "summary": c.summary, "remedy": c.remedy}
            for c in report.checks
        ],
        "dmarc_policy_level": report.dmarc_policy_level,
        "spf_dns_lookups": report.spf_dns_lookups,
        "mail_from": report.mail_from,
        "mail_from_resolvable": report.mail_from_resolvable,
        "worst_status": report.worst.value,
    }


def write_report_text(report: DomainReport, out: TextIO, *, colour: bool) -> None:
    """A readable report: one line per check, the remedy under each problem."""

    def paint(status: Status, text: str) -> str:
        return f"\033[{_ANSI[status]}m{text}\033[0m" if colour else text

    out.write(f"{report.domain}\n")
    width = max((len(c.check) for c in report.checks), default=0)
    for c in report.checks:
        out.write(
            f"  {paint(c.status, f'{c.status.value.upper():7}')} {c.check:{width}}  {c.summary}\n"
        )
        if c.status is not Status.PASS and c.remedy:
            out.write(f"  {'':7} {'':{width}}  remedy: {c.remedy}\n")
    out.write(f"worst: {paint(report.worst, report.worst.value)}\n")
