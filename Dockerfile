# The API as an install, not a checkout: the dashboard is built from web/, then the wheel (with
# the queries, plans and dashboard as package data) is installed; docker-compose.yml runs it.
FROM node:20-slim AS dashboard
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM python:3.11-slim
WORKDIR /src
COPY . .
COPY --from=dashboard /src/api/static/dist api/static/dist
RUN pip install --no-cache-dir . && cd / && rm -rf /src
WORKDIR /app
EXPOSE 8000
CMD ["sh", "-c", "downline db schema && downline serve --host 0.0.0.0 --port 8000"]
