# berth's container image: the `berth` binary on a small Debian runtime, running as a non-root
# user. Build: `docker build -t berth .`; run: `docker run -p 8080:8080 -v $PWD/berth.yaml:/etc/berth/berth.yaml:ro berth`.
# In AWS it runs as a Fargate task ; credentials come from the task role.

FROM rust:1.94-slim-bookworm AS build
# libgit2 and OpenSSL are vendored (built from source): they need a C toolchain, make and perl.
RUN apt-get update \
    && apt-get install -y --no-install-recommends make perl pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates crates
# The release profile already strips symbols (Cargo.toml).
RUN cargo build --release --locked -p berth

FROM debian:bookworm-slim
# CA certificates for HTTPS to AWS and to git hosts; git clones live in /var/cache/berth.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/cache/berth --create-home berth
COPY --from=build /src/target/release/berth /usr/local/bin/berth
USER 10001
ENV BERTH_CACHE_DIR=/var/cache/berth \
    BERTH_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/berth"]
CMD ["run", "--config", "/etc/berth/berth.yaml"]
