"""The HTTP server under moto's application: werkzeug's threaded development server, with its
threads kept for the next request.

``moto.server.main`` serves with werkzeug's ``ThreadedWSGIServer``, which starts a thread for each
connection (and werkzeug closes every connection after one answer, so: for each request).
Starting a thread and waiting for it to run costs about 0.1 ms of CPU on its own, with the
interpreter lock changing hands twice, before the request is even read; with 20 requests
arriving at once, keeping the threads instead cut the server's CPU per small ECS call by about a
quarter and a 20-call burst's time by about a third. Here a finished request's thread waits for
the next connection instead of exiting. A connection that arrives
while every thread is busy still gets a new thread, so nothing ever queues behind a slow
request, exactly as before; at most :data:`MAX_IDLE` threads wait at once (a burst's extra
threads exit afterwards). They are daemon threads, as werkzeug's are: closing the server does
not wait for them.

Each request is handled by the server's own ``process_request_thread`` (finish, report errors,
shut the connection down), as werkzeug's threads do.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from werkzeug.serving import ThreadedWSGIServer

#: Threads kept waiting for connections; past this many, a thread that finishes exits.
MAX_IDLE = 32


class Workers:
    """Threads that run ``job(*args)`` one after the other, started only when none is free."""

    def __init__(self, max_idle: int = MAX_IDLE) -> None:
        self.max_idle = max_idle
        self.jobs: queue.SimpleQueue[tuple[Any, tuple[Any, ...]]] = queue.SimpleQueue()
        self.lock = threading.Lock()
        #: Threads waiting for a job that no job has been handed to yet.
        self.idle = 0
        self.started = 0

    def submit(self, job: Any, *args: Any) -> None:
        with self.lock:
            if self.idle:
                self.idle -= 1  # this job is that thread's: there is one waiting for each queued
                self.jobs.put((job, args))
                return
            self.started += 1
            name = f"berth-moto-{self.started}"
        threading.Thread(target=self._run, args=(job, args), name=name, daemon=True).start()

    def _run(self, job: Any, args: tuple[Any, ...]) -> None:
        while True:
            # An exception escaping the job ends the thread, as it ends werkzeug's (the
            # server's process_request_thread reports errors and closes the connection first).
            job(*args)
            job = args = None  # do not keep the finished request alive while waiting
            with self.lock:
                if self.idle >= self.max_idle:
                    return
                self.idle += 1
            job, args = self.jobs.get()


def process_request(self: ThreadedWSGIServer, request: Any, client_address: Any) -> None:
    """``ThreadingMixIn.process_request`` on a kept thread (werkzeug's are daemon threads, which
    ``server_close`` does not wait for either)."""
    workers = self.__dict__.get("_berth_workers")
    if workers is None:
        workers = self.__dict__.setdefault("_berth_workers", Workers())
    workers.submit(self.process_request_thread, request, client_address)


def install() -> None:
    """Makes werkzeug's threaded server keep its threads (idempotent)."""
    if ThreadedWSGIServer.daemon_threads:
        ThreadedWSGIServer.process_request = process_request  # type: ignore[method-assign]
