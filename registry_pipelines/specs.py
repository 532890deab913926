"""Models declared as data: the spec file schema, its loader and the estimator factory."""

from __future__ import annotations

import copy
import importlib
import inspect
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    computed_field,
    field_validator,
    model_validator,
)
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

SPECS_PATH_ENV = "MODEL_SPECS_PATH"
PACKAGED_SPECS = Path(__file__).with_name("models.yaml")

Task = Literal["classification", "regression"]
MetricName = Literal["accuracy", "f1", "precision", "recall", "roc_auc", "r2", "rmse", "mae"]
DatasetKind = Literal["synthetic_churn", "sklearn_wine", "synthetic_house"]
PromotionPolicy = Literal["auto", "staging", "manual"]

TASK_METRICS: dict[Task, frozenset[str]] = {
    "classification": frozenset({"accuracy", "f1", "precision", "recall", "roc_auc"}),
    "regression": frozenset({"r2", "rmse", "mae"}),
}


class DatasetKindInfo(NamedTuple):
    """What a dataset kind is for: its task, its target column, whether `rows` sizes it."""

    task: Task
    target: str
    sized: bool


DATASET_KINDS: dict[str, DatasetKindInfo] = {
    "synthetic_churn": DatasetKindInfo("classification", "churned", sized=True),
    "sklearn_wine": DatasetKindInfo("classification", "target", sized=False),
    "synthetic_house": DatasetKindInfo("regression", "price", sized=True),
}

_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-]+$")


class SpecError(ValueError):
    """The model spec file is unreadable or invalid; the message names the file, model and field."""


class _FieldProblem(ValueError):
    """A rule broken by a field below the validating model; `loc` is that field's relative path."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


class _Spec(BaseModel):
    """Base of every spec section: unknown keys are errors and loaded specs are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DatasetSpec(_Spec):
    """Which dataset a model trains on, how big a snapshot is and how much of it is held out."""

    kind: DatasetKind
    rows: int | None = Field(default=None, ge=50)
    test_size: float = Field(default=0.25, gt=0, lt=1)
    target: str

    @model_validator(mode="after")
    def _fits_kind(self) -> DatasetSpec:
        """Check `rows` and `target` against what the dataset kind provides."""
        info = DATASET_KINDS[self.kind]
        if info.sized and self.rows is None:
            raise _FieldProblem(("rows",), f"{self.kind} needs a row count")
        if not info.sized and self.rows is not None:
            raise _FieldProblem(("rows",), f"{self.kind} has a fixed size; remove rows")
        if self.target != info.target:
            raise _FieldProblem(("target",), f"{self.kind} has the target column {info.target!r}")
        return self

    @property
    def task(self) -> Task:
        """The task this dataset's target supports."""
        return DATASET_KINDS[self.kind].task


class EstimatorSpec(_Spec):
    """A scikit-learn estimator class by dotted path, its parameters and optional scaling."""

    class_path: str = Field(alias="class")
    params: dict[str, Any] = Field(default_factory=dict)
    scale: bool = False

    @field_validator("class_path")
    @classmethod
    def _importable(cls, value: str) -> str:
        """Fail at load time, not at training time, on a class that is not an sklearn estimator."""
        _estimator_class(value)
        return value

    @model_validator(mode="after")
    def _known_params(self) -> EstimatorSpec:
        """Reject parameter names the estimator's constructor does not take."""
        accepted = inspect.signature(self.estimator_class).parameters
        for name in self.params:
            if name not in accepted:
                raise _FieldProblem(
                    ("params", name), f"not a parameter of {self.estimator_class.__name__}"
                )
        return self

    @property
    def estimator_class(self) -> type[BaseEstimator]:
        """The imported estimator class."""
        return _estimator_class(self.class_path)


