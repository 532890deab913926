"""The lifecycle component: a `defs/<model>/defs.yaml` of type
`registry_pipelines.ModelLifecycleComponent` declares one model; its attributes are the spec."""

from __future__ import annotations

from pathlib import Path
from typing import Self

import dagster as dg
from pydantic import BaseModel, ValidationError

from registry_pipelines.factory import lifecycle_definitions
from registry_pipelines.specs import ModelSpec, SpecError, describe

TEMPLATE = """\
type: {type_name}

# One model's lifecycle: training data -> candidate -> evaluation -> registered version
# (validation checks) -> promotion. This template trains on a shipped demo dataset, so it runs as
# written; point `data` at your own table and `training` at your own estimator.
attributes:
  name: {name}
  description: A regression model on the shipped demo house-price data.
  task: regression
  data:
    # One source: demo (a shipped dataset), asset (an upstream asset key such as features or
    # warehouse/features), path (a .parquet or .csv file or glob, relative to this file), or
    # sql: {{database: warehouse.duckdb, query: "SELECT ..."}} (opened read-only).
    demo: synthetic_house
    rows: 1000
    target: price
    # features: [f1, f2, f3]   # default: every column but the target
    test_size: 0.25
  training:
    # A scikit-learn, XGBoost or LightGBM estimator (or a function returning a Pipeline) by
    # dotted path with its params, or `trainer: my_project.training.fit`, fit(X, y, params).
    estimator: sklearn.linear_model.LinearRegression
    params: {{}}
  # Built-in metrics, or your own: {{name: profit, function: my_project.metrics.profit,
  # better: higher}}
  metrics: [r2, rmse, mae]
  validation:
    thresholds:
      r2: {{min: 0.9}}
    max_regression:
      r2: 0.05
  promotion:
    policy: auto   # auto (the sensor promotes), approval (a person approves), staging or manual
    # protected_stages: [Production]   # direct transitions refused; requests are approved
  retrain:
    cron: "0 3 * * *"
    timezone: UTC
"""


class ModelLifecycleScaffolder(dg.Scaffolder):
    """Writes a commented defs.yaml that trains on demo data, named after its folder."""

    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        if request.scaffold_format != "yaml":
            from dagster.components.component_scaffolding import scaffold_component

            scaffold_component(request, {})
            return
        request.target_path.mkdir(parents=True, exist_ok=True)
        text = TEMPLATE.format(type_name=request.type_name, name=request.target_path.name)
        (request.target_path / "defs.yaml").write_text(text, encoding="utf-8")


@dg.scaffold_with(ModelLifecycleScaffolder)
class ModelLifecycleComponent(ModelSpec, dg.Component, dg.Resolvable):
    """One model through the registry lifecycle: its training data, candidate, evaluation,
    registered version with validation checks, promotion, jobs, retraining schedule and
    promotion sensor. Relative data paths are relative to the defs.yaml folder."""

    @classmethod
    def model(cls) -> type[BaseModel]:
        """The YAML schema is the model spec itself."""
        return ModelSpec

    @classmethod
    def resolve_from_model(cls, context: dg.ResolutionContext, model: BaseModel) -> Self:
        """Render templates (`{{ env.X }}`, `{{ context.project_root }}`) in every string, then
        validate the result as the spec."""
        raw = model.model_dump(by_alias=True, exclude_unset=True, exclude={"asset_prefix"})
        rendered = context.resolve_value(raw)
        try:
            return cls.model_validate(rendered)
        except ValidationError as exc:
            raise SpecError(describe(exc, rendered)) from None

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        folder = context.path if context.path.is_dir() else context.path.parent
        return lifecycle_definitions(self.anchored(Path(folder)))
