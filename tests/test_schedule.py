"""A book run with several chapters at a time: order, overlap, the lock, a failure."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
import toybook

from orbitnet.book import execution, registry, schedule

SLEEP = "import time\ntime.sleep({})"


def _toy(root: Path, monkeypatch, chapters: dict[str, list[str]]):
    for name, cells in chapters.items():
        toybook.write_notebook(root / "notebooks" / f"{name}.md", cells)
    toybook.configure(root, monkeypatch.setattr)
    return lambda cid, profile: [sys.executable, toybook.__file__, str(root), cid]


def test_the_book_order_of_waits():
    ids = [c.id for c in registry.CHAPTERS]
    assert registry.waits_for("10_conclusions") == tuple(i for i in ids if i != "10_conclusions")
    assert registry.waits_for("05_gan") == ("02_orbit_libraries", "03_dcnn")
    assert registry.waits_for("09_beyond_ml") == ()
    for cid in ids:  # nothing waits for a chapter that comes after it in the book
        assert all(ids.index(w) < ids.index(cid) for w in registry.waits_for(cid)), cid
    assert schedule.next_ready(["03_dcnn", "09_beyond_ml"], {"01_galaxy"}) == "09_beyond_ml"


@pytest.mark.slow
def test_chapters_run_two_at_a_time_under_the_books_lock(tmp_path, monkeypatch):
    cmd = _toy(tmp_path, monkeypatch, {"a1": [SLEEP.format(3)], "b2": [SLEEP.format(3)],
                                       "c3": ["y = x * 2"]})
    monkeypatch.setitem(registry.AFTER, "c3", ("a1",))
    lines: list[str] = []
    with execution.run_lock("book"):  # held here: the chapter processes run under it
        walls = schedule.run_concurrently("full", 2, log=lines.append, progress=False,
                                          command=cmd)
    assert set(walls) == {"a1", "b2", "c3"}

    def at(text: str) -> int:
        return next(i for i, line in enumerate(lines) if line.startswith(f"book: chapter {text}"))

    started = [line.split()[2] for line in lines if "started" in line]
    done = [line.split()[2] for line in lines if " done " in line]
    assert started[:2] == ["a1", "b2"]
    assert at("b2 started") < at("a1 done")  # b2 ran while a1 ran
    assert at("c3 started") > at("a1 done")  # c3 waited for a1
    assert sorted(done) == ["a1", "b2", "c3"]
    for cid in walls:
        rec = json.loads((tmp_path / "build" / "results" / f"{cid}.run.json").read_text())
        assert rec["chapter"] == cid and rec["wall_seconds"] > 0
        assert (tmp_path / "build" / "logs" / f"{cid}.log").is_file()


@pytest.mark.slow
def test_a_failing_chapter_stops_the_others(tmp_path, monkeypatch):
    cmd = _toy(tmp_path, monkeypatch, {"a1": [SLEEP.format(60)],
                                       "b2": ["raise ValueError('bad b2')"]})
    t0 = time.perf_counter()
    with pytest.raises(schedule.ChapterFailed) as err:
        schedule.run_concurrently("full", 2, log=lambda *_: None, progress=False, command=cmd)
    assert time.perf_counter() - t0 < 45  # a1 was stopped, not waited for
    msg = str(err.value)
    assert "chapter b2 failed" in msg and "ValueError: bad b2" in msg and "b2.log" in msg
    assert not (tmp_path / "build" / "results" / "a1.run.json").exists()
    assert not (tmp_path / "build" / "results" / "b2.run.json").exists()


def test_book_jobs_defaults_and_checks(monkeypatch):
    from orbitnet.book import runner

    monkeypatch.setattr(runner.os, "sched_getaffinity", lambda _: {0, 1, 2, 3}, raising=False)
    assert runner.book_jobs("quick") == 2 and runner.book_jobs("full") == 1
    assert runner.book_jobs("full", 3) == 3
    monkeypatch.setattr(runner.os, "sched_getaffinity", lambda _: {0}, raising=False)
    assert runner.book_jobs("quick") == 1
    with pytest.raises(runner.ChapterError, match="--jobs must be at least 1"):
        runner.book_jobs("quick", 0)
