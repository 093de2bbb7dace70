# Production image of ecandidat (the reference deployment is compose.yaml; README, "Deploying at a university").
# Multi-stage: the build stage may compile, the final image has no compiler and runs as an unprivileged user.
# Build: docker build -t ecandidat .   Run: see compose.yaml (web, worker and beat are this image).

FROM python:3.13-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Every pinned package ships a wheel for this platform; the compiler is here only for a package that would not.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --require-virtualenv -r /tmp/requirements.txt
# Optional, for Chinese, Japanese and Korean in the PDFs (ecandidat/pdf.py): docker build --build-arg CJK_FONTS=1
# (compose: build: {context: ., args: {CJK_FONTS: 1}}) copies Debian's fonts-noto-cjk Sans Regular (19 MB) into
# /opt/fonts; then set PDF_FALLBACK_FONTS=/opt/fonts/NotoSansCJK-Regular.ttc:2 in .env. Otherwise /opt/fonts is
# empty. After the packages, so that either value reuses their layer.
ARG CJK_FONTS=0
RUN mkdir -p /opt/fonts \
    && if [ "$CJK_FONTS" = 1 ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends fonts-noto-cjk \
        && cp /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc /opt/fonts/ \
        && cp /usr/share/doc/fonts-noto-cjk/copyright /opt/fonts/NotoSansCJK.copyright \
        && rm -rf /var/lib/apt/lists/*; \
    fi
# Optional, for Arabic in the PDFs: --build-arg ARABIC_FONTS=1 copies fonts-noto-core's Noto Naskh Arabic (180 KB)
# into /opt/fonts; then add /opt/fonts/NotoNaskhArabic-Regular.ttf to PDF_FALLBACK_FONTS (comma-separated).
ARG ARABIC_FONTS=0
RUN if [ "$ARABIC_FONTS" = 1 ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends fonts-noto-core \
        && cp /usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf /opt/fonts/ \
        && cp /usr/share/doc/fonts-noto-core/copyright /opt/fonts/NotoNaskhArabic.copyright \
        && rm -rf /var/lib/apt/lists/*; \
    fi

FROM python:3.13-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=ecandidat.settings.base \
    GUNICORN_BIND=0.0.0.0:8000
RUN groupadd --system --gid 10001 ecandidat \
    && useradd --system --uid 10001 --gid ecandidat --home-dir /srv/ecandidat --shell /usr/sbin/nologin ecandidat
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/fonts /opt/fonts
WORKDIR /srv/ecandidat
# The code belongs to root and is read-only for the service; only var/ (local files, when no bucket) is writable.
COPY . .
# collectstatic needs settings that pass the production checks; this key exists only during the build.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" CLAMD_ADDRESS=none \
        python manage.py collectstatic --noinput -v0 \
    && mkdir -p var/media \
    && chown -R ecandidat:ecandidat var/media
USER ecandidat
EXPOSE 8000
# /healthz is exempt from the HTTPS redirect; the Host header must be one of ALLOWED_HOSTS.
HEALTHCHECK --interval=30s --timeout=5s CMD ["python", "-c", "import os, urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:8000/healthz', headers={'Host': os.environ['ALLOWED_HOSTS'].split(',')[0]}), timeout=4)"]
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "ecandidat.wsgi"]
