"""The demo's landing page as a person sees it, rendered by headless Chromium (Debian's)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import free_port
from helpers.daemon import start_exporter

pytestmark = pytest.mark.e2e

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_demo_landing_page_in_chromium(tmp_path: Path) -> None:
    """Failing domains come first with their remedies; SES account state, SMTP and the top
    bounce categories are on the page; the text a person reads is in the rendered DOM."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail(
            "Debian's chromium is not installed: run the README's test command (it apt-installs it)"
        )
    port = free_port()
    demo = start_exporter(["demo", "--listen-address", f"127.0.0.1:{port}"], tmp_path / "demo.log")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/readyz", timeout=2
                ) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail(
                "the demo did not become ready:\n" + (tmp_path / "demo.log").read_text()[-2000:]
            )
        url = f"http://127.0.0.1:{port}/"
        common = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
        dom = subprocess.run(
            [*common, "--dump-dom", url], capture_output=True, text=True, timeout=60, check=False
        )
        assert dom.returncode == 0, dom.stderr[-2000:]
        page = dom.stdout
        shot = subprocess.run(
            [*common, f"--screenshot={tmp_path / 'page.png'}", "--window-size=1280,2400", url],
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert shot.returncode == 0
        assert (tmp_path / "page.png").stat().st_size > 10_000
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=10)
    assert "SES deliverability exporter" in page
    assert "with a failing check" in page
    # Failing domains before the healthy one.
    assert page.index('id="gateway553.example"') < page.index('id="healthy.example"')
    assert "553 5.1.8" in page  # report 1's consequence, in the summary
    assert "publish an A (and AAAA) record for mail.gateway553.example" in page  # its remedy
    assert "PROBATION" in page  # the sample account state
    assert "Top bounce categories" in page
    assert "sender_domain_dns" in page
    assert "ses_feedback_routing" in page  # SES's own verdicts join the domain's checks
