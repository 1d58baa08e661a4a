# The portal's image: web (gunicorn), worker and beat all run from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 portal \
    && mkdir -p /var/lib/portal \
    && chown portal:portal /var/lib/portal

WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY portal ./portal
COPY auth ./auth
COPY orders ./orders
COPY loyalty ./loyalty
COPY support ./support
COPY erp_bridge ./erp_bridge
COPY admin ./admin
RUN pip install --no-cache-dir -c constraints.txt . \
    && PORTAL_INSTANCE_DIR=/tmp/build portal i18n compile \
    && rm -rf /tmp/build

USER portal
WORKDIR /var/lib/portal
EXPOSE 8000
CMD ["portal", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
