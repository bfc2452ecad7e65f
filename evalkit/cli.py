"""The `evalkit` command line: run, grade, list (and report, train from their own packages).

Every command speaks one option vocabulary (`evalkit.options`): the same concept has the same flag,
short option and environment variable everywhere, and an existing output follows one policy
(`options.OUTPUT_POLICY`). Every user error ends in one plain line on stderr and the exit code its
class carries (`evalkit.errors`); `--help` on each command explains every flag. Heavy libraries are
imported only by the command that needs them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import glob
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from evalkit import __version__
from evalkit import options as o
from evalkit.errors import exit_code_of, one_line

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

app = typer.Typer(
    name="evalkit",
    help="Evaluate LLM reasoning checkpoints on math and code benchmarks (and train them with RL).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(func: F) -> F:
    """Print evalkit's user errors as one plain line on stderr and exit with the code their class carries."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except KeyboardInterrupt:
            typer.echo("interrupted; what was written so far is kept; rerun the same command to resume", err=True)
            raise typer.Exit(code=130) from None
        except Exception as exc:
            code = exit_code_of(exc)
            if code is None:
                raise
            typer.echo(one_line(exc), err=True)
            raise typer.Exit(code=code) from None

    return wrapper  # type: ignore[return-value]


def command(name: str) -> Callable[[F], F]:
    """Register a command that speaks the vocabulary (old flag spellings accepted) and prints user errors."""
    def decorate(func: F) -> F:
        app.command(name, cls=o.VocabularyCommand)(user_errors(func))
        return func

    return decorate


@contextlib.contextmanager
def _progress() -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """A progress factory for the runner; the bar appears with the first stage of work, so a command that
    fails before any work prints nothing but its error line."""
    bars: list[Progress] = []

    def start(description: str, total: int) -> Callable[[int], None]:
        if not bars:
            bars.append(Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=err_console,
                                 transient=False))
            bars[0].start()
        task = bars[0].add_task(description, total=total)
        return lambda n: bars[0].advance(task, n)

    try:
        yield start
    finally:
        if bars:
            bars[0].stop()


def print_summary(result) -> None:
    from evalkit.metrics import summary_row

    table = Table(title=f"evalkit results: {result.output}")
    rows = {name: summary_row(m) for name, m in result.metrics.items()}
    columns = list(dict.fromkeys(col for row in rows.values() for col in row))
    table.add_column("benchmark")
    for col in columns:
        table.add_column(col, justify="right")
    for name, row in rows.items():
        table.add_row(name, *(row.get(col, "") for col in columns))
    console.print(table)


def _split_benchmarks(value: str) -> list[str]:
    return [b.strip() for b in value.split(",") if b.strip()]


