# Build stage: Pingora needs cmake.
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# [patch.crates-io] builds pingora-core and pingora-http from vendor/.
COPY vendor ./vendor
COPY src ./src
# Page templates are compiled into the binary (askama).
COPY templates ./templates
COPY examples ./examples
RUN cargo build --release --locked --bin gatehouse

# Runtime stage: slim, non-root, only the binary and CA certificates.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin gatehouse
COPY --from=build /src/target/release/gatehouse /usr/local/bin/gatehouse
USER 10001:10001
WORKDIR /etc/gatehouse
EXPOSE 8080 8443 9090
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["run", "--config", "/etc/gatehouse/gateway.toml"]
