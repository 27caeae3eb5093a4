# One image for every Python service: ingest, alerts, api, the HJ 212 gateway, the simulators
# and the one-shot jobs (store.schema, mqtt.access). docker-compose.yml picks the command.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# PDF reports (WeasyPrint, api/services/reportformats.py) lay text out with Pango; the CJK font
# draws the Chinese labels.
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
       fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first, so that a code change does not reinstall them. The code itself runs from
# /app (`python -m` finds it in the working directory), next to config/.
COPY pyproject.toml ./
RUN for p in core store hj212 mqtt ingest alerts api forward devstack ops simulators; do mkdir -p $p && touch $p/__init__.py; done \
    && pip install . \
    && pip uninstall -y emissions-monitor \
    && rm -rf core store hj212 mqtt ingest alerts api forward devstack ops simulators build *.egg-info

COPY core ./core
COPY store ./store
COPY hj212 ./hj212
COPY mqtt ./mqtt
COPY ingest ./ingest
COPY alerts ./alerts
COPY api ./api
COPY forward ./forward
COPY devstack ./devstack
COPY ops ./ops
COPY simulators ./simulators
COPY config ./config

# The services run unprivileged. /broker-auth is where `python -m mqtt.access` writes the
# broker's password file and ACL (a volume; its files are handed to the broker's user).
RUN useradd --system --uid 10001 --home-dir /app ems \
    && mkdir -p /broker-auth /var/lib/ems \
    && chown ems /var/lib/ems
USER ems

CMD ["python", "-m", "ingest"]
