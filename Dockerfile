# Production image for idp.
#   docker build -t idp .
#   docker run -p 8000:8000 -v idp-var:/app/var idp

# ---- build stage: build the idp wheel ---------------------------------------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m pip wheel --no-deps --wheel-dir /dist .

# ---- runtime stage: install the wheel into a venv ---------------------------------
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN groupadd --system idp \
    && useradd --system --gid idp --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin idp

COPY --from=build /dist /tmp/dist
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install /tmp/dist/*.whl \
    && rm -rf /tmp/dist

WORKDIR /app
COPY alembic.ini ./
COPY migrations ./migrations
RUN mkdir -p /app/var && chown idp:idp /app/var

ENV IDP_DATABASE_URL=sqlite+aiosqlite:////app/var/idp.db

USER idp
VOLUME /app/var
EXPOSE 8000

ENTRYPOINT ["sh", "-c", "idp migrate && exec idp serve --host 0.0.0.0 --port 8000"]
