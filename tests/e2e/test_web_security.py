"""TLS and basic auth from an exporter-toolkit web config: Debian's Prometheus scrapes over
TLS with the right password (up 1) and is refused with a wrong one (up 0); the kubelet's
probe paths stay open."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import trustme
import yaml
from conftest import NamedServer, free_port

pytestmark = pytest.mark.e2e


def get(url: str, context: ssl.SSLContext, password: str | None = None) -> int:
    request = urllib.request.Request(url)
    if password is not None:
        token = base64.b64encode(f"prometheus:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def query(prom_port: int, expression: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{prom_port}/api/v1/query?" + urllib.parse.urlencode(
        {"query": expression}
    )
    with urllib.request.urlopen(url, timeout=5) as response:
        result: list[dict[str, Any]] = json.loads(response.read())["data"]["result"]
    return result


def up(prom_port: int, job: str) -> float | None:
    result = query(prom_port, f'up{{job="{job}"}}')
    return float(result[0]["value"][1]) if result else None


def test_tls_and_basic_auth(named: NamedServer, tmp_path: Path) -> None:
    if shutil.which("prometheus") is None:
        pytest.fail(
            "prometheus is not installed: run the README's test command (it apt-installs it)"
        )
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "server.crt"))
    leaf.private_key_pem.write_to_path(str(tmp_path / "server.key"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    hashed = (
        bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode().replace("$2b$", "$2y$")
    )  # as htpasswd writes it
    (tmp_path / "web.yml").write_text(
        yaml.safe_dump(
            {
                "tls_server_config": {"cert_file": "server.crt", "key_file": "server.key"},
                "basic_auth_users": {"prometheus": hashed},
            }
        )
    )
    port = free_port()
    (tmp_path / "config.toml").write_text(
        f"""
[server]
listen_address = "127.0.0.1:{port}"
web_config_file = "web.yml"
[resolver]
nameservers = ["{named.nameserver}"]
max_queries_per_second = 0
[[domains]]
name = "healthy.example"
"""
    )
    prom_port = free_port()
    jobs = [("right", "s3cret"), ("wrong", "guess")]
    (tmp_path / "prometheus.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s"},
                "scrape_configs": [
                    {
                        "job_name": name,
                        "scheme": "https",
                        "tls_config": {"ca_file": str(tmp_path / "ca.pem")},
                        "basic_auth": {"username": "prometheus", "password": password},
                        "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
                    }
                    for name, password in jobs
                ],
            }
        )
    )
    processes = []
    try:
        with (tmp_path / "exporter.log").open("wb") as log:
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "exporter",
                        "run",
                        "--config",
                        str(tmp_path / "config.toml"),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )
            )
        with (tmp_path / "prometheus.log").open("wb") as log:
            processes.append(
                subprocess.Popen(
                    [
                        "prometheus",
                        f"--config.file={tmp_path / 'prometheus.yml'}",
                        f"--storage.tsdb.path={tmp_path / 'data'}",
                        f"--web.listen-address=127.0.0.1:{prom_port}",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        client = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        base = f"https://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if get(f"{base}/healthz", client) == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail((tmp_path / "exporter.log").read_text()[-2000:])
        assert get(f"{base}/readyz", client) in (200, 503)  # open, whatever the state
        assert get(f"{base}/metrics", client) == 401
        assert get(f"{base}/", client) == 401
        assert get(f"{base}/metrics", client, "guess") == 401
        assert get(f"{base}/metrics", client, "s3cret") == 200
        assert get(f"{base}/metrics", client, "s" * 73) == 401  # bcrypt refuses it; not a 500
        with pytest.raises(OSError):  # plain HTTP is not served (reset or URLError)
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if up(prom_port, "right") == 1 and up(prom_port, "wrong") == 0:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail(
                f"up right={up(prom_port, 'right')} wrong={up(prom_port, 'wrong')}\n"
                + (tmp_path / "prometheus.log").read_text()[-2000:]
            )
        closed = query(prom_port, 'deliverability_http_connections_closed_total{job="right"}')
        assert {series["metric"]["reason"] for series in closed} == {
            "timeout",
            "evicted",
            "refused",
        }
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)
    assert "Traceback" not in (tmp_path / "exporter.log").read_text()


def test_bad_web_config_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "web.yml").write_text(
        "tls_server_config:\n  cert_file: missing.crt\nbasic_auth_users:\n  bob: plaintext\nextra: 1\n"
    )
    (tmp_path / "config.toml").write_text('[server]\nweb_config_file = "web.yml"\n')
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "validate-config", str(tmp_path / "config.toml")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "tls_server_config.cert_file: no such file" in result.stderr
    assert "tls_server_config.key_file: is required with TLS" in result.stderr
    assert "basic_auth_users.bob: must be a bcrypt hash" in result.stderr
    assert "extra: unknown key" in result.stderr
