"""The SES SMTP password derivation (v4) against published vectors and a second implementation."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from functools import reduce

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.checks.smtp_password import derive_smtp_password, smtp_endpoint

# Published vectors: hashicorp/terraform-provider-aws, internal/service/iam/access_key_test.go,
# TestSESSMTPPasswordFromSecretKeySigV4 (the provider's `ses_smtp_password_v4` attribute,
# which people use to log in to SES). Not derived from our code.
TERRAFORM_VECTORS = [
    ("eu-central-1", "some+secret+key", "BMXhUYlu5Z3gSXVQORxlVa7XPaz91aGWdfHxvkOZdWZ2"),
    ("eu-central-1", "another+secret+key", "BBbphbrQmrKMx42d1N6+C7VINYEBGI5v9VsZeTxwskfh"),
    ("us-west-1", "some+secret+key", "BH+jbMzper5WwlwUar9E1ySBqHa9whi0GPo+sJ0mVYJj"),
    ("us-west-1", "another+secret+key", "BKVmjjMDFk/qqw8EROW99bjCS65PF8WKvK5bSr4Y6EqF"),
]

# AWS's documentation example secret access key (not a real key).
DOC_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
# Computed once, not with the code under test: by `independent_password` below and, to the
# same value, by the openssl CLI (`openssl dgst -sha256 -mac HMAC -macopt hexkey:...` chained
# over the five messages, then `04` prepended and base64). Pinned so a change shows up here.
DOC_SECRET_US_EAST_1 = "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9"


def independent_password(secret: str, region: str) -> str:
    """The documented chain written a second way, to cross-check the module."""
    steps = [b"11111111", region.encode(), b"ses", b"aws4_request", b"SendRawEmail"]
    signature = reduce(
        lambda key, msg: hmac.digest(key, msg, "sha256"), steps, b"AWS4" + secret.encode()
    )
    return binascii.b2a_base64(b"\x04" + signature, newline=False).decode()


@pytest.mark.parametrize(("region", "secret", "expected"), TERRAFORM_VECTORS)
def test_published_vectors(region: str, secret: str, expected: str) -> None:
    assert derive_smtp_password(secret, region) == expected


def test_pinned_vector_for_the_documentation_secret() -> None:
    assert independent_password(DOC_SECRET, "us-east-1") == DOC_SECRET_US_EAST_1
    assert derive_smtp_password(DOC_SECRET, "us-east-1") == DOC_SECRET_US_EAST_1


REGIONS = st.sampled_from(
    ["us-east-1", "us-east-2", "eu-west-1", "eu-central-2", "ap-southeast-5", "us-gov-west-1"]
)


@settings(deadline=None)  # a busy CI machine must not turn slowness into a failure
@given(secret=st.text(min_size=1, max_size=60), region=REGIONS)
def test_matches_an_independent_implementation(secret: str, region: str) -> None:
    assert derive_smtp_password(secret, region) == independent_password(secret, region)


def test_shape_version_byte_and_length() -> None:
    raw = base64.b64decode(derive_smtp_password(DOC_SECRET, "eu-west-1"), validate=True)
    assert raw[0] == 0x04
    assert len(raw) == 1 + hashlib.sha256().digest_size


def test_changes_with_the_region() -> None:
    passwords = {
        derive_smtp_password(DOC_SECRET, r) for r in ("us-east-1", "us-east-2", "eu-west-1")
    }
    assert len(passwords) == 3


def test_changes_with_the_secret() -> None:
    """A rotated key makes the old SMTP password stale (the Gmail relay of the report)."""
    rotated = DOC_SECRET[:-1] + "Z"
    assert derive_smtp_password(rotated, "us-east-1") != derive_smtp_password(
        DOC_SECRET, "us-east-1"
    )


def test_is_not_the_field_reports_formula() -> None:
    """The report's base64(HMAC("AWS4"+secret, "112358132134")) is wrong: guard against it."""
    wrong = base64.b64encode(
        hmac.digest(b"AWS4" + DOC_SECRET.encode(), b"112358132134", "sha256")
    ).decode()
    assert derive_smtp_password(DOC_SECRET, "us-east-1") != wrong


@pytest.mark.parametrize(
    "region",
    [
        "",
        "US-EAST-1",
        "us-east",
        "useast1",
        "us east 1",
        " us-east-1",
        "us-east-1 ",
        "us-east-1\n",
        "us-east-123",
        "email-smtp.us-east-1.amazonaws.com",
        "us-east-1/../x",
        "us-\u0435ast-1",  # a Cyrillic "e"
    ],
)
def test_rejects_malformed_regions(region: str) -> None:
    with pytest.raises(ValueError, match="not an AWS region name"):
        derive_smtp_password(DOC_SECRET, region)
    with pytest.raises(ValueError, match="not an AWS region name"):
        smtp_endpoint(region)


def test_rejects_an_empty_secret_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="secret access key is empty"):
        derive_smtp_password("", "us-east-1")


def test_region_error_never_contains_the_secret() -> None:
    with pytest.raises(ValueError) as caught:
        derive_smtp_password(DOC_SECRET, "nowhere")
    assert DOC_SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("us-east-1", "email-smtp.us-east-1.amazonaws.com"),
        ("eu-central-1", "email-smtp.eu-central-1.amazonaws.com"),
        ("us-gov-west-1", "email-smtp.us-gov-west-1.amazonaws.com"),
    ],
)
def test_smtp_endpoint(region: str, host: str) -> None:
    assert smtp_endpoint(region) == (host, 587)
