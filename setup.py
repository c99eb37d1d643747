"""Optional mypyc build: ``SES_EXPORTER_COMPILE=1 pip install .`` compiles the DNS check
cycle's hot path to C extensions (about a third less CPU per checked domain, see
bench/README.md); without it the package is the pure-Python one, which stays the default
and the fallback. The metadata lives in pyproject.toml; this file only adds the extensions.
"""

from __future__ import annotations

import os

from setuptools import setup

# The modules every checked domain runs through: the cycle and its verdict memo, the checks,
# the shared types, the wire format, the client and its sockets. Each is mypy --strict clean;
# mypyc compiles them as they are.
COMPILED = [
    "exporter/jobs/dns.py",
    "exporter/jobs/verdict_cache.py",
    "exporter/model.py",
    "exporter/checks/domain.py",
    "exporter/checks/dkim.py",
    "exporter/checks/dmarc.py",
    "exporter/checks/dmarc_record.py",
    "exporter/checks/mail_from.py",
    "exporter/checks/mx.py",
    "exporter/checks/spf.py",
    "exporter/checks/spf_parse.py",
    "exporter/sources/dns_wire.py",
    "exporter/sources/dns.py",
    "exporter/sources/dns_udp.py",
]


def _extensions() -> list[object]:
    if os.environ.get("SES_EXPORTER_COMPILE", "") != "1":
        return []
    from mypyc.build import mypycify  # noqa: PLC0415 - the compiled build's requirement only

    return list(mypycify(COMPILED, opt_level="3"))


setup(ext_modules=_extensions())
