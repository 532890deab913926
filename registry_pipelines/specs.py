"""A model declared as data: the schema of the lifecycle component (and of the Python factory),
its cross-field rules, the dotted-path imports it names, and errors that name model and field."""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg
from pydantic import (
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    computed_field,
    field_validator,
    model_validator,
)

Task = Literal["classification", "regression"]
DemoDataset = Literal["synthetic_churn", "sklearn_wine", "synthetic_house"]
PromotionPolicy = Literal["auto", "approval", "staging", "manual"]
ProtectedStage = Literal["Staging", "Production", "Archived"]
Role = Literal["reader", "writer", "promoter", "admin"]
Direction = Literal["higher", "lower"]
SourceKind = Literal["demo", "asset", "path", "sql"]

BUILTIN_METRICS: dict[Task, dict[str, Direction]] = {
    "classification": {
        "accuracy": "higher",
        "f1": "higher",
        "precision": "higher",
        "recall": "higher",
        "roc_auc": "higher",
    },
    "regression": {"r2": "higher", "rmse": "lower", "mae": "lower"},
}
FILE_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
OPTIONAL_LIBRARIES = {"xgboost": "xgboost", "lightgbm": "lightgbm"}


class DemoInfo(NamedTuple):
    """What a shipped demo dataset is for: its task, its target column, whether `rows` sizes it."""

    task: Task
    target: str
    sized: bool


DEMO_DATASETS: dict[str, DemoInfo] = {
    "synthetic_churn": DemoInfo("classification", "churned", sized=True),
    "sklearn_wine": DemoInfo("classification", "target", sized=False),
    "synthetic_house": DemoInfo("regression", "price", sized=True),
}

_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-]+$")


class SpecError(ValueError):
    """A model declaration is invalid; the message names the model and the field."""


class FieldProblem(ValueError):
    """A rule broken by a field below the validating model; `loc` is that field's relative path,
    and the message starts with it so Dagster's error (which points at the parent) names it."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(f"{_dotted(loc)}: {message}" if loc else message)
        self.loc = loc
        self.detail = message


class _Spec(dg.Model):
    """Base of every spec section: unknown keys are errors and loaded specs are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SqlSource(_Spec):
    """A read-only query on a DuckDB database file."""

    database: str = Field(min_length=1, description="Path to the DuckDB file, opened read-only.")
    query: str = Field(min_length=1, description="One SELECT statement.")


class DataSpec(_Spec):
    """The training table: exactly one source (a demo dataset, an upstream asset, a Parquet or CSV
    file or glob, or a DuckDB query), its target column, its feature columns and the holdout."""

    demo: DemoDataset | None = Field(default=None, description="A shipped demo dataset.")
    rows: int | None = Field(default=None, ge=50, description="Rows per demo snapshot.")
    asset: str | None = Field(
        default=None, description="Upstream asset key ('features' or 'warehouse/features')."
    )
    path: str | None = Field(
        default=None, description="A .parquet or .csv file or glob, relative to the defs file."
    )
    sql: SqlSource | None = None
    target: str = Field(min_length=1)
    features: list[str] | None = Field(
        default=None, description="Feature columns; by default every column but the target."
    )
    test_size: float = Field(default=0.25, gt=0, lt=1)

    @model_validator(mode="after")
    def _one_source(self) -> DataSpec:
        """Require exactly one source, and check what each source can check before running."""
        given = [name for name in ("demo", "asset", "path", "sql") if getattr(self, name)]
        if len(given) != 1:
            raise FieldProblem(
                (given[1],) if len(given) > 1 else (),
                "give exactly one source: demo, asset, path or sql"
                + (f" (got {', '.join(given)})" if given else ""),
            )
        if self.rows is not None and self.demo is None:
            raise FieldProblem(("rows",), "rows sizes demo datasets only")
        if self.demo is not None:
            info = DEMO_DATASETS[self.demo]
            if info.sized and self.rows is None:
                raise FieldProblem(("rows",), f"{self.demo} needs a row count")
            if not info.sized and self.rows is not None:
                raise FieldProblem(("rows",), f"{self.demo} has a fixed size; remove rows")
            if self.target != info.target:
                raise FieldProblem(
                    ("target",), f"{self.demo} has the target column {info.target!r}"
                )
        if self.path is not None:
            file_format(self.path)
        if self.features is not None:
            if not self.features:
                raise FieldProblem(("features",), "list at least one feature column")
            for index, column in enumerate(self.features):
                if column == self.target:
                    raise FieldProblem(("features", index), "the target cannot be a feature")
                if column in self.features[:index]:
                    raise FieldProblem(("features", index), f"{column!r} is listed twice")
        if self.asset is not None:
            try:
                dg.AssetKey.from_user_string(self.asset)
            except Exception as exc:
                raise FieldProblem(("asset",), f"not an asset key: {exc}") from exc
        return self

    @property
    def source(self) -> SourceKind:
        """Which of the four sources this data comes from."""
        for name in ("demo", "asset", "path", "sql"):
            if getattr(self, name):
                return name  # type: ignore[return-value]
        raise AssertionError("validated specs have a source")

    @property
    def asset_key(self) -> dg.AssetKey | None:
        """The upstream asset's key, for `asset` sources."""
        return dg.AssetKey.from_user_string(self.asset) if self.asset else None

    @property
    def task(self) -> Task | None:
        """The task a demo dataset's target supports; None for the user's own data."""
        return DEMO_DATASETS[self.demo].task if self.demo else None

    def relative_to(self, folder: Path) -> DataSpec:
        """The same data with a relative `path` or `sql.database` anchored at `folder`."""
        update: dict[str, Any] = {}
        if self.path is not None and not Path(self.path).is_absolute():
            update["path"] = str(folder / self.path)
        if self.sql is not None and not Path(self.sql.database).is_absolute():
            update["sql"] = self.sql.model_copy(
                update={"database": str(folder / self.sql.database)}
            )
        return self.model_copy(update=update)