@command("run")
def run_command(
    ctx: typer.Context,
    model: o.Models,
    benchmarks_: o.Benchmarks = "gsm8k",
    engine: Annotated[str, o.option(
        o.ENGINE, "auto, or a registered engine (hf, llamacpp, vllm, openai, ...). auto: vllm when installed with a "
        "GPU, llamacpp for a GGUF model, else hf.", o.MODEL_PANEL)] = "auto",
    n: o.SampleCount = 1,
    temperature: o.Temperature = 0.0,
    top_p: o.TopP = 1.0,
    max_tokens: o.MaxTokens = 1024,
    seed: o.Seed = 0,
    limit: o.Limit = None,
    data_dir: o.DataDir = None,
    num_fewshot: o.NumFewshot = 0,
    chat_template: o.ChatTemplate = True,
    system_prompt: o.SystemPrompt = None,
    output: o.RunOutput = None,
    overwrite: o.Overwrite = False,
    base_url: Annotated[str | None, o.option(
        o.BASE_URL, "--engine openai: the server's base URL, e.g. http://localhost:8000/v1 (or set OPENAI_BASE_URL).",
        o.MODEL_PANEL)] = None,
    concurrency: Annotated[int, o.option(o.CONCURRENCY, "--engine openai: requests in flight at once.",
                                         o.MODEL_PANEL)] = 8,
    batch_size: Annotated[int, o.option(o.BATCH_SIZE, "--engine hf: sequences generated per batch.",
                                        o.MODEL_PANEL)] = 8,
    device: o.Device = None,
    dtype: o.Dtype = None,
    tensor_parallel_size: Annotated[int, o.option(
        o.TENSOR_PARALLEL_SIZE, "--engine vllm: GPUs to shard the model over.", o.MODEL_PANEL)] = 1,
    max_model_len: Annotated[int | None, o.option(
        o.MAX_MODEL_LEN, "--engine vllm/llamacpp: context length (prompt + completion).", o.MODEL_PANEL)] = None,
    threads: Annotated[int | None, o.option(
        o.THREADS, "--engine llamacpp: CPU threads (default: all cores; fewer is much faster when other jobs share "
        "them).", o.MODEL_PANEL)] = None,
    unsafe_code_exec: o.UnsafeCodeExec = False,
    preset: o.Preset = None,
    ray: Annotated[str | None, o.option(
        o.RAY, "Run on a Ray cluster: --ray alone (or auto) uses RAY_ADDRESS, else starts a local cluster; --ray "
        "HOST:PORT joins `ray start --head`'s cluster; --ray local always starts a local one. Checkpoints, data and "
        "outputs must be on a filesystem every node sees; code is graded on every node's sandbox (bubblewrap).",
        o.CLUSTER_PANEL)] = None,
    replicas: Annotated[int, o.option(
        o.REPLICAS, "--ray: engine replicas per checkpoint (each reserves --tensor-parallel-size GPUs, or --threads "
        "CPUs for CPU engines, 1 by default).", o.CLUSTER_PANEL)] = 1,
    chunk_size: Annotated[int | None, o.option(
        o.CHUNK_SIZE, "--ray: requests per chunk handed to a replica (default: about 8 chunks per replica, at most "
        "64 requests).", o.CLUSTER_PANEL)] = None,
    ray_start_timeout: Annotated[float, o.option(
        o.RAY_START_TIMEOUT, "--ray: seconds to reserve GPUs for and start one replica before failing.",
        o.CLUSTER_PANEL)] = 900.0,
    code_actors: Annotated[int | None, o.option(
        o.CODE_ACTORS, "--ray: code-grading actors (default: one per node).", o.CLUSTER_PANEL)] = None,
) -> None:
    """Generate, grade and score: writes a run directory and prints a summary table."""
    from evalkit.engines import EngineOptions
    from evalkit.errors import UsageError
    from evalkit.runner import RunSettings, run
    from evalkit.schema import PromptConfig, SamplingParams

    if preset is not None:
        if preset not in o.PRESETS:
            raise UsageError(f"--preset {preset!r} is not one of {', '.join(o.PRESETS)}")
        # flags the user gave win; compared by name: typer may bring its own copy of click's enum
        given = {name for name in o.PRESETS[preset]
                 if getattr(ctx.get_parameter_source(name), "name", "DEFAULT") not in ("DEFAULT", "DEFAULT_MAP")}
        chosen = {k: v for k, v in o.PRESETS[preset].items() if k not in given}
        n = int(chosen.get("n", n))
        temperature = float(chosen.get("temperature", temperature))
        top_p = float(chosen.get("top_p", top_p))
        max_tokens = int(chosen.get("max_tokens", max_tokens))

    if concurrency < 1 or batch_size < 1 or tensor_parallel_size < 1 or (threads is not None and threads < 1):
        raise UsageError("--concurrency, --batch-size, --tensor-parallel-size and --threads must be at least 1")
    models = expand_models(model)
    if output is not None and len(models) > 1:
        outputs = [output / _model_dir_name(m) for m in models]
    else:
        outputs = [output] * len(models)
    template = RunSettings(
        model=models[0], benchmarks=_split_benchmarks(benchmarks_), engine=engine,
        sampling=SamplingParams(n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed),
        prompt=PromptConfig(chat=chat_template, system_prompt=system_prompt, num_fewshot=num_fewshot),
        limit=limit, data_dir=data_dir, output=output, unsafe_code_exec=unsafe_code_exec, overwrite=overwrite,
        engine_options=EngineOptions(base_url=base_url, concurrency=concurrency, batch_size=batch_size,
                                     device=device, dtype=dtype, tensor_parallel_size=tensor_parallel_size,
                                     max_model_len=max_model_len, seed=seed, threads=threads),
    )
    if ray is not None:
        _run_on_ray(template, models, outputs, ray, replicas, chunk_size, ray_start_timeout, code_actors)
        return
    if replicas != 1 or chunk_size is not None or code_actors is not None:
        raise UsageError("--replicas, --chunk-size and --code-actors need --ray (add --ray, or drop them)")
    for i, (one_model, one_output) in enumerate(zip(models, outputs, strict=True)):
        if len(models) > 1:
            typer.echo(f"model {i + 1}/{len(models)}: {one_model}", err=True)
        settings = dataclasses.replace(template, model=one_model, output=one_output)
        with _progress() as progress:
            result = run(settings, progress=progress)
        if result.resumed:
            typer.echo(f"resumed: {result.resumed} samples were already in {result.output}", err=True)
        print_summary(result)


