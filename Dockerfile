# syntax=docker/dockerfile:1
# edgeanon: anonymous people counting on a small box. Two stages: build the wheel (models, the sample clip and
# the demo config are package data in it), then install it into a venv on a clean slim image.
#
#   docker build -t edgeanon .
#   # the bundled demo, /metrics on the container's loopback only (the default config):
#   docker run --rm --read-only -v edgeanon-data:/var/lib/edgeanon edgeanon
#   # a real camera, published on the host (deploy/docker/edgeanon.yaml binds 0.0.0.0; set auth before exposing it):
#   docker run -d --name edgeanon --restart unless-stopped --read-only \
#     -v edgeanon-data:/var/lib/edgeanon -v "$PWD/edgeanon.yaml:/etc/edgeanon/config.yaml:ro" \
#     --device /dev/video0 --group-add "$(getent group video | cut -d: -f3)" \
#     -p 9108:9108 edgeanon run --quiet /etc/edgeanon/config.yaml
#
# tests/test_deploy.py checks this file's assumptions (copied paths, stage names, commands, route, port, user).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src/ src/
COPY models/ models/
COPY configs/default.yaml configs/default.yaml
COPY tests/data/vtest-0-249.avi tests/data/vtest-0-249.avi
RUN pip wheel --no-deps --wheel-dir /dist .

FROM ${PYTHON_IMAGE} AS runtime
ENV VIRTUAL_ENV=/opt/edgeanon \
    PATH=/opt/edgeanon/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ORT_DISABLE_TELEMETRY=1 \
    OPENCV_LOG_LEVEL=ERROR \
    HOME=/nonexistent \
    EDGEANON_HEALTHZ_URL=http://127.0.0.1:9108/healthz
# The wheel pulls in opencv-python-headless (no X11/GUI libraries), onnxruntime, numpy, cheroot.
# The build stage is bind-mounted, so the wheel itself never becomes a layer of this image.
RUN --mount=type=bind,from=build,source=/dist,target=/dist \
    python -m venv "$VIRTUAL_ENV" \
 && pip install --no-cache-dir --disable-pip-version-check /dist/edgeanon-*.whl \
 && edgeanon models --verify
RUN groupadd --system --gid 10001 edgeanon \
 && useradd --system --uid 10001 --gid edgeanon --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin edgeanon \
 && install -d -o edgeanon -g edgeanon -m 0750 /var/lib/edgeanon \
 && install -d -m 0755 /etc/edgeanon
COPY --chmod=0755 deploy/docker/entrypoint.sh /usr/local/bin/edgeanon-entrypoint

# Writable only here: the aggregate store and the audit log (run with --read-only; nothing else is written).
VOLUME ["/var/lib/edgeanon"]
WORKDIR /var/lib/edgeanon
USER 10001:10001
EXPOSE 9108
# Liveness, not camera freshness: one unplugged camera must not get the whole container restarted. The start
# period covers loading and warming up the detector. Set EDGEANON_HEALTHZ_URL when the config uses another port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.build_opener(u.ProxyHandler({})).open(os.environ['EDGEANON_HEALTHZ_URL'], timeout=4)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["edgeanon-entrypoint"]
CMD ["run"]
