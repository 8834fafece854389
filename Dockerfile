# Builds the same release binary the tests run (`cargo build --release --locked`).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY tests ./tests
RUN cargo build --release --locked --bin charthall

FROM debian:bookworm-slim
RUN useradd --uid 10000 --user-group --no-create-home --shell /usr/sbin/nologin charthall \
    && mkdir -p /charthall_data && chown 10000:10000 /charthall_data
COPY --from=build /src/target/release/charthall /usr/local/bin/charthall
USER 10000:10000
ENV STORAGE_LOCAL_ROOTDIR=/charthall_data \
    PORT=8080 \
    LISTEN_HOST=0.0.0.0
VOLUME ["/charthall_data"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/charthall"]
