# The serving image: `thaiocr serve` on port 8080, SageMaker-hosting compatible (`serve` on PATH,
# GET /ping, POST /invocations, the model read from /opt/ml/model). See docs/serving.md.
#   docker build -t thaiocr-serve .
#   docker run -p 8080:8080 -v "$PWD/models/numbers/best_model:/opt/ml/model:ro" thaiocr-serve
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# torch first and pinned, as the Makefile does, from the CPU-only index: a plain `pip install torch`
# pulls the CUDA build (several GB). Serving an .onnx model never imports it; the package requires it.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --index-url "$TORCH_INDEX" torch==2.13.0

WORKDIR /opt/thaiocr
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install ".[serve]"
# Page OCR's text detector: only the PP-OCRv4 and PP-OCRv6 model files inside these wheels are used, so none of the
# wheel's own dependencies (OpenCV, ...) are installed (as in the Makefile).
RUN pip install --no-deps rapidocr-onnxruntime==1.4.4 'rapidocr==3.10.*'

COPY docker/serve /usr/local/bin/serve
RUN chmod 755 /usr/local/bin/serve

EXPOSE 8080
CMD ["serve"]
