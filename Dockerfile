# Builds and runs event-metrics-service on the official Swift image (Debian 12 "bookworm").
FROM swift:6.2-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends liblz4-dev libroaring-dev libpq-dev zlib1g-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY bench ./bench
COPY Tests ./Tests
RUN swift build -c release --product event-metrics-service \
    && mkdir /out && cp "$(swift build -c release --show-bin-path)/event-metrics-service" /out/ \
    && cp -r "$(swift build -c release --show-bin-path)"/*.resources /out/

FROM swift:6.2-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends liblz4-1 libroaring0 libpq5 zlib1g curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /out/ /app/
ENV HOST=0.0.0.0 PORT=8080 WAL_DIR=/var/lib/event-metrics/wal
VOLUME /var/lib/event-metrics
EXPOSE 8080
ENTRYPOINT ["/app/event-metrics-service"]
CMD ["serve"]
