# The `veil` binary in a distroless, non-root runtime image.
#
#   docker build -t veil:dev .
#   docker run --rm -p 8851:8851 veil:dev          # veil serve on embedded defaults
#
# The runtime image has no shell and no package manager: only /veil, glibc, libgcc, CA certificates and
# tzdata. Data goes to /var/lib/veil (VEIL_DATA_DIR); mount a volume there, or point the config at
# PostgreSQL and S3 (see docs/deploy.md).

FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
# Cache the registry and the target directory between builds (BuildKit); the binary is copied out of the
# cache mount so the next stage can see it.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release -p veil --locked \
    && install -D -m 0755 target/release/veil /out/veil \
    && install -d -m 0750 /out/var/lib/veil

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/veil /veil
# Copy the parent so that the created directory itself is owned by the runtime user.
COPY --from=builder --chown=65532:65532 /out/var/lib/ /var/lib/
ENV VEIL_DATA_DIR=/var/lib/veil
USER 65532:65532
EXPOSE 8851
ENTRYPOINT ["/veil"]
CMD ["serve", "--listen", "0.0.0.0:8851"]
