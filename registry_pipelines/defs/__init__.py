"""The shipped models, one `defs.yaml` per model, declared with `ModelLifecycleComponent`.

Each run trains on a fresh seeded snapshot of a demo dataset; the thresholds hold for any seed
(see tests/pipelines/test_datasets.py), and max_regression is how much worse than the current
champion a candidate may be in each metric's bad direction.
"""
