"""The Dagster side of the registry: the model lifecycle as software-defined assets.

`ModelLifecycleComponent` declares a model in a `defs.yaml`; `model_lifecycle_defs` does the same
from Python.
"""

from registry_pipelines.component import ModelLifecycleComponent
from registry_pipelines.factory import model_lifecycle_defs

__all__ = ["ModelLifecycleComponent", "model_lifecycle_defs"]
