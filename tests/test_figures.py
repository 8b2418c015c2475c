"""The main job end to end on the quick preset: every file, every column, reuse, and the CLI."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from process_watch import kill_session, session_processes, wait_until_gone

from lowerbounds.figures import PRESETS, RECIPES, figures
from lowerbounds.results import canonical_table

ROOT = Path(__file__).resolve().parent.parent

NAMES = [r.NAME for r in RECIPES]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("figures")
    return figures(out, "quick", seed=0, workers=2, progress=False)


def test_figures_named_as_in_the_docs():
    assert NAMES == [
        "tradeoff_map",
        "success_vs_bits",
        "threshold_scaling",
        "rounds_cliff",
        "model_budgets",
        "depth_hop",
        "trained_models",
        "mpc_rounds",
        "threshold_exponent",
    ]


def test_no_caption_or_summary_claims_a_bound_with_an_unknown_constant(quick):
    """c·q/k⁵ and c·N/k⁶ have an unknown constant: they are illustrations, never 'ruled out'."""
    text = (quick.out / "summary.md").read_text().lower()
    assert "ruled out" not in text and "no protocol reaches" not in text and "forbidden" not in text
    assert "illustration" in text


def test_model_budgets_are_measured_by_the_engine(quick):
    with open(quick.out / "model_budgets.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    run = [r for r in rows if r["measured"] == "true"]
    assert run and all(int(r["trials"]) > 0 for r in run)
    # every family with a linear-time model is run at N <= 1000 in the quick preset
    assert {r["family"] for r in run if int(r["N"]) <= 1000} >= {"gru", "lstm", "elman", "kernel", "ssm", "fsm"}
    assert all(r["trials"] == "0" for r in rows if r["measured"] == "false")


def test_tradeoff_map_colours_trained_models_by_measured_success(quick):
    with open(quick.out / "tradeoff_map.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    trained = [r for r in rows if r["kind"] == "trained"]
    assert trained and all(0 <= float(r["success"]) <= 1 and int(r["trials"]) > 0 for r in trained)
    assert all(r["kind"] != "model" or r["name"].startswith("hop-construction") for r in rows)


def test_every_file_exists_and_is_not_empty(quick):
    for name in NAMES:
        for ext in ("png", "pdf", "csv"):
            f = quick.out / f"{name}.{ext}"
            assert f.exists() and f.stat().st_size > 0, f
    assert (quick.out / "summary.md").exists()


def _summary_columns(text: str) -> dict[str, list[str]]:
    cols, current = {}, None
    for line in text.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
        elif line.startswith("Columns:") and current:
            cols[current] = re.findall(r"`([^`]+)`", line)
    return cols


def test_csv_columns_match_the_summary(quick):
    text = (quick.out / "summary.md").read_text()
    described = _summary_columns(text)
    assert sorted(described) == sorted(NAMES)
    for name in NAMES:
        with open(quick.out / f"{name}.csv", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            rows = list(reader)
        assert header == described[name], name
        assert rows, f"{name}.csv has no data rows"
        assert all(len(r) == len(header) for r in rows)


def test_summary_states_seed_version_grid_and_time(quick):
    text = (quick.out / "summary.md").read_text()
    for needle in (
        "root seed: `0`",
        "preset: `quick`",
        "kparty ",
        "wall time:",
        "grid (preset parameters)",
        "Key numbers:",
    ):
        assert needle in text, needle


def test_pdfs_embed_type42_not_type3_fonts(quick):
    for name in NAMES:
        data = (quick.out / f"{name}.pdf").read_bytes()
        assert b"/Type3" not in data, name
        assert b"/TrueType" in data or b"/FontFile2" in data, name


def test_measurements_behave(quick):
    """The numbers the figures show are the ones theory predicts at these sizes."""
    cliff = quick.tables["rounds_cliff"].rows
    k = PRESETS["quick"].cliff_k
    for r in cliff:
        if r["R"] >= k:
            assert r["success"] == 1.0, r
        else:
            assert r["ci_low"] < 0.75, r  # one round too few: near 1/2, far from 1
    depth = [r for r in quick.tables["depth_hop"].rows if r["source"] == "construction"]
    for r in depth:
        assert r["least_exact_depth"] == (1 if r["k"] == 0 else (r["k"] - 1).bit_length() + 2), r
        if r["k"] <= 2 ** (r["depth"] - 2):
            assert r["error"] == 0.0, r
    tm = quick.tables["tradeoff_map"].rows
    one_hop = [r for r in tm if r["name"] == "one-hop-per-round" and r["R"] == PRESETS["quick"].map_k]
    assert one_hop and one_hop[0]["success"] == 1.0
    assert {"protocol", "model"} <= {r["kind"] for r in tm}


def test_rerun_reuses_every_cell(quick):
    again = figures(quick.out, "quick", seed=0, workers=1, progress=False)
    assert again.ran == 0 and again.reused == quick.cells
    for name in NAMES:
        assert (quick.out / f"{name}.csv").read_text() == _csv(quick, name)


def _csv(report, name):
    return (report.out / f"{name}.csv").read_text()


def test_plot_command_redraws_from_cells(quick):
    png = quick.out / "rounds_cliff.png"
    png.unlink()
    r = subprocess.run(
        [sys.executable, "-m", "lowerbounds", "plot", "--quick", "--out", str(quick.out), "--json"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert png.exists() and str(png) in json.loads(r.stdout)["files"]


@pytest.mark.parametrize(
    "argv",
    [
        ["figures", "--quick", "--full"],
        ["figures", "--workers", "2", "--scheduler", "tcp://x:1"],
        ["figures", "--seed", "-1"],
        ["plot", "--out", "/nonexistent/kparty"],
    ],
)
def test_cli_misuse_is_one_line_and_exit_2(argv):
    r = subprocess.run([sys.executable, "-m", "lowerbounds", *argv], capture_output=True, text=True)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "error" in r.stderr


def test_summary_references_name_sections_that_exist(quick):
    from docrefs import broken, references

    text = (quick.out / "summary.md").read_text()
    assert {(f, ids) for f, ids in references(text)} >= {("docs/figures.md", (n,)) for n in NAMES}
    assert broken(text, "summary.md") == []


def test_sigkill_of_figures_midway_then_resume_at_once_gives_the_uninterrupted_result(quick, tmp_path):
    """SIGKILL a real ``figures --quick`` on the default pool mid-way: nothing of it survives, and a
    resume at once (no clean-up) ends with the cells and tables of the uninterrupted run."""
    out = tmp_path / "killed"
    cells = out / "cells.csv"
    cmd = [sys.executable, "-m", "lowerbounds", "figures", "--quick", "--out", str(out), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while _rows(cells) < 10 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = session_processes(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        assert len(workers) >= 3, workers  # the driver and its pool were running
        survivors = wait_until_gone(proc.pid, timeout=5.0)
        assert survivors == [], f"processes of the killed run survive it: {survivors}"
    finally:
        kill_session(proc.pid)
    done = _rows(cells)
    assert 10 <= done < quick.cells, done  # killed mid-way

    res = subprocess.run(cmd + ["--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["reused"] == done and report["ran"] + report["reused"] == quick.cells
    assert canonical_table(cells) == canonical_table(quick.out / "cells.csv")
    for name in NAMES:
        assert (out / f"{name}.csv").read_text() == _csv(quick, name)


def _rows(path):
    try:
        return max(0, path.read_bytes().count(b"\n") - 2)
    except FileNotFoundError:
        return 0
