"""The server's kept threads (``berth_moto.serving``): every connection is served at once, as by
werkzeug's thread per connection, by a waiting thread when there is one."""

from __future__ import annotations

import threading
import time

from berth_moto.serving import Workers


def test_a_burst_runs_at_once_and_its_threads_serve_the_next_one():
    workers = Workers(max_idle=8)
    started = threading.Barrier(6, timeout=5)  # five jobs and this test: all run together
    done = threading.Semaphore(0)
    names: list[str] = []

    def job() -> None:
        names.append(threading.current_thread().name)
        started.wait()
        done.release()

    for _ in range(5):
        workers.submit(job)
    started.wait()
    for _ in range(5):
        assert done.acquire(timeout=5)
    deadline = time.monotonic() + 5
    while workers.idle < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert workers.started == 5 and workers.idle == 5

    second: list[str] = []
    finished = threading.Semaphore(0)

    def again() -> None:
        second.append(threading.current_thread().name)
        finished.release()

    for _ in range(3):
        workers.submit(again)
    for _ in range(3):
        assert finished.acquire(timeout=5)
    assert workers.started == 5, "no new thread while some were waiting"
    assert set(second) <= set(names)


def test_threads_past_the_idle_limit_exit():
    workers = Workers(max_idle=2)
    gate = threading.Event()
    threads: list[threading.Thread] = []

    def job() -> None:
        threads.append(threading.current_thread())
        gate.wait(5)

    for _ in range(4):
        workers.submit(job)
    deadline = time.monotonic() + 5
    while len(threads) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    gate.set()
    while time.monotonic() < deadline:
        if workers.idle == 2 and sum(t.is_alive() for t in threads) == 2:
            break
        time.sleep(0.01)
    assert workers.started == 4 and workers.idle == 2
    assert sum(t.is_alive() for t in threads) == 2
