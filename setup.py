"""kgan: train GANs with Keras 3 on TensorFlow and ship the generator."""

from setuptools import find_packages, setup

setup(
    name="kgan",
    version="0.1.0",
    description="Train generative adversarial networks with Keras 3 / TensorFlow and ship the generator",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["kgan", "kgan.*", "kgan_cli"]),
    entry_points={
        "console_scripts": [
            "kgan-train = kgan_cli.train:main",
            "kgan-evaluate = kgan_cli.evaluate:main",
            "kgan-export = kgan_cli.export:main",
            "kgan-client = kgan_cli.client:main",
            "kgan-launch = kgan_cli.launch:main",
            "kgan-generate = kgan_cli.generate:main",
        ],
    },
    install_requires=[
        "keras>=3.15,<3.16",
        "tensorflow-datasets>=4.9.10,<5",
        "importlib_resources",  # tensorflow-datasets 4.9.10 imports it without declaring it
        "tensorboard>=2.21,<2.22",  # TensorBoard logs (tensorflow-cpu does not pull it in)
        "absl-py>=2.1",
        "numpy>=1.26",
        "matplotlib>=3.8",
        "pillow>=10",
        "scikit-learn>=1.4",  # k-means for self-conditioning on clusters (kgan.features.clusters)
        "scipy>=1.10",  # image filters of the SWD metric (kgan.eval.swd); scikit-learn needs it anyway
    ],
    extras_require={
        # TensorFlow is an extra so users pick the build: the CPU wheel is half the size.
        "cpu": ["tensorflow-cpu>=2.21,<2.22"],
        "gpu": ["tensorflow[and-cuda]>=2.21,<2.22"],
        "tflite": ["ai-edge-litert>=2.3"],
        "test": ["pytest>=8", "pytest-xdist>=3.5", "hypothesis>=6", "pyyaml>=6"],
        # bench/make_rgb_set.py: the sample photographs inside the scikit-image wheel (no download).
        "bench": ["scikit-image>=0.22"],
    },
)
