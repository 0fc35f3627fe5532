# berth's container image: the `berth` binary alone on a small Debian runtime, running as the
# non-root uid 10001. Build: `docker build -t berth .`. Every setting comes from `BERTH_*`
# variables, no config file is needed:
#   docker run -p 8080:8080 -e BERTH_SOURCE_URL=https://github.com/acme/estate.git berth
# In AWS it runs as a Fargate task; credentials come from the task role. The contract this image
# keeps (environment only, a writable /tmp for the git cache, uid 10001, SIGTERM, the health
# check) is in docs/operations.md, "The container contract"; crates/berth/tests/cli/container.rs
# checks this file against it.
#
# Base images are pinned to exact tags (a full Rust release, a dated Debian build), never to a
# moving tag such as `bookworm-slim`. Both stages are bookworm, so the binary finds the glibc it
# was linked against.

FROM rust:1.94.1-slim-bookworm AS build
# libgit2 and OpenSSL are vendored (built from source): they need a C toolchain, make and perl.
RUN apt-get update \
    && apt-get install -y --no-install-recommends make perl pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates crates
# The release profile already strips symbols (Cargo.toml).
RUN cargo build --release --locked -p berth

# The runtime: the binary and CA certificates, no compiler and no source.
FROM debian:bookworm-20260316-slim
# CA certificates for HTTPS to AWS and to git hosts. The user exists only so that tools that look
# the uid up find a name; its home is not a writable path berth needs.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 berth \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin berth
COPY --from=build /src/target/release/berth /usr/local/bin/berth
# Fargate mounts an empty task volume over a path the task definition names (the stack's /tmp,
# under a read-only root filesystem) root-owned 0755, unless the image declares that path a
# VOLUME: then the volume gets the image's /tmp, mode 1777, which uid 10001 can write.
VOLUME ["/tmp"]
USER 10001:10001
# The git cache is the only path berth writes: its default is $TMPDIR/berth-git-cache, that is
# /tmp/berth-git-cache here (with a read-only root filesystem, mount a volume at /tmp).
# BERTH_LISTEN: every interface, or the port is unreachable from outside the container.
# No MALLOC_* variable: berth sets glibc's malloc parameters itself (docs/operations.md, "The
# container contract"); one set here would override berth's value.
ENV BERTH_LOG_FORMAT=json \
    BERTH_LISTEN=0.0.0.0:8080
EXPOSE 8080
# No HEALTHCHECK: ECS ignores it and runs the task definition's container `healthCheck`, which
# calls the binary itself (the image has no curl):
#   "healthCheck": {"command": ["CMD", "/usr/local/bin/berth", "healthcheck"]}
ENTRYPOINT ["/usr/local/bin/berth"]
CMD ["run"]
