# applink-gateway container image: compiled TypeScript on the Node.js LTS image, production
# dependencies only, running as a non-root user with `node dist/cli.js serve`.
#   docker build -t applink-gateway:0.1.0 .
#   docker run --rm -p 8080:8080 -p 9090:9090 -v $PWD/config:/etc/applink-gateway/config:ro \
#     applink-gateway:0.1.0 serve --config /etc/applink-gateway/config/gateway.yaml
ARG NODE_VERSION=24

# Compile: dev dependencies (TypeScript) only here.
FROM node:${NODE_VERSION}-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Production dependencies, without the dev tools.
FROM node:${NODE_VERSION}-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

FROM node:${NODE_VERSION}-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config/gateway.example.yaml ./config/gateway.example.yaml
# The image's "node" user, by number so that Kubernetes' runAsNonRoot can check it.
USER 1000:1000
EXPOSE 8080 9090
ENV APPLINK_GATEWAY_CONFIG=/etc/applink-gateway/config/gateway.yaml
# SIGTERM reaches node directly (no shell): the gateway drains and exits 0.
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve"]
