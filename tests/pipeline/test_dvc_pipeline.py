"""The whole DVC pipeline on a tiny demo, in a temporary git repository, as a user runs it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow

# small enough for CI, large enough that every scenario has a train, val and test split
TINY = {
    "data": {"demo_posts": 360},
    "embed": {"batch_size": 32, "num_workers": 0, "shard_size": 128},
    "curate": {"skewed_test_per_bin": 6},
    "train": {"seeds": [1, 2], "epochs": 2, "batch_size": 32, "proj_hidden": 64, "num_threads": 1},
    "evaluate": {"many_shot": 20, "few_shot": 5},
    # UMAP itself is tested in tests/test_analysis.py; its JIT would cost ~10 s per report run
    "report": {"umap": False},
}


def _run(args: list[str], cwd: Path, env: dict) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(args)} failed ({proc.returncode}):\n{out[-4000:]}"
    return out


def _ran(output: str) -> set[str]:
    """Stage names that a dvc repro / exp run printed as running."""
    return set(re.findall(r"Running stage '([^']+)'", output))


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("project")
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    shutil.copytree(REPO / "reports/templates", root / "reports/templates")
    # the stages depend on their code, as in the real repository
    for package in ("wrcr", "pipeline"):
        shutil.copytree(
            REPO / package, root / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for section, values in TINY.items():
        params[section].update(values)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (root / ".gitignore").write_text("/data/\n/models/\n")

    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HF_HUB_OFFLINE": "1",
        "WRCR_CACHE": str(tmp_path_factory.mktemp("model-cache")),
        "GIT_AUTHOR_NAME": "wrcr test",
        "GIT_AUTHOR_EMAIL": "test@wrcr.invalid",
        "GIT_COMMITTER_NAME": "wrcr test",
        "GIT_COMMITTER_EMAIL": "test@wrcr.invalid",
        "DVC_NO_ANALYTICS": "1",
    }
    _run(["git", "init", "-q", "-b", "main"], root, env)
    _run(["dvc", "init", "-q"], root, env)
    return root, env


@pytest.fixture(scope="module")
def reproduced(project) -> tuple[Path, dict, str]:
    root, env = project
    output = _run(["dvc", "repro"], root, env)
    _run(["git", "add", "-A"], root, env)
    _run(["git", "commit", "-qm", "baseline"], root, env)
    return root, env, output


def test_repro_runs_every_stage_and_writes_the_report(reproduced):
    """`dvc repro` on a fresh repo runs all stages and writes summary, figures and metrics."""
    root, _, output = reproduced
    ran = _ran(output)
    for stage in (
        "download",
        "prepare",
        "embed_image",
        "embed_text",
        "dense",
        "curate",
        "train_l1@full-tags",
        "train_wrcr@skewed-tags+image",
        "train_weighting@log",
        "evaluate",
        "headline",
        "report",
    ):
        assert stage in ran, f"{stage} did not run; ran: {sorted(ran)}"
    summary = (root / "reports/summary.md").read_text()
    assert "wrcr" in summary and "MAE" in summary
    assert list((root / "reports/figures").glob("*.png"))
    headline = json.loads((root / "reports/metrics/headline.json").read_text())["headline"]
    assert headline["run"] == "full-tags+image/wrcr"
    assert headline["mae"] > 0 and headline["n_seeds"] == 2


def test_second_repro_does_nothing(reproduced):
    """A second `dvc repro` with nothing changed runs no stage."""
    root, env, _ = reproduced
    output = _run(["dvc", "repro"], root, env)
    assert _ran(output) == set(), output[-2000:]


def test_forced_rerun_gives_identical_results(reproduced):
    """Re-training a run from scratch on CPU gives the same predictions and metrics."""
    root, env, _ = reproduced
    run = root / "models/full-tags+image/wrcr"
    preds_before = pd.read_parquet(run / "predictions.parquet")
    metrics_before = (root / "reports/metrics/runs.json").read_text()

    _run(["dvc", "repro", "--force", "--single-item", "train_wrcr@full-tags+image"], root, env)
    _run(["dvc", "repro", "--force", "--single-item", "evaluate"], root, env)
    pd.testing.assert_frame_equal(pd.read_parquet(run / "predictions.parquet"), preds_before)
    assert (root / "reports/metrics/runs.json").read_text() == metrics_before


def test_metrics_diff_between_rnc_and_wrcr(reproduced):
    """Two named experiments on loss.name and `dvc metrics diff` shows the headline change."""
    root, env, _ = reproduced
    out_rnc = _run(["dvc", "exp", "run", "-n", "rnc", "-S", "loss.name=rnc"], root, env)
    assert {s for s in _ran(out_rnc) if s.startswith("train_")} == set(), "rnc re-trained"
    _run(["dvc", "exp", "run", "-n", "wrcr", "-S", "loss.name=wrcr"], root, env)
    diff = _run(["dvc", "metrics", "diff", "rnc", "wrcr", "--json"], root, env)
    changes = json.loads(diff)["reports/metrics/headline.json"]
    assert "headline.mae" in changes and "headline.few_mae" in changes
    shown = _run(["dvc", "exp", "show", "--no-pager", "--csv"], root, env)
    assert "rnc" in shown and "wrcr" in shown


def test_metrics_and_plots_show(reproduced):
    """`dvc metrics show` lists every run; `dvc plots show` renders HTML."""
    root, env, _ = reproduced
    metrics = _run(["dvc", "metrics", "show", "--json"], root, env)
    assert "full-tags+image" in metrics and "headline" in metrics
    _run(["dvc", "plots", "show", "-o", "plots_html"], root, env)
    assert (root / "plots_html/index.html").is_file()


ALPHA_RUNS = {
    f"train_wrcr@{r}"
    for r in (
        "full-tags",
        "full-image",
        "full-tags+image",
        "skewed-tags+image",
        "truncated-tags+image",
    )
}


def test_queued_alpha_sweep_reruns_only_what_depends_on_alpha(reproduced):
    """A queued sweep over loss.alpha gives one experiment per value, each re-training only the
    WRCR (exp) runs and re-running what reads their results."""
    root, env, _ = reproduced
    for name, alpha in (("alpha02", "0.2"), ("alpha08", "0.8")):
        _run(["dvc", "exp", "run", "--queue", "-n", name, "-S", f"loss.alpha={alpha}"], root, env)
    # two workers: each stage is mostly single-threaded imports, so they overlap well
    _run(["dvc", "exp", "run", "--run-all", "--jobs", "2"], root, env)

    for name in ("alpha02", "alpha08"):
        ran = _ran(_run(["dvc", "queue", "logs", name], root, env))
        assert {s for s in ran if s.startswith("train_")} == ALPHA_RUNS, (name, sorted(ran))
        assert ran - ALPHA_RUNS <= {"evaluate", "headline", "report"}, (name, sorted(ran))
    shown = json.dumps(json.loads(_run(["dvc", "exp", "show", "--json"], root, env)))
    assert "alpha02" in shown and "alpha08" in shown
