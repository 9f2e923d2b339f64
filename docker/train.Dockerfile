# kgan training image: runs train.py, writing the run into a mounted /runs.
#
# Build from the repository root (the build context):
#   CPU (default):  docker build -f docker/train.Dockerfile -t kgan-train .
#   GPU:            docker build -f docker/train.Dockerfile --build-arg VARIANT=gpu -t kgan-train:gpu .
# Run (MNIST IDX files mounted read-only; the run lands in ./runs/dcgan on the host):
#   docker run --rm -v "$PWD/runs:/runs" -v "$PWD/../shared/data/mnist:/data/mnist:ro" kgan-train \
#       --flagfile=flags/dcgan.cfg --data_dir=/data/mnist --output_dir=/runs/dcgan
#   GPU: add --gpus all (needs the NVIDIA Container Toolkit on the host) and use kgan-train:gpu.
# Export the run for TF Serving with the same image:
#   docker run --rm -v "$PWD/runs:/runs" --entrypoint kgan-export kgan-train --run_dir=/runs/dcgan
#
# VARIANT picks the TensorFlow build, as the setup.py extras do: "cpu" installs tensorflow-cpu (CPU only,
# about half the download), "gpu" installs tensorflow[and-cuda], which brings the CUDA and cuDNN
# libraries as pip packages, so the plain Python base image serves both.
ARG PYTHON_VERSION=3.11
FROM python:${PYTHON_VERSION}-slim

ARG VARIANT=cpu
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2

# TensorFlow first, in its own layer: it is most of the image and rarely changes.
# The pins match setup.py's "cpu" and "gpu" extras (tests/export/test_docker.py checks that).
RUN case "$VARIANT" in \
      cpu) pip install "tensorflow-cpu>=2.21,<2.22" ;; \
      gpu) pip install "tensorflow[and-cuda]>=2.21,<2.22" ;; \
      *) echo "VARIANT must be cpu or gpu, got '$VARIANT'" >&2; exit 2 ;; \
    esac

WORKDIR /app
COPY setup.py README.md ./
COPY kgan/ kgan/
COPY kgan_cli/ kgan_cli/
RUN pip install ".[${VARIANT},tflite]"
COPY train.py ./
COPY flags/ flags/

# Runs and exports go to the mounted host directory; runs/ points there too, so train.py's default
# --output_dir (runs/<flagfile name>) and kgan-export's default export base land on the host.
RUN mkdir -p /runs && ln -s /runs /app/runs
VOLUME ["/runs"]
ENTRYPOINT ["python", "train.py"]
CMD ["--flagfile=flags/dcgan.cfg", "--output_dir=/runs/dcgan"]
