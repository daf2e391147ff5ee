# The exchange's demo: the full simulated market, kept in SQLite on the volume /data.
#
#     docker compose up --build        # then open http://127.0.0.1:8000/
#
# A restart on the same volume restores the game (teams, keys, positions, the clock).

# The dashboard's charting library, from the npm lockfile (node_modules is never committed).
FROM node:22-slim AS dashboard
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    EXCHANGE_NODE_MODULES=/opt/exchange/node_modules
RUN useradd --create-home --uid 10001 exchange \
    && mkdir -p /data && chown exchange /data
WORKDIR /opt/exchange
COPY pyproject.toml README.md LICENSE ./
COPY exchange ./exchange
COPY bots ./bots
RUN pip install --no-cache-dir . && rm -rf build
COPY --from=dashboard /build/node_modules/uplot/dist ./node_modules/uplot/dist
COPY scenarios ./scenarios
USER exchange
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
ENTRYPOINT ["python", "-m", "exchange"]
CMD ["serve", "--preset", "demo", "--host", "0.0.0.0", "--port", "8000", "--db", "/data/demo.db"]