def reconstructing() -> bool:
    """True while Dagster rebuilds definitions it loaded and checked before (in a run or step
    worker). The estimator is then not built to check it: its library (scikit-learn imports SciPy,
    as long as Dagster itself takes) would be imported by every step, also those that never fit,
    and the step that fits builds and checks it again (`fit_candidate`)."""
    from dagster._core.definitions.definitions_load_context import (
        DefinitionsLoadContext,
        DefinitionsLoadType,
    )

    return (
        DefinitionsLoadContext.is_set()
        and DefinitionsLoadContext.get().load_type == DefinitionsLoadType.RECONSTRUCTION
    )


class TrainingSpec(_Spec):
    """How the candidate is fitted: an estimator by dotted path (a scikit-learn, XGBoost or
    LightGBM class, a function returning an unfitted estimator or pipeline, or a module-level
    estimator to clone), or a trainer function `fit(X_train, y_train, params) -> model`."""

    estimator: str | None = Field(
        default=None, description="e.g. sklearn.ensemble.RandomForestClassifier"
    )
    trainer: str | None = Field(
        default=None, description="e.g. my_project.training.fit, called fit(X, y, params)"
    )
    params: dict[str, Any] = Field(default_factory=dict)
    scale: bool = Field(default=False, description="Put a StandardScaler before the estimator.")

    @model_validator(mode="after")
    def _importable(self) -> TrainingSpec:
        """Import what the spec names at load time, so a bad path fails the definitions load."""
        if (self.estimator is None) == (self.trainer is None):
            raise FieldProblem((), "give exactly one of estimator or trainer")
        if self.trainer is not None:
            if self.scale:
                raise FieldProblem(("scale",), "scale applies to estimators, not trainers")
            function = import_path(self.trainer, ("trainer",))
            if not callable(function) or inspect.isclass(function):
                raise FieldProblem(("trainer",), f"{self.trainer!r} is not a function")
            if not _takes_positional(function, 3):
                raise FieldProblem(
                    ("trainer",),
                    f"{self.trainer} must take (X_train, y_train, params), "
                    f"not {inspect.signature(function)}",
                )
            return self
        if reconstructing():
            return self
        estimator = self.build(scaled=False)
        from registry_core.native_formats import native_format_for

        if self.scale and native_format_for(estimator) is not None:
            raise FieldProblem(
                ("scale",),
                f"{type(estimator).__name__} is saved in its library's own format, which a "
                "scaling Pipeline would lose; tree ensembles need no scaling",
            )
        return self

    def build(self, scaled: bool = True) -> Any:
        """A fresh, unfitted estimator, behind a StandardScaler when `scale` is set."""
        from sklearn.base import BaseEstimator, clone

        assert self.estimator is not None
        found = import_path(self.estimator, ("estimator",))
        params = dict(self.params)
        if isinstance(found, BaseEstimator):
            _check_params(set(found.get_params(deep=True)), params, type(found).__name__)
            estimator = clone(found).set_params(**params)
        elif callable(found):
            if not _accepts_any_keyword(found):
                accepted = set(inspect.signature(found).parameters)
                _check_params(accepted, params, getattr(found, "__name__", self.estimator))
            try:
                estimator = found(**params)
            except Exception as exc:
                raise FieldProblem(
                    ("estimator",), f"{self.estimator}(**params) raised {exc!r}"
                ) from exc
        else:
            raise FieldProblem(("estimator",), f"{self.estimator!r} is not an estimator")
        if not (isinstance(estimator, BaseEstimator) and callable(getattr(estimator, "fit", None))):
            raise FieldProblem(
                ("estimator",),
                f"{self.estimator} gave a {type(estimator).__name__}, not a scikit-learn-style "
                "estimator with fit and predict",
            )
        if self.scale and scaled:
            from sklearn.pipeline import Pipeline
            from sklearn.preprocessing import StandardScaler

            return Pipeline([("scale", StandardScaler()), ("model", estimator)])
        return estimator

    @property
    def label(self) -> str:
        """What trains the model, for run tags and descriptions."""
        return self.estimator or f"trainer {self.trainer}"


