"""The command line under hostile input, run as a user runs it (a subprocess).

Bad configurations and zone files end in one message and the documented exit code, never
a traceback; DNS record values never reach the terminal raw; a closed stdout is not a
crash; `collect` and `replay` say when they could not do their job.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DEMO_ZONES, ROOT, NamedServer, free_port, start_named, stop_named

pytestmark = pytest.mark.e2e

HOSTILE_CONFIGS = sorted((ROOT / "tests" / "data" / "hostile_configs").glob("*.toml"))
SES_EVENTS = sorted((ROOT / "tests" / "data" / "ses-events").glob("*.json"))
TIMEOUT = 60  # generous: the machine is shared
NOBODY = f"127.0.0.1:{free_port()}"  # these commands end before any question is asked


def exporter(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "exporter", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        **kwargs,
    )


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr[-3000:]


# --------------------------------------------------------------------------- configurations


@pytest.mark.parametrize("path", HOSTILE_CONFIGS, ids=lambda p: p.stem)
@pytest.mark.parametrize("command", ["validate-config", "collect"])
def test_hostile_config_exits_2_with_a_message(command: str, path: Path) -> None:
    args = (
        [command, str(path)] if command == "validate-config" else [command, "--config", str(path)]
    )
    result = exporter(*args)
    assert_no_traceback(result)
    assert result.returncode == 2, result.stdout[-500:] + result.stderr[-2000:]
    lines = result.stderr.splitlines()
    assert lines[0] == f"{path}: invalid configuration"
    assert len(lines) >= 2, "the problem is named under the first line"
    assert all(line.isprintable() for line in lines), "file content is escaped"


@pytest.mark.parametrize("path", HOSTILE_CONFIGS, ids=lambda p: p.stem)
def test_run_refuses_hostile_config_before_starting(path: Path) -> None:
    """`run` exits 2 at once; a config problem is never blamed on --listen-address."""
    listen = f"127.0.0.1:{free_port()}"
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exporter",
            "run",
            "--config",
            str(path),
            "--listen-address",
            listen,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            _, stderr = process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate(timeout=TIMEOUT)
            pytest.fail(f"run started with {path.name} instead of exiting 2")
    assert "Traceback" not in stderr, stderr[-3000:]
    assert process.returncode == 2, stderr[-2000:]
    assert stderr.startswith(f"{path}: invalid configuration\n")
    assert "--listen-address" not in stderr


def test_run_names_a_bad_listen_address(tmp_path: Path) -> None:
    """The flag's own error still names the flag."""
    config = tmp_path / "ok.toml"
    config.write_text(
        f'[resolver]\nnameservers = ["{NOBODY}"]\n[[domains]]\nname = "example.com"\n'
    )
    result = exporter("run", "--config", str(config), "--listen-address", "127.0.0.1:notaport")
    assert result.returncode == 2
    assert result.stderr.startswith("--listen-address:")


# --------------------------------------------------------------------------- zone files

GARBAGE_ZONES = {
    "binary": bytes(range(256)) * 4,
    "not_utf8": b'$ORIGIN example.com.\n@ 300 TXT "caf\xe9"\n',
    "nul_and_escapes": b"$ORIGIN example.com.\n\x00\x1b[2J @ A 192.0.2.1\n",
    "unbalanced": b"$ORIGIN example.com.\n@ 300 SOA ( ns1 hostmaster 1\n",
    "include": b"$ORIGIN example.com.\n$INCLUDE /etc/passwd\n",
    "generate_step_0": b"$ORIGIN example.com.\n$GENERATE 1-10/0 h$ A 192.0.2.1\n",
    # millions of records: refused before any is made
    "generate_huge": b"$ORIGIN example.com.\n$GENERATE 0-99999999 h$ A 192.0.2.1\n",
    # each directive under the per-directive maximum, the file over the per-file one
    "generate_many": b"$ORIGIN example.com.\n"
    + b"".join(b"$GENERATE 1-4000 h%d-$ A 192.0.2.1\n" % n for n in range(5)),
}


@pytest.mark.parametrize("content", GARBAGE_ZONES.values(), ids=GARBAGE_ZONES.keys())
def test_garbage_zone_file_is_unknown_exit_3(tmp_path: Path, content: bytes) -> None:
    zone = tmp_path / "example.com.zone"
    zone.write_bytes(content)
    result = exporter("check", "example.com", "--zone-file", str(zone), "--nameserver", NOBODY)
    assert_no_traceback(result)
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stderr.startswith(f"ses-deliverability-exporter check: error: {zone}")
    assert all(line.isprintable() for line in result.stderr.splitlines())
    if content.startswith(b"$ORIGIN example.com.\n$GENERATE 0-"):
        assert "maximum of 4096 per directive" in result.stderr
    if b"h4-" in content:
        assert "maximum of 16384 records per file" in result.stderr


