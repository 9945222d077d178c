# The sts image. Build: docker build -t tessera-sts .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# A plain build: `sts demo` (the entra-emulator, which mints tokens for anyone) is an opt-in feature.
RUN cargo build --release --locked -p sts && strip target/release/sts

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/tessera --create-home tessera
COPY --from=build /src/target/release/sts /usr/local/bin/sts
USER tessera
# Owned by tessera, so the named volume compose mounts here starts writable.
RUN mkdir -p /var/lib/tessera/audit-spool
WORKDIR /var/lib/tessera
ENV TESSERA_SERVER__LISTEN=0.0.0.0:8080 \
    TESSERA_LOG__FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD ["/usr/local/bin/sts", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/sts"]
CMD ["serve"]
