from setuptools import find_packages, setup

setup(
    name="training_assets",
    version="0.1.0",
    description=(
        "A tabular training pipeline as Dagster software-defined assets, with Feast and MLflow."
    ),
    # feast_asof: the offline store, a package of its own so that it can serve any Feast repo;
    # its tests stay in the checkout.
    packages=find_packages(exclude=["training_assets_tests", "feast_asof.tests"]),
    python_requires=">=3.11,<3.12",
    install_requires=[
        "dagster>=1.13,<1.14",
        "dagster-webserver>=1.13,<1.14",
        "dagster-graphql>=1.13,<1.14",
        "feast[duckdb]>=0.67,<0.68",
        "mlflow>=3.17,<4",
        "scikit-learn>=1.9,<1.10",
        "pandas>=2.3,<3",
        "pyarrow>=25,<27",
        # Queries the training table's file for the gates and drift, and runs the ASOF join.
        "duckdb>=2.0,<3",
        "universal-pathlib>=0.3,<0.4",
        # The deployment's gate thresholds file (TRAINING_ASSETS_GATES_FILE); Dagster has it.
        "pyyaml>=6,<7",
        # The model report's plots.
        "matplotlib>=3.9,<4",
        # The online server (training-assets-serve): already installed with Feast and MLflow.
        # FastAPI over BentoML: no second packaging of the MLflow model, and Feast's own
        # feature server is built on the same two.
        "fastapi>=0.115,<1",
        "uvicorn>=0.30,<1",
        "prometheus-client>=0.20,<1",
        # The online path scores the champion through ONNX Runtime, compiled from the
        # scikit-learn pipeline by skl2onnx: microseconds a row where pyfunc's validation
        # takes milliseconds (training_assets/core/ml/compiled.py).
        "skl2onnx>=1.20,<2",
        "onnxruntime>=1.32,<2",
    ],
    entry_points={
        "console_scripts": [
            "training-assets-predict=training_assets.cli:predict",
            "training-assets-serve=training_assets.server.main:serve",
        ],
    },
    extras_require={
        "dev": [
            "pytest>=9,<10",
            # Runs the suite on every core: `-n auto` in pyproject's pytest options.
            "pytest-xdist>=3.8,<4",
            "ruff>=0.17,<0.18",
            "hypothesis>=6.100,<7",
            # Enforces the layout: nothing under training_assets/core imports Dagster.
            "import-linter>=2.16,<3",
            # The benchmark samples each process's RSS.
            "psutil>=7,<8",
            # An S3-compatible server on 127.0.0.1 for the object-store tests.
            "moto[server]>=5.1,<6",
            # The docs site (docs/, mkdocs.yml), built with --strict in CI.
            "mkdocs>=1.6,<1.7",
            "mkdocs-material>=9.8,<10",
        ],
        # The production profile (deploy/): Dagster's storage and Feast's SQL registry on
        # PostgreSQL through psycopg2, Feast's Redis online store, and the executors a
        # deployment can choose (TRAINING_ASSETS_EXECUTOR): Celery workers and Kubernetes Jobs.
        # gcsfs or adlfs, installed beside them, open gs:// and abfs:// locations the same way.
        "production": [
            "dagster-postgres>=0.29,<0.30",
            "psycopg2-binary>=2.9,<3",
            "redis>=5,<9",
            "dagster-celery>=0.29,<0.30",
            "dagster-k8s>=0.29,<0.30",
            # Orders and driver stats in S3 (fsspec's S3 file system).
            "s3fs>=2026.9,<2027",
        ],
        # Feast's Spark offline store, for data past one machine (docs/production.md, Spark);
        # the parity test runs it in local mode against the embedded store. Needs Java 17+.
        "spark": ["pyspark>=4.0,<5"],
    },
)
