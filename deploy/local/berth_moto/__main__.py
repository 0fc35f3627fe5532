"""``python -m berth_moto [moto_server options] [--exit-on-stdin-eof]``: moto's server, patched.

Takes ``moto_server``'s options (``-H HOST -p PORT`` ...). ``--exit-on-stdin-eof`` stops the
server when its standard input reaches end-of-file, so a test harness holding a pipe to it can
never leak it.
"""

from __future__ import annotations

import importlib.metadata
import os
import signal
import sys
import threading

from . import MOTO_VERSION, install

STDIN_FLAG = "--exit-on-stdin-eof"


def _exit_on_stdin_eof() -> None:
    def watch() -> None:
        while sys.stdin.buffer.read(4096):
            pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="berth-moto-stdin", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    watch_stdin = STDIN_FLAG in args
    args = [arg for arg in args if arg != STDIN_FLAG]

    try:
        from .config import CONFIG
    except ValueError as error:  # a malformed BERTH_MOTO_* variable
        sys.exit(f"berth_moto: {error}")

    installed = importlib.metadata.version("moto")
    if installed != MOTO_VERSION:
        print(
            f"berth_moto: warning: written for moto {MOTO_VERSION}, running on moto {installed}",
            file=sys.stderr,
        )
    install()

    import moto.server

    from . import serving
    from .app import BerthDispatcher
    from .warm import warm_up

    moto.server.DomainDispatcherApplication = BerthDispatcher  # type: ignore[misc]
    serving.install()  # werkzeug's server keeps its threads (see berth_moto.serving)
    settings = CONFIG.effective(None)
    print(
        f"berth_moto: moto {installed} with berth's extension; rollout "
        f"{settings.rollout_seconds:g}s; failing images: "
        f"{', '.join(settings.failing_images) or '(none)'}",
        file=sys.stderr,
        flush=True,
    )
    warm_up()
    if watch_stdin:
        _exit_on_stdin_eof()
    moto.server.main(args)


if __name__ == "__main__":
    main()