@pytest.mark.parametrize("domain", ["192.0.2.1", "[192.0.2.1]", "2001:db8::1", "[2001:db8::1]"])
def test_ip_literal_is_not_a_domain(domain: str) -> None:
    result = exporter("check", domain, "--nameserver", NOBODY)
    assert_no_traceback(result)
    assert result.returncode == 3
    assert "is an IP address, not a domain name" in result.stderr


def test_region_with_whitespace_is_refused() -> None:
    result = exporter("check", "example.com", "--region", "us-east-1\n", "--nameserver", NOBODY)
    assert result.returncode == 3
    assert "'us-east-1\\n' is not an AWS region name" in result.stderr


# --------------------------------------------------------------------------- record values

HOSTILE_ZONE = r"""$ORIGIN hostile.test.
$TTL 300
@       SOA ns1 hostmaster 1 3600 600 86400 300
@       NS  ns1
ns1     A   192.0.2.1
@       MX  10 mx1
mx1     A   192.0.2.2
@       TXT "v=spf1 include:amazonses.com -all"
; ESC [2J clears the screen; a NUL and a right-to-left override (UTF-8 E2 80 AE) ride along
_dmarc      TXT "v=DMARC1; p=rej\027[2Ject\000"
_dmarc.rua  TXT "v=DMARC1; p=reject; rua=mailto:a@evil\027[2J\000.test,mailto:b@\226\128\174moc.test"
"""


@pytest.fixture(name="hostile_named", scope="module")
def _hostile_named(tmp_path_factory: pytest.TempPathFactory) -> object:
    workdir = tmp_path_factory.mktemp("hostile-named")
    zone = workdir / "hostile.test.zone"
    zone.write_text(HOSTILE_ZONE)
    server = start_named(
        workdir, {"healthy.example": DEMO_ZONES / "healthy.example.zone", "hostile.test": zone}
    )
    yield server
    stop_named(server)


@pytest.mark.parametrize(
    "case",
    [
        ("hostile.test", ["invalid p=rej\\x1b[2Ject\\x00"]),
        ("rua.hostile.test", ["evil\\x1b[2j\\x00.test", "\\u202emoc.test"]),
    ],
    ids=["invalid-tag", "rua"],
)
@pytest.mark.parametrize("source", ["named", "zone-file"])
def test_record_values_are_escaped_in_text_output(
    source: str,
    case: tuple[str, list[str]],
    hostile_named: NamedServer,
    named: NamedServer,
    tmp_path: Path,
) -> None:
    """DMARC's invalid p= and its rua= mailboxes are shown, their control characters escaped."""
    domain, escaped = case
    if source == "named":
        args = ["--nameserver", hostile_named.nameserver]
    else:
        zone = tmp_path / "hostile.test.zone"
        zone.write_text(HOSTILE_ZONE)
        args = ["--zone-file", str(zone), "--nameserver", named.nameserver]
    result = exporter("check", domain, *args, "--timeout", "2")
    assert_no_traceback(result)
    assert result.returncode in (1, 2, 3), result.stderr
    assert all(line.isprintable() for line in result.stdout.splitlines()), repr(result.stdout)
    for text in escaped:  # the value is still there to read, escaped
        assert text in result.stdout


# --------------------------------------------------------------------------- closed stdout


def run_into_closed_pipe(*args: str) -> tuple[int, str]:
    """The exporter writing to a pipe whose reader has already gone, as `| head` leaves it."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "exporter", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    finally:
        os.close(write_end)
    return result.returncode, result.stderr


def test_check_into_closed_pipe_exits_141_quietly(named: NamedServer) -> None:
    code, stderr = run_into_closed_pipe(
        "check", "healthy.example", "--nameserver", named.nameserver
    )
    assert stderr == ""
    assert code == 141


def test_replay_into_closed_pipe_exits_141_quietly() -> None:
    code, stderr = run_into_closed_pipe("replay", *map(str, SES_EVENTS))
    assert "Traceback" not in stderr
    assert "BrokenPipe" not in stderr
    assert code == 141


def test_replay_piped_to_head(tmp_path: Path) -> None:
    """The shell's own pipe: whether or not head leaves first, the exporter never crashes."""
    archive = firehose_archive(tmp_path / "archive")
    stderr = tmp_path / "stderr.txt"
    script = f"set -o pipefail; {sys.executable} -m exporter replay {archive} 2>{stderr} | head -2"
    result = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert len(result.stdout.splitlines()) == 2
    assert "Traceback" not in stderr.read_text()
    assert result.returncode in (0, 141)


