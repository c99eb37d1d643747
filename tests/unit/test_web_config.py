"""A wrong web config file is a ConfigError naming the key, whatever is wrong with it: the
daemon's reload catches only that and keeps the previous config."""

from __future__ import annotations

from pathlib import Path

import bcrypt
import pytest

from exporter.config import ConfigError
from exporter.web_config import load_web_config

HASH = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode().replace("$2b$", "$2y$")


def problems_of(tmp_path: Path, content: str | bytes) -> list[str]:
    path = tmp_path / "web.yml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        load_web_config(path)
    return caught.value.problems


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("basic_auth_users:\n  - bob\n", "basic_auth_users: must be a mapping"),
        ("basic_auth_users: 5\n", "basic_auth_users: must be a mapping"),
        ("basic_auth_users:\n  bob: 12\n", "basic_auth_users.bob: must be a bcrypt hash"),
        ("basic_auth_users:\n  bob: [a]\n", "basic_auth_users.bob: must be a bcrypt hash"),
        ("basic_auth_users:\n  bob: $2y$10$short\n", "basic_auth_users.bob: must be a bcrypt hash"),
        (f"basic_auth_users:\n  123: '{HASH}'\n", "basic_auth_users.123: a user name must be"),
        (f"basic_auth_users:\n  'a:b': '{HASH}'\n", "basic_auth_users.a:b: a user name cannot"),
        ("tls_server_config: [cert_file]\n", "tls_server_config: must be a mapping"),
        ("tls_server_config: 0\n", "tls_server_config: must be a mapping"),
        ("tls_server_config:\n  cert_file: 5\n", "tls_server_config.cert_file: must be a string"),
        ("tls_server_config:\n  cert_file: a.crt\n", "tls_server_config.key_file: is required"),
        ("tls_server_config:\n  7: x\n  zz: y\n", "tls_server_config.7: not supported"),
        ("1: x\nzz: y\n", "1: unknown key"),
        ("- a list\n", "must be a mapping"),
        ("42\n", "must be a mapping"),
        ("basic_auth_users: {bob: [\n", "cannot read web config"),
        ("a: *undefined\n", "cannot read web config"),
        (b"basic_auth_users:\n  b\xf6b: x\n", "cannot read web config"),
    ],
)
def test_wrong_types_are_config_errors_naming_the_key(
    tmp_path: Path, content: str | bytes, expected: str
) -> None:
    problems = problems_of(tmp_path, content)
    assert any(problem.startswith(expected) for problem in problems), problems


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path, "extra: 1\ntls_server_config:\n  cert_file: 5\nbasic_auth_users: [bob]\n"
    )
    assert [p.split(":")[0] for p in problems] == [
        "extra",
        "tls_server_config.cert_file",
        "tls_server_config.key_file",
        "basic_auth_users",
    ]


def test_a_good_file_loads(tmp_path: Path) -> None:
    (tmp_path / "server.crt").write_text("x")
    (tmp_path / "server.key").write_text("x")
    (tmp_path / "web.yml").write_text(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        f"basic_auth_users:\n  prometheus: '{HASH}'\n"
    )
    web = load_web_config(tmp_path / "web.yml")
    assert web.cert_file == tmp_path / "server.crt"
    assert web.users == {"prometheus": HASH.encode()}


@pytest.mark.parametrize("content", ["", "basic_auth_users:\ntls_server_config:\n"])
def test_empty_sections_mean_no_tls_and_no_auth(tmp_path: Path, content: str) -> None:
    (tmp_path / "web.yml").write_text(content)
    web = load_web_config(tmp_path / "web.yml")
    assert (web.cert_file, web.users) == (None, {})