class CustomMetric(_Spec):
    """A metric function by dotted path, `fn(y_true, y_pred)` or `fn(y_true, y_pred, y_score)`
    returning a float, and which direction is better."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
    function: str
    better: Direction

    @field_validator("function")
    @classmethod
    def _callable(cls, value: str) -> str:
        """Import the function at load time."""
        found = import_path(value, ())
        if not callable(found) or not (_takes_positional(found, 2) or _takes_positional(found, 3)):
            raise ValueError(f"{value!r} is not a function of (y_true, y_pred[, y_score])")
        return value

    def compute(self, y_true: Any, y_pred: Any, y_score: Any) -> float:
        """The metric's value; `y_score` goes to functions that take a third argument."""
        function = import_path(self.function, ("function",))
        if _takes_positional(function, 3):
            return float(function(y_true, y_pred, y_score))
        return float(function(y_true, y_pred))


Metric = Annotated[
    Annotated[str, Tag("builtin")] | Annotated[CustomMetric, Tag("custom")],
    Discriminator(lambda value: "builtin" if isinstance(value, str) else "custom"),
]


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

    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    max_regression: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)


class PromotionSpec(_Spec):
    """What a validated candidate becomes: champion (auto), a transition request to Production
    that a person approves (approval), staging alias, or nothing (manual); and which stages of
    the registered model need an approved request (and which token roles may skip one)."""

    policy: PromotionPolicy
    protected_stages: list[ProtectedStage] = Field(default_factory=list)
    direct_roles: list[Role] = Field(default_factory=list)


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
    """One registered model: its data, training, metrics, validation, promotion and schedule."""

    name: str = Field(min_length=1, description="The registered model's name.")
    description: str = ""
    task: Task
    data: DataSpec
    training: TrainingSpec
    metrics: list[Metric] = Field(min_length=1)
    validation: ValidationSpec = Field(default_factory=ValidationSpec)
    promotion: PromotionSpec = Field(default_factory=lambda: PromotionSpec(policy="manual"))
    retrain: RetrainSpec | None = Field(default=None, description="No schedule when absent.")

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

    @property
    def metric_names(self) -> list[str]:
        """Every metric's name, in the declared order."""
        return [m if isinstance(m, str) else m.name for m in self.metrics]

    @property
    def directions(self) -> dict[str, Direction]:
        """Which direction is better for each declared metric."""
        builtin = BUILTIN_METRICS[self.task]
        return {
            m.name if isinstance(m, CustomMetric) else m: (
                m.better if isinstance(m, CustomMetric) else builtin[m]
            )
            for m in self.metrics
        }

    @property
    def custom_metrics(self) -> list[CustomMetric]:
        """The declared metric functions."""
        return [m for m in self.metrics if isinstance(m, CustomMetric)]

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        """Check that data, training, metrics and validation all fit the task."""
        if self.data.task is not None and self.data.task != self.task:
            raise FieldProblem(
                ("data", "demo"),
                f"{self.data.demo} is a {self.data.task} dataset, not {self.task}",
            )
        if self.training.estimator is not None and not reconstructing():
            from sklearn.base import is_classifier, is_regressor

            fits = is_classifier if self.task == "classification" else is_regressor
            if not fits(self.training.build()):
                raise FieldProblem(
                    ("training", "estimator"),
                    f"{self.training.estimator} is not a {self.task} estimator",
                )
        builtin = BUILTIN_METRICS[self.task]
        names = self.metric_names
        for index, (metric, name) in enumerate(zip(self.metrics, names, strict=True)):
            if isinstance(metric, str) and metric not in builtin:
                other = "regression" if self.task == "classification" else "classification"
                reason = (
                    f"{metric} is not a {self.task} metric"
                    if metric in BUILTIN_METRICS[other]  # type: ignore[index]
                    else f"unknown metric {metric!r}"
                )
                raise FieldProblem(
                    ("metrics", index),
                    f"{reason}; built-in {self.task} metrics are {', '.join(builtin)}, or "
                    "declare {name, function, better} for your own",
                )
            if name in names[:index]:
                raise FieldProblem(("metrics", index), f"{name} is listed twice")
        for section, metrics in (
            ("thresholds", self.validation.thresholds),
            ("max_regression", self.validation.max_regression),
        ):
            for metric in metrics:
                if metric not in names:
                    raise FieldProblem(
                        ("validation", section, metric), f"{metric} is not listed in metrics"
                    )
        return self

    def anchored(self, folder: Path) -> ModelSpec:
        """The same spec with relative data paths anchored at `folder` (the defs.yaml folder)."""
        return self.model_copy(update={"data": self.data.relative_to(folder)})


