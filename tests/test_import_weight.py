"""`import registry_core`, `registry models list` and a Dagster worker rebuilding the code location
load no library they do not use: each runs in a fresh interpreter, which reports the packages it
imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from registry_core.client import RegistryClient

# Model libraries, table drawing and the web server: each is imported by what uses it.
HEAVY = {
    "fastapi",
    "httpx",
    "jinja2",
    "joblib",
    "numpy",
    "pandas",
    "rich",
    "scipy",
    "skops",
    "sklearn",
    "starlette",
    "uvicorn",
}
# The CLI's tables are drawn by Rich; pydantic is only for values Typer has to convert.
CLI_HEAVY = (HEAVY - {"rich"}) | {"pydantic"}

REPORT = "import json, sys; print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))"


def loaded_packages(code: str, *args: str) -> set[str]:
    """The top-level packages a fresh interpreter has imported after running `code`."""
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\n{REPORT}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def run_cli(*args: str) -> str:
    """Code running the `registry` entry point with `args`, as the installed executable does."""
    return (
        "import sys\n"
        "from registry_core.cli import main\n"
        f"sys.argv = ['registry', *{list(args)!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code"
    )


def test_import_registry_core_loads_no_model_or_server_library() -> None:
    assert loaded_packages("import registry_core") & HEAVY == set()


def test_the_fluent_api_names_stay_importable_from_the_package() -> None:
    code = (
        "import registry_core as rc\n"
        "assert callable(rc.start_run) and callable(rc.load_model) and rc.ModelSignature\n"
        "from registry_core import LoadedModel, infer_signature"
    )
    assert loaded_packages(code) & HEAVY == set()


def test_models_list_loads_no_model_library_and_rich_only_for_tables(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    client = RegistryClient(registry)
    client.create_registered_model("churn")
    client.close()
    as_json = loaded_packages(run_cli("--registry-uri", str(registry), "models", "list", "--json"))
    assert as_json & (CLI_HEAVY | {"rich"}) == set()
    as_table = loaded_packages(run_cli("--registry-uri", str(registry), "models", "list"))
    assert as_table & CLI_HEAVY == set()
    assert "rich" in as_table


def test_a_run_or_step_worker_rebuilding_the_code_location_imports_no_scikit_learn() -> None:
    code = (
        "from dagster._core.definitions.definitions_load_context import (\n"
        "    DefinitionsLoadContext, DefinitionsLoadType)\n"
        "DefinitionsLoadContext.set(DefinitionsLoadContext(\n"
        "    load_type=DefinitionsLoadType.RECONSTRUCTION, repository_load_data=None))\n"
        "import registry_pipelines.definitions"
    )
    assert loaded_packages(code) & {"sklearn", "scipy"} == set()
    assert "sklearn" in loaded_packages("import registry_pipelines.definitions")
