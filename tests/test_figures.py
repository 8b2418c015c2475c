"""The main job end to end on the quick preset: every file, every column, reuse, and the CLI."""

from __future__ import annotations

import csv
import re
import subprocess
import sys

import pytest

from lowerbounds.figures import PRESETS, RECIPES, figures

NAMES = [r.NAME for r in RECIPES]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("figures")
    return figures(out, "quick", seed=0, workers=2, progress=False)


def test_six_figures_named_as_in_figures_md():
    assert NAMES == [
        "tradeoff_map",
        "success_vs_bits",
        "threshold_scaling",
        "rounds_cliff",
        "model_budgets",
        "depth_hop",
        "threshold_exponent",
    ]


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
        [sys.executable, "-m", "lowerbounds", "plot", "--quick", "--out", str(quick.out)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert png.exists()


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
