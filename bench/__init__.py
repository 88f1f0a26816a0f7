"""Benchmarks of the training pipeline: `python -m bench.run --help`.

`bench.run` is the command; `bench.measure` runs and measures each step in a child process;
`bench.compare` checks the steps' outputs against the baseline's and computes the ratios;
`bench.report` prints the table, which `bench.page` also puts on the docs site. `bench.steps`
holds what each measured child process runs. Nothing here is imported by the `training_assets`
package.
"""