def _run_on_ray(template, models: list[str], outputs: list, address: str, replicas: int, chunk_size: int | None,
                start_timeout: float, code_actors: int | None) -> None:
    """`evalkit run --ray`: every checkpoint is a cell of one sweep (evalkit.distributed)."""
    from evalkit.distributed.settings import RaySettings
    from evalkit.distributed.sweep import run_sweep

    ray_settings = RaySettings(address=address, replicas=replicas, chunk_size=chunk_size,
                               start_timeout_s=start_timeout, code_actors=code_actors)
    settings = [dataclasses.replace(template, model=m, output=out) for m, out in zip(models, outputs, strict=True)]
    with _progress() as progress:
        results = run_sweep(settings, ray_settings, progress, log=lambda line: typer.echo(line, err=True))
    for result in results:
        if result.resumed:
            typer.echo(f"resumed: {result.resumed} samples were already in {result.output}", err=True)
        print_summary(result)


def expand_models(specs: list[str]) -> list[str]:
    """--model values with shell-style globs expanded (in natural order, so checkpoints sort by step)."""
    from evalkit.errors import UsageError
    from evalkit.schema import natural_key

    models: list[str] = []
    for spec in specs:
        if glob.has_magic(spec):
            matches = sorted(glob.glob(os.path.expanduser(spec)), key=natural_key)
            if not matches:
                raise UsageError(f"--model {spec!r} matched no path")
            models += matches
        else:
            models.append(spec)
    return list(dict.fromkeys(models))


def _model_dir_name(spec: str) -> str:
    from evalkit.schema import slug

    parts = Path(spec.rstrip("/")).parts[-2:] or (spec,)
    return slug("_".join(parts))


@command("grade")
def grade_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `evalkit run`.")],
    data_dir: o.RegradeDataDir = None,
    unsafe_code_exec: o.UnsafeCodeExec = False,
) -> None:
    """Re-grade stored samples with the current graders (no model needed); rewrites verdicts and metrics in place,
    keeping the completions."""
    from evalkit.runner import regrade

    with _progress() as progress:
        result = regrade(run_dir, data_dir, progress=progress, unsafe_code_exec=unsafe_code_exec)
    print_summary(result)


@command("list")
def list_command() -> None:
    """List the available benchmarks (built-in, installed and from benchmark files) and the groups."""
    import benchmarks

    table = Table(title="benchmarks")
    for col in ("name", "task", "description", "hub dataset (without --data-dir)", "defined in"):
        table.add_column(col)
    for name in benchmarks.names():
        path = benchmarks.file_of(name)
        where = "built-in" if path is None or benchmarks.PACKAGED_DIR in path.parents else "file"
        if path is not None:
            where += f" {path.name if where == 'built-in' else path}"
        bench = benchmarks.get(name)  # a broken plugin or benchmark file: its one line, exit 2
        table.add_row(Text(name), Text(bench.task), Text(bench.description), Text(bench.hub_dataset), Text(where))
    out = console if console.is_terminal else Console(width=1000)  # piped: whole lines, for grep and scripts
    out.print(table)
    groups = Table(title="groups (--benchmarks NAME runs them all)")
    groups.add_column("group")
    groups.add_column("benchmarks")
    for group, members in sorted(benchmarks.GROUPS.items()):
        groups.add_row(Text(group), Text(", ".join(members)))
    out.print(groups)


def _version_callback(value: bool) -> None:
    if value:
        console.print(f"evalkit {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version_callback, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """evalkit: evaluate LLM reasoning checkpoints on math and code benchmarks."""


def _register_optional_commands() -> None:
    """`report` and `train` live in their own packages; register them when present."""
    for module_name, attr, name in (("reports.command", "report", "report"),
                                    ("evalkit.train.command", "train", "train"),
                                    ("reports.view.command", "view", "view")):
        try:
            module = __import__(module_name, fromlist=[attr])
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        command(name)(getattr(module, attr))


_register_optional_commands()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
