"""Blocking gates as asset checks: data gates on the training table, model gates on the
evaluation. Which gates exist and which block is core/gates/catalog.py's list."""
