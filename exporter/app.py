"""The daemon: scheduled collectors, the HTTP server, reloads and a clean shutdown.

Threads, not asyncio, at this level: boto3 is synchronous and the HTTP server is threaded.
The DNS job runs one asyncio loop per cycle inside its scheduler thread.
"""

from __future__ import annotations

import asyncio
import functools
import signal
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import structlog
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import CollectorRegistry, ProcessCollector

from exporter.collector import EventsCollector, ExporterCollector
from exporter.config import (
    AwsAccountConfig,
    Config,
    ConfigError,
    Overrides,
    SmtpCredentialConfig,
)
from exporter.exposition import DomainWarmer
from exporter.jobs.discovery import merge_targets
from exporter.jobs.dns import DnsCycleResult, VerdictMemo, check_domains
from exporter.jobs.events import (
    EventService,
    build_pipeline,
    check_cycle_query_rate,
    known_sending_domains,
    replay_paths,
)
from exporter.jobs.runner import Job, JobRunner, Publish
from exporter.jobs.ses import (
    ACCOUNT_JOB,
    IDENTITIES_JOB,
    JOBS,
    SUPPRESSION_JOB,
    SesRegionCollector,
    SesRegionResult,
    build_region_collector,
)
from exporter.jobs.smtp import SmtpCredentialResult, check_smtp_credential, iam_client
from exporter.logs import configure_logging
from exporter.model import DomainTarget
from exporter.runtime import Runtime, fingerprint, load_runtime
from exporter.sources.dns import DnsClient, DnsQueryStats, system_nameservers
from exporter.store import Snapshot, Store
from exporter.web import HttpServer, make_app, render_metrics
from exporter.web_config import BasicAuth

__all__ = ["Daemon", "Runtime", "load_runtime"]

log = structlog.get_logger("exporter")

CONFIG_POLL_SECONDS = 5.0
SES_SLOW_EXECUTOR = "ses-slow"  # discovery and suppression jobs: long, never in the way
SES_SLOW_THREADS = 32
QUEUE_ATTRIBUTES_SECONDS = 60.0
DNS_JOB = "dns"


def _log_ignored_keys(runtime: Runtime) -> None:
    """Keys the file sets that are accepted but do nothing: said at start and on each reload."""
    for warning in runtime.warnings:
        log.warning("config key ignored", problem=warning)


