"""protocols.progress: the shared progress helper (bar on a terminal, lines otherwise)."""

from __future__ import annotations

import io

import pytest

from protocols.progress import Progress, format_seconds, progress


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_lines_at_most_every_interval_with_honest_eta():
    clock, out = FakeClock(), io.StringIO()
    p = Progress(100, "run", "lines", unit="trial", interval=10.0, file=out, clock=clock)
    for _ in range(100):
        clock.t += 1.0  # one item per second
        p.update(1)
    p.close()
    lines = out.getvalue().splitlines()
    # 100 s of work, a line every 10 s, and one closing line
    assert 9 <= len(lines) <= 11
    assert lines[0] == "run: 10/100 trial, elapsed 10s, eta 1m30s"
    assert lines[-1].startswith("run: 100/100 trial, elapsed 1m40s, eta 0s")


def test_initial_items_do_not_inflate_the_rate():
    clock, out = FakeClock(), io.StringIO()
    p = Progress(100, "sweep", "lines", initial=50, interval=0.0, file=out, clock=clock)
    assert p.eta() is None
    clock.t = 10.0
    p.update(10)  # 10 fresh items in 10 s, 40 left -> 40 s
    assert p.eta() == pytest.approx(40.0)


def test_short_run_prints_nothing_in_lines_mode():
    out = io.StringIO()
    with progress(5, "quick", file=out) as p:
        p.update(5)
    assert p.lines == 0 and out.getvalue() == ""


def test_disabled_prints_nothing_even_on_a_terminal():
    out = TTY()
    with progress(5, "quiet", enabled=False, file=out, interval=0.0) as p:
        p.update(5)
    assert out.getvalue() == ""


def test_terminal_gets_a_tqdm_bar():
    out = TTY()
    with progress(4, "bar", file=out, unit="trial") as p:
        assert p.mode == "bar"
        p.update(4)
    assert "4/4" in out.getvalue()


def test_broken_stream_turns_progress_off():
    out = io.StringIO()
    out.close()
    with progress(3, "x", file=out, interval=0.0) as p:
        p.update(1)
    assert p.mode == "off"


@pytest.mark.parametrize("bad", [True, -1, 1.5])
def test_bad_totals_are_refused(bad):
    with pytest.raises(ValueError, match="total"):
        Progress(bad, "x", "off")


def test_format_seconds():
    assert format_seconds(59.4) == "59s"
    assert format_seconds(3600) == "1h00m"
    assert format_seconds(-3) == "0s"
