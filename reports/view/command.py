"""`evalkit view`: serve run directories as a local web page (registered by evalkit/cli.py).

Importing this module costs nothing: the server, numpy and the index load inside the command, so
`evalkit --help` and `evalkit run` never import the viewer (a test pins this).
"""

from __future__ import annotations

from typing import Annotated

import typer


def view(
    run_dirs: Annotated[list[str] | None, typer.Argument(
        help="Run directories of `evalkit run` or `evalkit train`, globs such as 'runs/ckpt-*', or folders that "
             "hold runs (searched 4 levels deep). Default: runs/.", metavar="[RUN_DIR or glob ...]",
        show_default=False)] = None,
    host: Annotated[str, typer.Option(
        help="Address to listen on. The default serves this machine only; any other address (0.0.0.0, a LAN "
             "IP) lets everyone who can reach it read every sample, so evalkit warns.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(
        help="Port to listen on; 0 picks a free one.", min=0, max=65535)] = 0,
    no_browser: Annotated[bool, typer.Option(
        "--no-browser", help="Print the URL but do not open a browser.")] = False,
) -> None:
    """Read samples, find grading errors and compare runs in a local web page (read-only)."""
    import webbrowser

    from rich.console import Console

    from evalkit.errors import UsageError
    from reports.view.discover import discover
    from reports.view.server import is_loopback, start

    err = Console(stderr=True)
    entries = discover(run_dirs or [])
    if not is_loopback(host):
        err.print(f"[bold yellow]warning:[/] --host {host} is not a loopback address: anyone who can reach this "
                  "machine on that address can read every sample of these runs (there is no login)", highlight=False)
    try:
        server = start(entries, host=host, port=port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another --port or --host") \
            from None
    evals = sum(e.kind == "eval" for e in entries)
    err.print(f"serving {evals} evaluation run{'s' if evals != 1 else ''} and {len(entries) - evals} training "
              f"run{'s' if len(entries) - evals != 1 else ''} (read-only); press Ctrl+C to stop", highlight=False)
    print(server.url, flush=True)
    if not no_browser:
        webbrowser.open(server.url)
    try:
        server.thread.join()
    except KeyboardInterrupt:
        err.print("stopped")
    finally:
        server.stop()
