# One image for the web, worker and beat services of docker-compose.yml.

# Bootstrap from package-lock.json; only its dist/ files reach the final image.
FROM python:3.11-slim AS node_modules
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: vnu-jar (a test tool) would fetch a Java runtime.
RUN npm ci --ignore-scripts --no-audit --no-fund

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# WeasyPrint's libraries and a font for the PDF audit reports.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 baatracker
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY --from=node_modules /app/node_modules/bootstrap/dist node_modules/bootstrap/dist
COPY . .
# Static files with hashed names, served by WhiteNoise; production settings need a key to load, not this one.
RUN DEBUG=false ALLOWED_HOSTS=build SECRET_KEY=collectstatic-only-not-used-at-run-time-0123456789abcdefghij \
    python manage.py collectstatic --noinput \
    && mkdir -p var/media \
    && chown -R baatracker:baatracker var
USER baatracker
EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "baatracker.wsgi"]
