# The image the recipes in examples/ name: batchavatars with its PostgreSQL extra, run as a non-root
# user, nightly.sh as the entry point (it maps exit codes for a scheduler and passes SIGTERM on).
#   docker build -t registry.example.com/batchavatars:0.1.0 .
#   docker run --rm -e HEYGEN_API_KEY -e BATCHAVATARS_LEDGER=postgresql://... -v "$PWD:/config:ro" \
#     registry.example.com/batchavatars:0.1.0 /config/team.yaml
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY batchavatars ./batchavatars
RUN pip install '.[postgres]' && rm -rf /root/.cache
COPY examples/cron/nightly.sh /usr/local/bin/nightly.sh

# No root at run time; /tmp holds the run's summary file when the ledger lives in PostgreSQL.
RUN useradd --create-home --uid 10001 batchavatars && chmod 0755 /usr/local/bin/nightly.sh
USER 10001
ENV BATCHAVATARS_STATE=/tmp

ENTRYPOINT ["/usr/local/bin/nightly.sh"]
