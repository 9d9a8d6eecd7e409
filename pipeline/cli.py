"""The `wrcr` console script: one sub-command per pipeline stage, plus `demo-data` and `predict`.

Each stage module exposes either `main` (one command) or `app` (a typer group, such as
`wrcr embed image|text`). Modules are imported when the CLI is built, so heavy libraries
(torch, transformers) are imported inside the commands, not at module level.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import typer

# (command name, module, help line); order is the order of the pipeline
COMMANDS = [
    ("demo-data", "pipeline.demo_data", "Write the synthetic demo dataset in the SMPD layout."),
    ("download", "pipeline.download", "Fetch or check the raw dataset (stage 'download')."),
    ("prepare", "pipeline.prepare", "Raw files -> one clean posts table (stage 'prepare')."),
    ("embed", "pipeline.embed", "Frozen image / text encoders -> embedding caches."),
    ("dense", "pipeline.dense", "Dense user and post features (stage 'dense')."),
    ("curate", "pipeline.curate", "Scenario splits: full, skewed, truncated (stage 'curate')."),
    ("train", "pipeline.train", "Train one (scenario, input, loss) over all seeds."),
    ("evaluate", "pipeline.evaluate", "Metrics of every run, mean and spread over seeds."),
    ("headline", "pipeline.headline", "Pick the headline run by loss.name; bundle and metrics."),
    ("report", "pipeline.report", "Tables, figures and DVC plots of the experiments."),
    ("predict", "pipeline.predict", "Score new posts with a trained bundle."),
]


def _setup_logging() -> None:
    level = os.environ.get("WRCR_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="wrcr",
        help="Weighted-Rank Contrastive Regression: pipeline stages and prediction.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for name, module_name, help_line in COMMANDS:
        module = importlib.import_module(module_name)
        if hasattr(module, "app"):
            app.add_typer(module.app, name=name, help=help_line)
        else:
            app.command(name, help=help_line)(module.main)
    return app


def main() -> None:
    from pipeline.params import ParamsError
    from wrcr.errors import DataError

    _setup_logging()
    try:
        # typer handles usage errors, --help and exit codes itself (standalone mode)
        build_app()()
    except (DataError, ParamsError) as err:
        # bad input or parameters: one clear line, no traceback, non-zero exit
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
