from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

setup(
    name="octue_beam",
    version="0.1.0",
    description="Data services that answer questions, compiled into Apache Beam streaming pipelines.",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["octue_beam", "octue_beam.*"]),
    include_package_data=True,
    package_data={"octue_beam": ["schemas/*.json", "templates/*/**/*", "templates/*/**/.*"]},
    install_requires=[
        line for line in (HERE / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")
    ],
    extras_require={
        # matplotlib: CI runs the timeline PNG tests (the `timeline` extra).
        # pandas: tests/cli/test_lean_serving.py checks an app can import it in the lean pipeline process.
        "test": [
            "pytest>=8", "pytest-timeout>=2.3", "ruff==0.17.6", "hypothesis==6.170.15", "matplotlib>=3.7", "pandas>=2",
        ],
        # The Google client libraries of `octue-beam deploy` (docs/deployment.md).
        "deploy": ["google-cloud-dataflow-client>=0.8", "google-cloud-run>=0.10", "google-cloud-build>=3.20"],
        # `octue-beam events timeline --output FILE.png` draws with matplotlib (docs/events.md); .html needs nothing.
        "timeline": ["matplotlib>=3.7"],
    },
    entry_points={
        "console_scripts": ["octue-beam = octue_beam.cli:main"],
        "pytest11": ["octue_beam = octue_beam.testing.pytest_plugin"],
    },
)
