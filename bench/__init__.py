"""Benchmarks of the training pipeline: `python -m bench.run --help`.

`bench.run` orchestrates and measures; `bench.steps` holds what each measured child process
runs. Nothing here is imported by the `training_assets` package.
"""