class Daemon:
    """Owns the scheduler, the store, the HTTP server and the warmer for one process lifetime."""

    def __init__(
        self,
        config_path: Path,
        runtime: Runtime,
        *,
        listen: tuple[str, int] | None = None,
        replay: tuple[Path, ...] = (),
        seed_ses: tuple[SesRegionResult, ...] = (),
        flags: Overrides | None = None,
    ) -> None:
        self._path = config_path
        self._flags = flags
        self._fingerprint = fingerprint(config_path)
        self._runtime = runtime
        _log_ignored_keys(runtime)
        self._stop = threading.Event()
        self._reload_requested = threading.Event()
        self._reload_lock = threading.Lock()  # the signal and the file watcher may coincide
        self.dns_stats = DnsQueryStats()
        self.verdict_memo = VerdictMemo()  # the last cycle's verdicts, reused when unchanged
        local = runtime.local
        self.store = Store(Snapshot(config=local, config_loaded_at=time.time()))
        if local.cluster.runs_checks:
            self.store.set_interval(DNS_JOB, local.schedule.interval_seconds)
        self._runner = JobRunner(self.store)
        self._replay = replay
        for result in seed_ses:  # the demo's sample account state (no AWS)
            self.store.record_ses(result, finished=time.time(), duration_seconds=0.0)
        self._ses_collectors: dict[str, SesRegionCollector] = {}
        self._ses_lock = threading.Lock()  # one collector per region; publish in order
        self.pipeline = build_pipeline(
            runtime.config, runtime.overrides, dns_stats=self.dns_stats, stop=self._stop
        )
        self._label_sending_domains()
        self.events = EventService(local, self.pipeline, self._stop)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(
            ExporterCollector(self.store.read, self.dns_stats, self.events.stats)
        )
        self.registry.register(EventsCollector(self.pipeline, self.events.stats))
        ProcessCollector(registry=self.registry)
        self._listen = listen or (
            runtime.config.server.listen_host,
            runtime.config.server.listen_port,
        )
        self._server: HttpServer | None = None
        self.warmer = DomainWarmer(self.store.read)  # builds each new snapshot's exposition
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1},
            executors={SES_SLOW_EXECUTOR: ThreadPoolExecutor(SES_SLOW_THREADS)},
        )
        self._scheduler.add_listener(
            self._on_job_problem, EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES
        )
        self._config_jobs: dict[str, str | None] = {}  # _jobs(config)'s keys -> collectors

    def start(self) -> None:
        if self._replay:
            bodies = replay_paths(self._replay, self.pipeline)
            log.info("replayed archived events", bodies=bodies)
        app = make_app(self.registry, self.store.read, self.pipeline.snapshot)
        web = self._runtime.web
        self._server = HttpServer(
            *self._listen,
            BasicAuth(app, web.users) if web.users else app,
            tls=web.ssl_context(),
            registry=self.registry,
        )
        self.warmer.start()
        self._server.start()
        self.events.start()
        local = self.store.read().config
        self._schedule(local)
        self._runner.schedule(self._scheduler, self._housekeeping_jobs(local))
        self._scheduler.start()
        log.info(
            "exporter started",
            port=self._server.port,
            domains=len(local.domains),
            role=local.cluster.role,
            shard=f"{local.cluster.shard_index}/{local.cluster.shard_count}",
            config=str(self._path),
        )

    def serve_until_stopped(self) -> None:
        """Block the main thread: SIGTERM/SIGINT stop, SIGHUP reloads."""
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGHUP, self._on_reload_signal)
        while not self._stop.wait(0.2):
            if self._reload_requested.is_set():
                self._reload_requested.clear()
                self._runner.run("sighup", functools.partial(self.reload, "SIGHUP"))
        self.shutdown()

    def shutdown(self) -> None:
        self._stop.set()  # cancels a DNS cycle in flight within ~0.1 s; pollers stop
        self.events.join(timeout=9)  # a long poll in flight returns within wait_time_seconds
        self._scheduler.shutdown(wait=True)
        if self._server is not None:
            self._server.shutdown()
        self.warmer.stop()
        log.info("exporter stopped")

    def collect_once(self) -> bytes:
        """Every enabled collector once, SES first (its discovery feeds DNS); the exposition."""
        config = self.store.read().config
        for account in config.aws.accounts:
            for region in account.regions:
                key = _ses_key(account, region)
                self._runner.run(key, functools.partial(self._ses, account, region, JOBS), key)
        if config.cluster.runs_checks:
            self._runner.run(DNS_JOB, self._dns_cycle, DNS_JOB)
        for credential in config.smtp_credentials:
            self._runner.run(
                _smtp_key(credential),
                functools.partial(self._smtp, credential),
                _smtp_key(credential),
            )
        self.events.poll_once()
        return render_metrics(self.registry)[0]  # the fast path /metrics uses too

    def _on_stop_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", signal=signal.Signals(signum).name)
        self._stop.set()

    def _on_reload_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self._reload_requested.set()

    def _jobs(self, config: Config) -> list[Job]:
        """The job table ``config`` asks for: every row is rescheduled on each reload."""
        jobs = self._ses_jobs(config)
        jobs += [
            Job(key, c.probe_interval_seconds, functools.partial(self._smtp, c), collector=key)
            for c in config.smtp_credentials
            for key in (_smtp_key(c),)
        ]
        if config.cluster.runs_checks:
            interval = config.schedule.interval_seconds
            jobs.append(
                Job(
                    DNS_JOB,
                    interval,
                    self._dns_cycle,
                    collector=DNS_JOB,
                    jitter_seconds=config.schedule.jitter_seconds,
                    misfire_grace_seconds=max(1, int(interval // 2)),
                )
            )
        return jobs

    def _ses_jobs(self, config: Config) -> list[Job]:
        """Three jobs per (account, region), so account state (GetAccount: enforcement,
        sending enabled) keeps its cadence while a discovery of tens of thousands of
        identities or a full suppression recount runs: those two run on their own threads.
        All three publish to one collector (``ses:<account>:<region>``) and share its pacer.
        The discovery job runs every interval too, but calls SES only when a discovery is
        due (``discovery_interval_seconds``) or the last one failed."""
        aws = config.aws
        parts = [
            part
            for part, wanted in (
                (ACCOUNT_JOB, config.cluster.polls_ses_account),
                (IDENTITIES_JOB, aws.discover_identities),
                (SUPPRESSION_JOB, config.cluster.polls_ses_account and aws.suppression_list),
            )
            if wanted
        ]
        return [
            Job(
                key if part == ACCOUNT_JOB else f"{key}:{part}",
                aws.interval_seconds,
                functools.partial(self._ses, account, region, (part,)),
                collector=key,
                executor="default" if part == ACCOUNT_JOB else SES_SLOW_EXECUTOR,
                jitter_seconds=min(30.0, aws.interval_seconds / 10),
            )
            for account in aws.accounts
            for region in account.regions
            for key in (_ses_key(account, region),)
            for part in parts
        ]

    def _housekeeping_jobs(self, config: Config) -> list[Job]:
        """Scheduled once, for the process lifetime (the queues are read at start only)."""
        jobs = [Job("config-watch", CONFIG_POLL_SECONDS, self._poll_config_file, start_now=False)]
        if config.events.queues:
            refresh = self.events.refresh_queue_attributes
            jobs.append(Job("sqs-attributes", QUEUE_ATTRIBUTES_SECONDS, refresh))
        return jobs

    def _schedule(self, config: Config) -> None:
        """Schedule ``config``'s jobs, each starting now; drop the ones (and the collectors)
        it no longer has."""
        jobs = self._jobs(config)
        for key in self._config_jobs.keys() - {job.key for job in jobs}:
            self._scheduler.remove_job(key)
        collectors = {job.collector for job in jobs}
        self.store.forget({c for c in self._config_jobs.values() if c and c not in collectors})
        self._config_jobs = {job.key: job.collector for job in jobs}
        self._runner.schedule(self._scheduler, jobs)

    def _ses(self, account: AwsAccountConfig, region: str, jobs: tuple[str, ...]) -> Publish:
        """SES ``jobs`` for one (account, region)."""
        key = _ses_key(account, region)
        with self._ses_lock:
            collector = self._ses_collectors.get(key)
            if collector is None:
                local = self.store.read().config
                collector = build_region_collector(
                    account, region, local.aws, local.cluster, self._stop
                )
                self._ses_collectors[key] = collector
        collector.run(jobs)

        def publish(duration: float) -> None:
            with self._ses_lock:  # the newest result, even when two jobs finish together
                previous = self.store.read().ses.get(key)
                result = collector.result
                self.store.record_ses(result, finished=time.time(), duration_seconds=duration)
            if previous is None or previous.identities != result.identities:
                self._label_sending_domains()
                self._check_dns_now()  # newly discovered domains should not wait an interval
            log.info(
                "ses run finished",
                collector=key,
                jobs=",".join(jobs),
                errors=result.errors or None,
                identities=len(result.identities or ()),
                duration_seconds=round(duration, 3),
            )

        return publish

    def _label_sending_domains(self) -> None:
        """Configured plus discovered sending domains label their events (see
        event_service.known_sending_domains): after each discovery and each reload."""
        discovered = (i.identity for i in self.store.read().identities())
        self.pipeline.set_known_sending_domains(
            known_sending_domains(self._runtime.config, discovered)
        )

    def _check_dns_now(self) -> None:
        job = self._scheduler.get_job(DNS_JOB)
        if job is not None:
            job.modify(next_run_time=datetime.now(UTC))

    def _smtp(self, credential: SmtpCredentialConfig) -> Publish:
        iam = iam_client() if credential.iam_user else None
        result = check_smtp_credential(credential, iam)
        return functools.partial(self._publish_smtp, result)

    def _publish_smtp(self, result: SmtpCredentialResult, duration: float) -> None:
        self.store.record_smtp(result, duration_seconds=duration)

    def _poll_config_file(self) -> None:
        """Kubernetes swaps a mounted ConfigMap without a signal: watch the content."""
        current = fingerprint(self._path)
        if current and current != self._fingerprint:
            self.reload("file changed")

    def reload(self, reason: str) -> None:
        """Load the file again; whatever is wrong with it (or with the web config it names),
        keep the running config, report it, and try again when the file changes."""
        with self._reload_lock:
            self._fingerprint = fingerprint(self._path)
            try:
                runtime = load_runtime(self._path, self._flags)
            except ConfigError as exc:
                problems = exc.problems
            except Exception as exc:  # noqa: BLE001 - no file content may stop the daemon
                problems = [f"{type(exc).__name__}: {exc}"]
            else:
                self._apply(runtime, reason)
                return
        self.store.update(config_reload_ok=False)
        log.error(
            "config reload failed, keeping the previous config", reason=reason, problems=problems
        )

    def _apply(self, runtime: Runtime, reason: str) -> None:
        old, old_web = self._runtime.local, self._runtime.web
        self._runtime = runtime
        config = runtime.local
        if config.server != old.server or runtime.web != old_web:
            log.warning("server and web config changes take effect after a restart")
        if config.events.queues != old.events.queues:
            log.warning("events.queues changes take effect after a restart")
        if config.cluster.role != old.cluster.role:
            log.warning("cluster.role changes take effect after a restart")
        if config.log != old.log:
            configure_logging(config.log.level, config.log.format)
        _log_ignored_keys(runtime)
        self.store.update(config=config, config_reload_ok=True, config_loaded_at=time.time())
        self._ses_collectors.clear()  # accounts, regions or settings may have changed
        self._schedule(config)  # every collector at once: the new domain list is checked now
        self._label_sending_domains()
        log.info("config reloaded", reason=reason, domains=len(config.domains))

    def targets(self) -> list[DomainTarget]:
        """Configured domains plus the identities SES discovery found, merged."""
        snap = self.store.read()
        return merge_targets(snap.config.domains, snap.identities())

    def _dns_cycle(self) -> Publish:
        """One check cycle over every configured domain."""
        runtime = self._runtime
        config = runtime.config
        resolver = config.resolver
        nameservers = (
            resolver.nameservers if resolver.nameservers is not None else system_nameservers()
        )

        async def cycle() -> DnsCycleResult:
            client = DnsClient(
                nameservers=nameservers,
                timeout=resolver.timeout_seconds,
                attempts=resolver.attempts,
                concurrency=resolver.concurrency,
                max_queries_per_second=check_cycle_query_rate(config),
                overrides=runtime.overrides,
                stats=self.dns_stats,
                transport=resolver.transport,
                authoritative=resolver.authoritative,
            )
            return await check_domains(
                self.targets(),
                client,
                workers=resolver.concurrency,
                stop=self._stop,
                memo=self.verdict_memo,
            )

        return functools.partial(self._publish_dns, asyncio.run(cycle()))

    def _publish_dns(self, result: DnsCycleResult, _duration: float) -> None:
        """The cycle's own duration is published: it excludes building the client."""
        ok = result.resolver_reachable
        self.store.record_run(
            DNS_JOB,
            ok=ok,
            finished=time.time(),
            duration_seconds=result.duration_seconds,
            error="" if ok else "resolver did not answer",
            dns=result,
        )
        verdicts = Counter(c.status.value for r in result.reports for c in r.checks)
        log.info(
            "dns cycle finished",
            domains=len(result.reports),
            duration_seconds=round(result.duration_seconds, 3),
            queries=result.queries_sent,
            resolver_reachable=ok,
            **{f"checks_{k}": v for k, v in sorted(verdicts.items())},
        )

    def _on_job_problem(self, event: JobEvent) -> None:
        log.error("scheduled job problem", job=event.job_id, code=event.code)


def _ses_key(account: AwsAccountConfig, region: str) -> str:
    return f"ses:{account.name}:{region}"


def _smtp_key(credential: SmtpCredentialConfig) -> str:
    return f"smtp:{credential.name}"