def parse_spec(options: dict[str, Any], source: str = "") -> ModelSpec:
    """Validate one model's options, raising SpecError with one line per problem."""
    try:
        return ModelSpec.model_validate(options)
    except ValidationError as exc:
        raise SpecError(describe(exc, options, source)) from None


def import_path(path: str, loc: tuple[str | int, ...]) -> Any:
    """The object a dotted path names (`package.module.attribute`), or a FieldProblem at `loc`
    that says why not and which extra installs an optional library."""
    module_name, _, attribute = path.rpartition(".")
    if not module_name or not attribute:
        raise FieldProblem(loc, f"{path!r} is not a dotted path (package.module.name)")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = (exc.name or "").split(".")[0]
        hint = (
            f"; pip install 'dagster-model-registry[{OPTIONAL_LIBRARIES[missing]}]'"
            if missing in OPTIONAL_LIBRARIES
            else ""
        )
        raise FieldProblem(loc, f"cannot import {module_name!r}: {exc}{hint}") from exc
    except Exception as exc:
        raise FieldProblem(loc, f"importing {module_name!r} raised {exc!r}") from exc
    if not hasattr(module, attribute):
        raise FieldProblem(loc, f"module {module_name!r} has no attribute {attribute!r}")
    return getattr(module, attribute)


def describe(error: ValidationError, raw: object, source: str = "") -> str:
    """One line per problem: source, model name when known, dotted field path and message."""
    name = raw.get("name") if isinstance(raw, dict) else None
    label = f"model {name!r}: " if isinstance(name, str) and name else ""
    prefix = f"{source}: " if source else ""
    lines = []
    for problem in error.errors():
        loc = tuple(part for part in problem["loc"] if part not in ("builtin", "custom"))
        message = problem["msg"]
        cause = problem.get("ctx", {}).get("error")
        if problem["type"] == "value_error" and isinstance(cause, ValueError):
            message = str(cause)
            if isinstance(cause, FieldProblem):
                loc += cause.loc
                message = cause.detail
        lines.append(f"{prefix}{label}{_dotted(loc)}: {message}")
    return "\n".join(lines)


def file_format(path: str) -> str:
    """parquet or csv, from a path's suffix."""
    found = FILE_SUFFIXES.get(Path(path).suffix.lower())
    if found is None:
        raise FieldProblem(
            ("path",), f"{path!r} must end in {', '.join(FILE_SUFFIXES)} (a file or a glob)"
        )
    return found


def _check_params(accepted: set[str], params: dict[str, Any], owner: str) -> None:
    """Reject parameter names the estimator does not take."""
    for name in params:
        if name not in accepted:
            raise FieldProblem(("params", name), f"not a parameter of {owner}")


def _accepts_any_keyword(function: Callable[..., Any]) -> bool:
    """True for callables with **kwargs (XGBoost and LightGBM estimators take any parameter)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def _takes_positional(function: Callable[..., Any], count: int) -> bool:
    """True when the function can be called with `count` positional arguments."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return True
    try:
        signature.bind(*range(count))
    except TypeError:
        return False
    return True


def _asset_prefix(name: str) -> str:
    """Lowercase snake_case of a name, splitting camelCase words and squeezing other characters."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return re.sub(r"[^a-z0-9]+", "_", words.lower()).strip("_")


def _dotted(loc: tuple[str | int, ...]) -> str:
    """Render a pydantic location as `validation.thresholds.accuracy.min` or `metrics[1]`."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.startswith("["):
            path += part
        else:
            path += f".{part}" if path else part
    return path or "(top level)"