class Threshold(_Spec):
    """Bounds a metric must stay within for a candidate to pass validation."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Threshold:
        """Require at least one bound, and an ordered pair when both are given."""
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class ValidationSpec(_Spec):
    """Absolute thresholds, and how much worse than the champion a candidate may be per metric."""

    thresholds: dict[MetricName, Threshold] = Field(default_factory=dict)
    max_regression: dict[MetricName, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)


class PromotionSpec(_Spec):
    """What a validated candidate becomes: champion (auto), staging alias, or nothing (manual)."""

    policy: PromotionPolicy


class RetrainSpec(_Spec):
    """When the model retrains: a 5-field cron string in a time zone."""

    cron: str
    timezone: str = "UTC"

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        """Accept only minute, hour, day-of-month, month and day-of-week fields."""
        fields = value.split()
        if len(fields) != 5:
            raise ValueError(
                f"cron must have 5 fields (minute hour day month weekday), got {len(fields)}"
            )
        for field in fields:
            if not _CRON_FIELD.match(field):
                raise ValueError(f"cron field {field!r} has characters cron does not use")
        return " ".join(fields)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        """Reject time zone names the IANA database does not know."""
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class ModelSpec(_Spec):
    """One registered model: its data, estimator, metrics, validation, promotion and schedule."""

    name: str = Field(min_length=1)
    description: str = ""
    task: Task
    dataset: DatasetSpec
    estimator: EstimatorSpec
    metrics: list[MetricName] = Field(min_length=1)
    validation: ValidationSpec = Field(default_factory=ValidationSpec)
    promotion: PromotionSpec = Field(default_factory=lambda: PromotionSpec(policy="manual"))
    retrain: RetrainSpec

    @field_validator("name")
    @classmethod
    def _has_prefix(cls, value: str) -> str:
        """Require a name that yields a non-empty asset prefix."""
        if not _asset_prefix(value):
            raise ValueError("name needs at least one letter or digit")
        return value

    @computed_field  # type: ignore[prop-decorator]
    @property
    def asset_prefix(self) -> str:
        """The name as a Dagster asset key part: HousePricePredictor -> house_price_predictor."""
        return _asset_prefix(self.name)

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        """Check that dataset, estimator, metrics and validation all fit the task."""
        if self.dataset.task != self.task:
            raise _FieldProblem(
                ("dataset", "kind"),
                f"{self.dataset.kind} is a {self.dataset.task} dataset, not {self.task}",
            )
        mixin = ClassifierMixin if self.task == "classification" else RegressorMixin
        if not issubclass(self.estimator.estimator_class, mixin):
            raise _FieldProblem(
                ("estimator", "class"),
                f"{self.estimator.class_path} is not a {self.task} estimator",
            )
        for index, metric in enumerate(self.metrics):
            if metric not in TASK_METRICS[self.task]:
                raise _FieldProblem(("metrics", index), f"{metric} is not a {self.task} metric")
            if metric in self.metrics[:index]:
                raise _FieldProblem(("metrics", index), f"{metric} is listed twice")
        for section, metrics in (
            ("thresholds", self.validation.thresholds),
            ("max_regression", self.validation.max_regression),
        ):
            for metric in metrics:
                if metric not in self.metrics:
                    raise _FieldProblem(
                        ("validation", section, metric), f"{metric} is not listed in metrics"
                    )
        return self


class SpecFile(_Spec):
    """The whole spec file: a non-empty list of models with unique names and asset prefixes."""

    models: list[ModelSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> SpecFile:
        """Reject two models that would share a registered name or Dagster asset keys."""
        names: dict[str, int] = {}
        prefixes: dict[str, int] = {}
        for index, model in enumerate(self.models):
            if model.name in names:
                raise _FieldProblem(
                    ("models", index, "name"),
                    f"duplicate model name {model.name!r} (also models[{names[model.name]}])",
                )
            if model.asset_prefix in prefixes:
                raise _FieldProblem(
                    ("models", index, "name"),
                    f"asset prefix {model.asset_prefix!r} clashes with "
                    f"models[{prefixes[model.asset_prefix]}]",
                )
            names[model.name] = index
            prefixes[model.asset_prefix] = index
        return self


def load_specs(path: Path | None = None) -> list[ModelSpec]:
    """Read and validate the model specs from `path`, else $MODEL_SPECS_PATH, else models.yaml."""
    source = path or Path(os.environ.get(SPECS_PATH_ENV) or PACKAGED_SPECS)
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(f"{source}: cannot read the model spec file: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise SpecError(f"{source}: not valid YAML: {exc}") from exc
    try:
        return list(SpecFile.model_validate(raw).models)
    except ValidationError as exc:
        raise SpecError(_describe(source, raw, exc)) from exc


def build_estimator(spec: ModelSpec) -> BaseEstimator:
    """A fresh, unfitted estimator for the spec, behind a StandardScaler when `scale` is set."""
    estimator = spec.estimator.estimator_class(**copy.deepcopy(spec.estimator.params))
    if spec.estimator.scale:
        return Pipeline([("scale", StandardScaler()), ("model", estimator)])
    return estimator


def _asset_prefix(name: str) -> str:
    """Lowercase snake_case of a name, splitting camelCase words and squeezing other characters."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return re.sub(r"[^a-z0-9]+", "_", words.lower()).strip("_")


def _estimator_class(path: str) -> type[BaseEstimator]:
    """Import an sklearn estimator class by dotted path, raising ValueError when it is not one."""
    if not path.startswith("sklearn."):
        raise ValueError(
            f"{path!r} is not a scikit-learn class (the path must start with sklearn.)"
        )
    module_name, _, attribute = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import {module_name!r}: {exc}") from exc
    found = getattr(module, attribute, None)
    if not (inspect.isclass(found) and issubclass(found, BaseEstimator)):
        raise ValueError(f"{path!r} is not a scikit-learn estimator class")
    return found


def _describe(source: Path, raw: object, error: ValidationError) -> str:
    """One line per problem: file, model name when known, dotted field path and message."""
    lines = []
    for problem in error.errors():
        loc = tuple(problem["loc"])
        message = problem["msg"]
        cause = problem.get("ctx", {}).get("error")
        if problem["type"] == "value_error" and isinstance(cause, ValueError):
            message = str(cause)
            if isinstance(cause, _FieldProblem):
                loc += cause.loc
        lines.append(f"{source}: {_model_label(raw, loc)}{_dotted(loc)}: {message}")
    return "\n".join(lines)


def _model_label(raw: object, loc: tuple[str | int, ...]) -> str:
    """`model 'name': ` for a problem inside models[i], taking the name from the raw file."""
    if len(loc) < 2 or loc[0] != "models" or not isinstance(loc[1], int):
        return ""
    try:
        name = raw["models"][loc[1]]["name"]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        return f"model #{loc[1] + 1}: "
    return f"model {name!r}: "


def _dotted(loc: tuple[str | int, ...]) -> str:
    """Render a pydantic location as `models[1].validation.thresholds.accuracy.min`."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.startswith("["):
            path += part
        else:
            path += f".{part}" if path else part
    return path or "(top level)"
