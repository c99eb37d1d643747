"""The daemon: scheduled collectors, the HTTP server, reloads and a clean shutdown.

Threads, not asyncio, at this level: boto3 is synchronous and the HTTP server is threaded.
The DNS job runs one asyncio loop per cycle inside its scheduler thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import structlog
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CollectorRegistry, ProcessCollector

from exporter.collector import EventsCollector, ExporterCollector
from exporter.config import (
    AwsAccountConfig,
    Config,
    ConfigError,
    Overrides,
    SmtpCredentialConfig,
    load_config,
)
from exporter.exposition import DomainWarmer
from exporter.jobs.discovery import merge_targets
from exporter.jobs.dns import DnsCycleResult, check_domains
from exporter.jobs.events import (
    EventService,
    build_pipeline,
    check_cycle_query_rate,
    known_sending_domains,
    replay_paths,
)
from exporter.jobs.ses import (
    ACCOUNT_JOB,
    IDENTITIES_JOB,
    JOBS,
    SUPPRESSION_JOB,
    SesRegionCollector,
    SesRegionResult,
    build_region_collector,
)
from exporter.jobs.smtp import check_smtp_credential, iam_client
from exporter.logs import configure_logging
from exporter.model import DomainTarget
from exporter.sharding import local_view
from exporter.sources.dns import DnsClient, DnsQueryStats, system_nameservers
from exporter.sources.ses import Cancelled, SesApiError
from exporter.sources.zones import ZoneFileError, ZoneOverrides
from exporter.store import Snapshot, Store
from exporter.web import HttpServer, make_app, render_metrics
from exporter.web_config import BasicAuth, WebConfig, load_web_config

__all__ = ["Daemon", "Runtime", "load_runtime"]

log = structlog.get_logger("exporter")

CONFIG_POLL_SECONDS = 5.0
SES_SLOW_EXECUTOR = "ses-slow"  # discovery and suppression jobs: long, never in the way
SES_SLOW_THREADS = 32
QUEUE_ATTRIBUTES_SECONDS = 60.0
DNS_JOB = "dns"


@dataclass(frozen=True, slots=True)
class Runtime:
    """A validated configuration with the zone files and web config it names, parsed."""

    config: Config
    overrides: ZoneOverrides
    web: WebConfig = field(default_factory=WebConfig)

    @property
    def local(self) -> Config:
        """What this replica checks, polls and exports (all of it unless sharded)."""
        return local_view(self.config)


def load_runtime(path: Path, flags: Overrides | None = None) -> Runtime:
    """Load the config (``flags`` from the command line win) and its zone files.

    Any problem is a ConfigError.
    """
    config = load_config(path, flags)
    try:
        overrides = ZoneOverrides.from_files(config.resolver.zone_files)
    except ZoneFileError as exc:
        raise ConfigError(str(path), [f"resolver.zone_files: {exc}"]) from exc
    web_file = config.server.web_config_file
    web = load_web_config(web_file) if web_file is not None else WebConfig()
    return Runtime(config, overrides, web)


def _fingerprint(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


class Daemon:
    """Owns the scheduler, the store and the HTTP server for one process lifetime."""

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
        self._fingerprint = _fingerprint(config_path)
        self._runtime = runtime
        self._stop = threading.Event()
        self._reload_requested = threading.Event()
        self.dns_stats = DnsQueryStats()
        local = runtime.local
        self.store = Store(Snapshot(config=local, config_loaded_at=time.time()))
        if local.cluster.runs_checks:
            self.store.set_interval(DNS_JOB, local.schedule.interval_seconds)
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
        )
        self.warmer.start()
        self._server.start()
        self.events.start()
        local = self.store.read().config
        self._schedule_ses(local)
        self._schedule_smtp(local)
        if local.events.queues:
            self._scheduler.add_job(
                self.events.refresh_queue_attributes,
                IntervalTrigger(seconds=QUEUE_ATTRIBUTES_SECONDS),
                id="sqs-attributes",
                next_run_time=datetime.now(UTC),
            )
        self._schedule_dns(local)
        self._scheduler.add_job(
            self._poll_config_file, IntervalTrigger(seconds=CONFIG_POLL_SECONDS), id="config-watch"
        )
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
                self.reload("SIGHUP")
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
                self.run_ses(account, region)
        if config.cluster.runs_checks:
            self.run_dns_cycle()
        for credential in config.smtp_credentials:
            self.run_smtp(credential)
        self.events.poll_once()
        return render_metrics(self.registry)[0]  # the fast path /metrics uses too

    def _on_stop_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", signal=signal.Signals(signum).name)
        self._stop.set()

    def _on_reload_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self._reload_requested.set()

    def _schedule_dns(self, config: Config) -> None:
        if not config.cluster.runs_checks:
            return
        self._scheduler.add_job(
            self.run_dns_cycle,
            IntervalTrigger(
                seconds=config.schedule.interval_seconds,
                jitter=config.schedule.jitter_seconds or None,
            ),
            id=DNS_JOB,
            replace_existing=True,
            next_run_time=datetime.now(UTC),
            misfire_grace_time=max(1, int(config.schedule.interval_seconds // 2)),
        )

    def _schedule_ses(self, config: Config) -> None:
        """Three jobs per (account, region), so account state (GetAccount: enforcement,
        sending enabled) keeps its cadence while a discovery of tens of thousands of
        identities or a full suppression recount runs: those two run on their own threads.
        All three publish to one collector (``ses:<account>:<region>``) and share its pacer.
        The discovery job runs every interval too, but calls SES only when a discovery is
        due (``discovery_interval_seconds``) or the last one failed."""
        aws = config.aws
        jobs = [
            job
            for job, wanted in (
                (ACCOUNT_JOB, config.cluster.polls_ses_account),
                (IDENTITIES_JOB, aws.discover_identities),
                (SUPPRESSION_JOB, config.cluster.polls_ses_account and aws.suppression_list),
            )
            if wanted
        ]
        for account in aws.accounts:
            for region in account.regions:
                key = f"ses:{account.name}:{region}"
                if jobs:
                    self.store.set_interval(key, aws.interval_seconds)
                for job in jobs:
                    self._scheduler.add_job(
                        self.run_ses,
                        IntervalTrigger(
                            seconds=aws.interval_seconds,
                            jitter=min(30.0, aws.interval_seconds / 10),
                        ),
                        args=(account, region, (job,)),
                        id=key if job == ACCOUNT_JOB else f"{key}:{job}",
                        replace_existing=True,
                        next_run_time=datetime.now(UTC),
                        executor="default" if job == ACCOUNT_JOB else SES_SLOW_EXECUTOR,
                    )

    def run_ses(self, account: AwsAccountConfig, region: str, jobs: tuple[str, ...] = JOBS) -> None:
        """SES ``jobs`` for one (account, region); never raises into the scheduler."""
        key = f"ses:{account.name}:{region}"
        t0 = time.monotonic()
        try:
            with self._ses_lock:
                collector = self._ses_collectors.get(key)
                if collector is None:
                    local = self.store.read().config
                    collector = build_region_collector(
                        account, region, local.aws, local.cluster, self._stop
                    )
                    self._ses_collectors[key] = collector
            collector.run(jobs)
        except Cancelled:
            log.info("ses run cancelled by shutdown", collector=key)  # not a failure
            return
        except SesApiError as exc:
            log.warning("ses collector failed", collector=key, error=exc.code)
            self.store.record_run(
                key,
                ok=False,
                finished=time.time(),
                duration_seconds=time.monotonic() - t0,
                error=exc.code,
            )
            return
        except Exception as exc:
            log.exception("ses collector crashed", collector=key)
            self.store.record_run(
                key,
                ok=False,
                finished=time.time(),
                duration_seconds=time.monotonic() - t0,
                error=type(exc).__name__,
            )
            return
        with self._ses_lock:  # the newest result, even when two jobs finish together
            previous = self.store.read().ses.get(key)
            result = collector.result
            self.store.record_ses(
                result, finished=time.time(), duration_seconds=time.monotonic() - t0
            )
        if previous is None or previous.identities != result.identities:
            self._label_sending_domains()
            self._check_dns_now()  # newly discovered domains should not wait a whole interval
        log.info(
            "ses run finished",
            collector=key,
            jobs=",".join(jobs),
            errors=result.errors or None,
            identities=len(result.identities or ()),
            duration_seconds=round(time.monotonic() - t0, 3),
        )

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

    def _schedule_smtp(self, config: Config) -> None:
        for credential in config.smtp_credentials:
            key = f"smtp:{credential.name}"
            self.store.set_interval(key, credential.probe_interval_seconds)
            self._scheduler.add_job(
                self.run_smtp,
                IntervalTrigger(seconds=credential.probe_interval_seconds),
                args=(credential,),
                id=key,
                replace_existing=True,
                next_run_time=datetime.now(UTC),
            )

    def run_smtp(self, credential: SmtpCredentialConfig) -> None:
        t0 = time.monotonic()
        try:
            iam = iam_client() if credential.iam_user else None
            result = check_smtp_credential(credential, iam)
        except Exception:
            log.exception("smtp credential check crashed", credential=credential.name)
            return
        self.store.record_smtp(result, duration_seconds=time.monotonic() - t0)

    def _poll_config_file(self) -> None:
        """Kubernetes swaps a mounted ConfigMap without a signal: watch the content."""
        fingerprint = _fingerprint(self._path)
        if fingerprint and fingerprint != self._fingerprint:
            self.reload("file changed")

    def reload(self, reason: str) -> bool:
        """Load the file again; keep the running config if the new one is invalid."""
        self._fingerprint = _fingerprint(self._path)
        try:
            runtime = load_runtime(self._path, self._flags)
        except ConfigError as exc:
            log.error(  # noqa: TRY400 - the problems are the message; no traceback
                "config reload failed, keeping the previous config",
                reason=reason,
                problems=exc.problems,
            )
            self.store.update(config_reload_ok=False)
            return False
        old = self._runtime.local
        self._runtime = runtime
        config = runtime.local
        if config.server != old.server:
            log.warning("server.listen_address changes take effect after a restart")
        if config.events.queues != old.events.queues:
            log.warning("events.queues changes take effect after a restart")
        if config.cluster.role != old.cluster.role:
            log.warning("cluster.role changes take effect after a restart")
        self._label_sending_domains()
        if config.log != old.log:
            configure_logging(config.log.level, config.log.format)
        self.store.update(config=config, config_reload_ok=True, config_loaded_at=time.time())
        if config.cluster.runs_checks:
            self.store.set_interval(DNS_JOB, config.schedule.interval_seconds)
        self._schedule_dns(config)  # check the new domain list now
        self._ses_collectors.clear()  # accounts, regions or settings may have changed
        for job in self._scheduler.get_jobs():
            if job.id.startswith(("ses:", "smtp:")):
                job.remove()
        self._schedule_ses(config)
        self._schedule_smtp(config)
        log.info("config reloaded", reason=reason, domains=len(config.domains))
        return True

    def targets(self) -> list[DomainTarget]:
        """Configured domains plus the identities SES discovery found, merged."""
        snap = self.store.read()
        return merge_targets(snap.config.domains, snap.identities())

    def run_dns_cycle(self) -> None:
        """One check cycle over every configured domain; never raises into the scheduler."""
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
                processes=resolver.processes,
            )

        t0 = time.monotonic()
        try:
            result = asyncio.run(cycle())
        except asyncio.CancelledError:
            log.info("dns cycle cancelled by shutdown")
            return
        except Exception as exc:
            log.exception("dns cycle failed")
            self.store.record_run(
                DNS_JOB,
                ok=False,
                finished=time.time(),
                duration_seconds=time.monotonic() - t0,
                error=type(exc).__name__,
            )
            return
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
