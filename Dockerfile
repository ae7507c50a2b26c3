# syntax=docker/dockerfile:1
# swaggy-stacks, the reference service.
#   docker build -t swaggy-stacks .
#   docker run --rm -p 8080:8080 swaggy-stacks            # the demo (SQLite, no Redis)
#   docker compose up                                      # the full stack (compose.yaml)

FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
# The cargo registry and target/ are BuildKit caches: a rebuild after a source change only
# recompiles the crate. The binary is copied out of the cache mount in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin swaggy-stacks \
 && install -D -m 0755 target/release/swaggy-stacks /out/swaggy-stacks

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 swaggy \
 && useradd --system --uid 10001 --gid swaggy --home-dir /var/lib/swaggy --create-home \
      --shell /usr/sbin/nologin swaggy
COPY --from=builder /out/swaggy-stacks /usr/local/bin/swaggy-stacks
# GET /health/live through bash's /dev/tcp: no curl or wget in this image.
COPY --chmod=0755 docker/healthcheck /usr/local/bin/swaggy-healthcheck

# Listen on all interfaces inside the container (the binary's own default is 127.0.0.1:8080).
# TMPDIR: the demo's default SQLite file lives there when no DATABASE_URL is given.
ENV LISTEN_ADDR=0.0.0.0:8080 \
    TMPDIR=/var/lib/swaggy
USER 10001:10001
WORKDIR /var/lib/swaggy
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/swaggy-healthcheck"]
ENTRYPOINT ["/usr/local/bin/swaggy-stacks"]
CMD ["demo"]
