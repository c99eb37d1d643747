# syntax=docker/dockerfile:1
# ses-deliverability-exporter: a Prometheus exporter for Amazon SES deliverability.
#
#   docker build --build-arg VERSION=0.1.0 -t ses-deliverability-exporter .
#   docker run --read-only --tmpfs /tmp -p 10190:10190 \
#     -v "$PWD/config.toml:/etc/ses-deliverability-exporter/config.toml:ro" ses-deliverability-exporter
#   docker run --read-only --tmpfs /tmp -p 10190:10190 ses-deliverability-exporter demo
#
# The runtime image writes nothing outside /tmp, so it runs with a read-only root filesystem
# (mount a tmpfs or emptyDir at /tmp). AWS credentials come from the standard chain
# (environment, IRSA, instance role); nothing secret belongs in the image or the config.

# The base image of both stages. The release workflow passes it pinned by digest
# (python:3.11-slim-bookworm@sha256:...) together with BASE_DIGEST, recorded in the labels.
ARG BASE_IMAGE=python:3.11-slim-bookworm

# ---- builder: the project and every dependency as wheels. The project's wheel is the
#      mypyc-compiled build (the DNS check cycle's hot path as C extensions, about a third
#      less CPU per checked domain); --build-arg SES_EXPORTER_COMPILE=0 builds the pure-Python
#      one, which needs no compiler. PyPI has binary wheels for the other compiled
#      dependencies (bcrypt, PyYAML, pydantic-core). ----
FROM ${BASE_IMAGE} AS builder

# constraints.txt pins every dependency, the build backend and the mypy that compiles
# (PIP_CONSTRAINT also reaches pip's isolated build environment): two builds of one commit
# install the same versions.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_CONSTRAINT=/src/constraints.txt

# 1: the compiled build (default); 0: pure Python.
ARG SES_EXPORTER_COMPILE=1

# mypyc's C compiler, only in this stage: gcc and the C library headers, plus Python's own
# headers where the base's Python lacks them (the official python images ship them; Debian's
# python3 keeps them in python3-dev). Not pinned (DL3008): the base image's Debian release
# fixes their versions, and its security updates replace old ones in the archive.
# hadolint ignore=DL3008
RUN if [ "${SES_EXPORTER_COMPILE}" = "1" ]; then \
      headers=""; \
      include=$(python -c 'import sysconfig; print(sysconfig.get_paths()["include"])'); \
      [ -e "${include}/Python.h" ] || headers=python3-dev; \
      apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
         gcc libc6-dev ${headers} >/dev/null \
      && rm -rf /var/lib/apt/lists/*; \
    fi

# The commit built (the release workflow passes it): written into the package, where
# --version and deliverability_build_info read it (.git is not in the build context).
ARG REVISION=""

WORKDIR /src
COPY constraints.txt pyproject.toml setup.py README.md LICENSE ./
COPY build_support/ build_support/
COPY exporter/ exporter/
# SES_EXPORTER_COMPILE (the build arg, in RUN's environment) reaches setup.py and the backend.
RUN if [ -n "${REVISION}" ]; then printf '%s\n' "${REVISION}" > exporter/REVISION; fi \
    && pip wheel --no-cache-dir --wheel-dir /wheels .

# ---- runtime: the wheels installed into a clean image, no build tools, no pip cache ----
FROM ${BASE_IMAGE}

ARG BASE_IMAGE
# The digest of BASE_IMAGE (sha256:...), resolved by the release workflow.
ARG BASE_DIGEST=""
ARG VERSION=0.1.0
# The repository URL and commit: passed by the release workflow.
ARG SOURCE_URL=""
ARG REVISION=""

LABEL org.opencontainers.image.title="ses-deliverability-exporter" \
      org.opencontainers.image.description="Prometheus exporter for the email deliverability of Amazon SES senders: mail DNS checks with remedies, SES account state and events" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}" \
      org.opencontainers.image.base.digest="${BASE_DIGEST}"

# No .pyc writes at run time (read-only root filesystem); HOME points at the writable /tmp
# because botocore looks for ~/.aws there (absent is fine). `demo` listens on every interface
# in the container (its default elsewhere is 127.0.0.1, unreachable through a published port);
# `run` takes server.listen_address from the config (default :10190).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp \
    SES_EXPORTER_DEMO_LISTEN_ADDRESS=:10190

# The wheels are bind-mounted from the builder, so they never become a layer of this image.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index /wheels/*.whl \
    && groupadd --system --gid 10190 exporter \
    && useradd --system --uid 10190 --gid 10190 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin exporter \
    && mkdir -p /etc/ses-deliverability-exporter

# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10190:10190

EXPOSE 10190

# Liveness only: /healthz never depends on DNS or AWS and needs no basic auth. Another port
# or TLS (server.web_config_file): set HEALTHCHECK_URL, e.g. https://127.0.0.1:10190/healthz
# (the loopback probe does not verify the certificate).
ENV HEALTHCHECK_URL=http://127.0.0.1:10190/healthz
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, ssl, urllib.request; urllib.request.urlopen(os.environ['HEALTHCHECK_URL'], timeout=4, context=ssl._create_unverified_context())"]

ENTRYPOINT ["ses-deliverability-exporter"]
CMD ["run", "--config", "/etc/ses-deliverability-exporter/config.toml"]
