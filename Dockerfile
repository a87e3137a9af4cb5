# hashwall: slim, non-root, healthy when /healthz answers.
FROM python:3.11-slim AS build
# A C compiler for the kernels (index/_mih.c, matcher/_pdq.c); not in the final image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY app ./app
COPY matcher ./matcher
COPY index ./index
COPY migrations ./migrations
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HASHWALL_DATABASE_URL=sqlite:////data/hashwall.db
COPY --from=build /install /usr/local
RUN useradd --system --uid 10001 --home-dir /data --create-home hashwall
USER hashwall
WORKDIR /data
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
CMD ["sh", "-c", "hashwall db upgrade && exec hashwall serve --host 0.0.0.0 --port 8000"]
