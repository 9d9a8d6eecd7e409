"""The `wrcr` console script: one sub-command per pipeline stage, plus `demo-data` and `predict`.

Each stage module exposes either `main` (one command) or `app` (a typer group, such as
`wrcr embed image|text`). A command line that names a command imports only that module;
`wrcr --help` imports them all.
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


def _root() -> None:
    """Weighted-Rank Contrastive Regression: pipeline stages and prediction."""


def build_app(only: str | None = None) -> typer.Typer:
    """The `wrcr` app; with `only`, just that command, so a stage imports only its own needs."""
    app = typer.Typer(
        name="wrcr",
        help="Weighted-Rank Contrastive Regression: pipeline stages and prediction.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    # a callback keeps `wrcr <command>` a group even when only one command is registered
    app.callback()(_root)
    for name, module_name, help_line in COMMANDS:
        if only is not None and name != only:
            continue
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
        # a DVC stage starts one command: importing only its module saves seconds per stage
        requested = sys.argv[1] if len(sys.argv) > 1 else None
        build_app(requested if requested in {c[0] for c in COMMANDS} else None)()
    except (DataError, ParamsError) as err:
        # bad input or parameters: one clear line, no traceback, non-zero exit
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
