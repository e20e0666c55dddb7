# orkhub in a container. Build: docker build -t orkhub .
# Run (SQLite on a volume):
#   docker run -d --name orkhub -p 127.0.0.1:8080:8080 -v orkhub-data:/data \
#     -v "$PWD/config.toml:/etc/orkhub/config.toml:ro" --env-file orkhub.env orkhub
# PostgreSQL instead: -e ORKHUB_DATABASE__URL=postgres://user:password@db:5432/orkhub
# (see "Running in production" in the README).

# Build stage: the release binary. rustls and bundled SQLite need only a C
# compiler, which the rust image has (no OpenSSL).
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p orkhub

# Run stage: the binary, the system CA store (outbound TLS trusts it, see
# [tls] in config.toml), the shipped config and templates; a non-root user.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin orkhub \
 && mkdir -p /data /etc/orkhub \
 && chown orkhub:orkhub /data
COPY --from=build /src/target/release/orkhub /usr/local/bin/orkhub
COPY config.toml /etc/orkhub/config.toml
COPY templates /etc/orkhub/templates
ENV ORKHUB_CONFIG=/etc/orkhub/config.toml \
    ORKHUB_SERVER__LISTEN=0.0.0.0:8080 \
    ORKHUB_DATABASE__URL=sqlite:///data/orkhub.db \
    ORKHUB_ADAPTERS__EMAIL__TEMPLATES_DIR=/etc/orkhub/templates \
    ORKHUB_BRIEF__TEMPLATES_DIR=/etc/orkhub/templates
USER orkhub
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# SIGTERM drains (commits what was accepted, finishes sends in hand): give
# it time with `docker stop -t 60`.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/orkhub"]
CMD ["serve"]
