"""Which tests sit off the CPU, and where: a pytest plugin (loaded by tests/conftest.py) for the suite's log.

Now and then a test waited for tens of seconds while using almost no CPU (README "Two commands": e.g. the
sample-grid test, 52 s of wall time in one CI run, under 15 in the next). This watcher found where (2026-12-07,
with `py-spy dump --native` of such a wait): a garbage collection destroying a tf.data iterator left in a
reference cycle by an earlier test's `fit` that a callback stopped mid-epoch, the destructor waiting for the
iterator's autotuning thread to wake (the tests that stop a fit now feed it without autotuning).
A watcher thread in each test process samples, every `PERIOD` seconds, whether the process used the CPU
since the last sample; if it did not (under `IDLE_SHARE` of one core), it records where the test's thread
was in Python (its innermost frames). At the end pytest prints each test that sat idle for at least
`REPORT_SECONDS`, with the stacks it was found waiting in most: a file, a lock, a child process, a sleep.

Waiting for child processes (the multi-worker and fault tests) is expected and shows as such. Sampling costs
nothing measurable (one `sys._current_frames()` per period, only when idle). No test asserts on it.
"""

import collections
import os
import sys
import threading
import time
import traceback

import pytest

PERIOD = 1.0  # seconds between samples
IDLE_SHARE = 0.1  # a period with less CPU than this share of one core counts as idle
REPORT_SECONDS = 8.0  # report tests idle at least this long
FRAMES = 4  # innermost frames kept per sample

_state = {"test": None, "thread": None, "idle": collections.defaultdict(collections.Counter)}
_lock = threading.Lock()


def _where(frame):
    """The innermost `FRAMES` frames of `frame` as one line: `file:line function < ...`."""
    entries = traceback.extract_stack(frame)[-FRAMES:]
    return " < ".join(f"{os.path.basename(e.filename)}:{e.lineno} {e.name}" for e in reversed(entries))


def _watch():
    last = time.process_time()
    while True:
        time.sleep(PERIOD)
        now = time.process_time()
        busy, last = now - last, now
        with _lock:
            test, ident = _state["test"], _state["thread"]
        if test is None or busy >= IDLE_SHARE * PERIOD:
            continue
        frame = sys._current_frames().get(ident)
        if frame is not None:
            with _lock:
                _state["idle"][test][_where(frame)] += PERIOD


def pytest_configure(config):
    threading.Thread(target=_watch, name="kgan-idle-watch", daemon=True).start()


def pytest_runtest_protocol(item, nextitem):
    with _lock:
        _state["test"], _state["thread"] = item.nodeid, threading.get_ident()


@pytest.hookimpl(tryfirst=True)  # before pytest's own makereport copies `user_properties` into the report
def pytest_runtest_makereport(item, call):
    if call.when != "teardown":
        return
    with _lock:
        seen = _state["idle"].pop(item.nodeid, collections.Counter())
        _state["test"] = None
    idle = sum(seen.values())
    if idle >= REPORT_SECONDS:
        item.user_properties.append(("kgan_idle", (idle, seen.most_common(3))))


_reported = []  # (seconds idle, nodeid, [(where, seconds)]), in the process that prints the summary


def pytest_runtest_logreport(report):
    for name, value in getattr(report, "user_properties", ()):
        if name == "kgan_idle" and report.when == "teardown":
            _reported.append((value[0], report.nodeid, value[1]))


def pytest_terminal_summary(terminalreporter):
    if not _reported:
        return
    terminalreporter.section("tests off the CPU (tests/idle_watch.py)")
    for idle, nodeid, stacks in sorted(_reported, reverse=True)[:15]:
        terminalreporter.write_line(f"{idle:.0f} s idle  {nodeid}")
        for where, seconds in stacks:
            terminalreporter.write_line(f"    {seconds:.0f} s in {where}")
