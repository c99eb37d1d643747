"""Regions must exist: a typo like us-east-7 would send SES calls nowhere and make `check`
suggest a feedback MX host that does not exist (botocore's endpoint data decides)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from exporter.config import ConfigError, parse_config


def problems(raw: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    return caught.value.problems


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"domains": [{"name": "example.com", "region": "us-east-7"}]}, "domains[0].region"),
        ({"aws": {"accounts": [{"regions": ["eu-west-1", "us-east-7"]}]}}, "regions[1]"),
        (
            {"smtp_credentials": [{"name": "relay", "access_key_id": "AKIAIOSFODNN7EXAMPLE",
                                   "region": "us-east-7"}]},
            "smtp_credentials[0].region",
        ),
    ],
)  # fmt: skip
def test_an_ses_region_that_does_not_exist_names_the_close_ones(
    raw: dict[str, object], key: str
) -> None:
    found = [p for p in problems(raw) if "us-east-7" in p]
    assert found, problems(raw)
    assert key in found[0]
    assert "is not a region where SES exists (did you mean " in found[0]
    assert "us-east-1" in found[0].split("did you mean", 1)[1]
    assert "aws.extra_regions" in found[0]


def test_an_sqs_region_that_does_not_exist_is_refused() -> None:
    raw = {"events": {"queues": [{"url": "https://sqs.eu-west-9.amazonaws.com/123456789012/q"}]}}
    assert any("is not a region where SQS exists" in p for p in problems(raw))


@pytest.mark.parametrize("region", ["us-gov-west-1", "eu-central-2", "ap-southeast-7"])
def test_ses_regions_of_every_partition_are_accepted(region: str) -> None:
    config = parse_config({"domains": [{"name": "example.com", "region": region}]})
    assert config.domains[0].region == region


def test_sqs_knows_regions_ses_does_not() -> None:
    """SES is not in the China partition, SQS is: each field is checked for its service."""
    url = "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q"
    config = parse_config({"events": {"queues": [{"url": url}]}})
    assert config.events.queues[0].aws_region == "cn-north-1"
    assert problems({"domains": [{"name": "example.com", "region": "cn-north-1"}]})


def test_extra_regions_accepts_a_region_newer_than_botocore() -> None:
    raw = {
        "aws": {"extra_regions": ["us-east-7"], "accounts": [{"regions": ["us-east-7"]}]},
        "domains": [{"name": "example.com", "region": "us-east-7"}],
    }
    config = parse_config(raw)
    assert config.aws.accounts[0].regions == ("us-east-7",)
    assert problems({"aws": {"extra_regions": ["not a region"]}})


def test_check_refuses_a_region_ses_does_not_have() -> None:
    """`check --region us-east-7` would print a remedy naming a host that does not exist."""
    done = subprocess.run(
        [sys.executable, "-m", "exporter", "check", "example.com", "--region", "us-east-7",
         "--nameserver", "127.0.0.1:1", "--timeout", "0.2"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 3
    assert "not a region where SES exists (did you mean " in done.stderr
    assert "us-east-1" in done.stderr
    assert "Traceback" not in done.stderr