# --------------------------------------------------------------------------- collect


def test_collect_names_the_collector_down(tmp_path: Path) -> None:
    """A resolver that does not answer (a loopback port with nothing listening): exit 1."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[resolver]\nnameservers = ["127.0.0.1:{free_port()}"]\n'
        "timeout_seconds = 0.5\nattempts = 1\n"
        '[[domains]]\nname = "example.com"\n'
    )
    result = exporter("collect", "--config", str(config))
    assert_no_traceback(result)
    assert 'deliverability_collector_up{collector="dns"} 0.0' in result.stdout
    assert "collect: collector down: dns" in result.stderr
    assert result.returncode == 1


def test_collect_without_aws_credentials_names_the_ses_collector(
    named: NamedServer, tmp_path: Path
) -> None:
    """No credentials anywhere (no variables, no files, no instance metadata): exit 1."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[resolver]\nnameservers = ["{named.nameserver}"]\n'
        '[[aws.accounts]]\nname = "prod"\nregions = ["eu-west-1"]\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    result = exporter("collect", "--config", str(config), env=env)
    assert_no_traceback(result)
    assert "collect: collector down: ses:prod:eu-west-1 (NoCredentialsError)" in result.stderr
    assert "collector down: dns" not in result.stderr
    assert result.returncode == 1


def test_collect_exits_0_when_every_collector_is_up(named: NamedServer, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[resolver]\nnameservers = ["{named.nameserver}"]\n[[domains]]\nname = "healthy.example"\n'
    )
    result = exporter("collect", "--config", str(config))
    assert 'deliverability_collector_up{collector="dns"} 1.0' in result.stdout
    assert "collector down" not in result.stderr
    assert result.returncode == 0, result.stderr[-2000:]


# --------------------------------------------------------------------------- replay


def firehose_archive(path: Path) -> Path:
    """tests/data/ses-events as Firehose's GZIP output: JSON lines, gzipped, no extension."""
    lines = "".join(json.dumps(json.loads(f.read_text())) + "\n" for f in SES_EVENTS)
    path.write_bytes(gzip.compress(lines.encode()))
    return path


def test_replay_reads_gzip_by_its_magic_bytes(tmp_path: Path) -> None:
    """A gzipped archive counts exactly what the plain files count; the summary says so."""
    plain = exporter("replay", *map(str, SES_EVENTS))
    zipped = exporter("replay", str(firehose_archive(tmp_path / "ses-2026-01-01-00-00-01-abc")))
    assert zipped.returncode == 0, zipped.stderr
    assert zipped.stdout == plain.stdout
    assert 'deliverability_ses_events_total{configuration_set="none",event_type="bounce"' in (
        zipped.stdout
    )
    summary = zipped.stderr.splitlines()[-1]
    assert summary == plain.stderr.splitlines()[-1].replace(
        f"{len(SES_EVENTS)} file(s)", "1 file(s)"
    )
    assert summary.startswith(f"replay: {len(SES_EVENTS)} bodies in 1 file(s): ")


@pytest.mark.parametrize(
    "content",
    [
        bytes(range(256)) * 8,  # binary
        gzip.compress(bytes(range(256)) * 8),  # gzip of binary
        gzip.compress(b'{"eventType": "Bounce"}\n')[:-12],  # truncated gzip
        b"",  # empty
        b"[" * 100_000 + b"]" * 100_000,  # nested too deeply for the JSON parser
    ],
    ids=["binary", "gzip-binary", "gzip-truncated", "empty", "deep-nesting"],
)
def test_replay_of_a_file_without_events_is_an_error(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "archive"
    bad.write_bytes(content)
    result = exporter("replay", str(SES_EVENTS[0]), str(bad))
    assert_no_traceback(result)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith(f"replay: {bad}: ")]
    assert len(errors) == 1, result.stderr
    assert result.stderr.splitlines()[-1].startswith("replay: ")
    assert " in 2 file(s): " in result.stderr.splitlines()[-1]
