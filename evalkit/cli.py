"""The `evalkit` command line: run, grade, list (and report, train from their own packages).

Every user error ends in one line on stderr and exit code 2; `--help` on each command explains
every flag. Heavy libraries are imported only by the command that needs them.
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from evalkit import __version__

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

MODEL_PANEL = "Model and engine"
DATA_PANEL = "Benchmarks and data"
SAMPLING_PANEL = "Sampling"
PROMPT_PANEL = "Prompt"


def user_errors(func: F) -> F:
    """Turn the errors that mean 'bad input' into one line on stderr and exit code 2."""
    from benchmarks.base import DataError
    from evalkit.engines.base import EngineError
    from evalkit.errors import UsageError
    from evalkit.models import ModelSpecError
    from graders.errors import GraderUnavailable

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (UsageError, DataError, ModelSpecError, EngineError, GraderUnavailable) as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None
        except KeyboardInterrupt:
            err_console.print("interrupted; samples written so far are kept; rerun the same command to resume")
            raise typer.Exit(code=130) from None

    return wrapper  # type: ignore[return-value]


def _progress_factory(progress: Progress):
    def start(description: str, total: int):
        task = progress.add_task(description, total=total)
        return lambda n: progress.advance(task, n)

    return start


def _make_progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("eta"), TimeRemainingColumn(), console=err_console, transient=False)


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


@app.command("run")
@user_errors
def run_command(
    model: Annotated[list[str], typer.Option(
        "--model", "-m", rich_help_panel=MODEL_PANEL,
        help="Model to evaluate: a local HF directory (e.g. out/step-100), a .gguf file, a hub id (org/name), "
             "the alias smollm2-135m, or the served model name with --engine openai. Repeat the flag or use a "
             "quoted glob ('out/step-*') to evaluate many checkpoints, one run directory each.")],
    benchmarks_: Annotated[str, typer.Option(
        "--benchmarks", "-b", rich_help_panel=DATA_PANEL,
        help="Comma-separated benchmark names (see `evalkit list`), e.g. gsm8k,math500.")] = "gsm8k",
    engine: Annotated[str, typer.Option(
        rich_help_panel=MODEL_PANEL,
        help="auto | hf | llamacpp | vllm | openai. auto: vllm when installed with a GPU, llamacpp for a GGUF "
             "model, else hf.")] = "auto",
    n: Annotated[int, typer.Option("--n", rich_help_panel=SAMPLING_PANEL,
                                   help="Samples per problem (pass@k is reported for every k <= n).")] = 1,
    temperature: Annotated[float, typer.Option(rich_help_panel=SAMPLING_PANEL,
                                               help="Sampling temperature; 0 is greedy (needs --n 1).")] = 0.0,
    top_p: Annotated[float, typer.Option(rich_help_panel=SAMPLING_PANEL, help="Nucleus sampling mass.")] = 1.0,
    max_tokens: Annotated[int, typer.Option(rich_help_panel=SAMPLING_PANEL,
                                            help="Maximum new tokens per completion.")] = 1024,
    seed: Annotated[int, typer.Option(rich_help_panel=SAMPLING_PANEL,
                                      help="Base random seed; sample j of a problem uses seed + j.")] = 0,
    limit: Annotated[int | None, typer.Option(
        rich_help_panel=DATA_PANEL,
        help="Evaluate only the first N problems of each benchmark (a larger N later resumes the same run).")] = None,
    data_dir: Annotated[Path | None, typer.Option(
        envvar="EVALKIT_DATA_DIR", rich_help_panel=DATA_PANEL,
        help="Read benchmark files from this directory (laid out like shared/data: gsm8k/test.jsonl, "
             "math/test.jsonl, math500/test.jsonl, ...) instead of the Hugging Face hub.")] = None,
    num_fewshot: Annotated[int, typer.Option(rich_help_panel=PROMPT_PANEL,
                                             help="Worked exemplars from the train split before each problem.")] = 0,
    chat_template: Annotated[bool, typer.Option(
        "--chat-template/--no-chat-template", rich_help_panel=PROMPT_PANEL,
        help="Chat models: the model's chat template with a step-by-step \\boxed{} instruction. "
             "--no-chat-template: plain completion prompts for base models (use with --num-fewshot).")] = True,
    system_prompt: Annotated[str | None, typer.Option(
        rich_help_panel=PROMPT_PANEL, help="A system message (chat) or a preamble (plain prompts).")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o",
        help="Run directory (config.json, samples.jsonl, metrics.json). Rerunning into it resumes. "
             "Default: runs/<model>-<settings hash>.")] = None,
    base_url: Annotated[str | None, typer.Option(
        rich_help_panel=MODEL_PANEL,
        help="--engine openai: the server's base URL, e.g. http://localhost:8000/v1 (or set OPENAI_BASE_URL).")] = None,
    concurrency: Annotated[int, typer.Option(rich_help_panel=MODEL_PANEL,
                                             help="--engine openai: requests in flight at once.")] = 8,
    batch_size: Annotated[int, typer.Option(rich_help_panel=MODEL_PANEL,
                                            help="--engine hf: sequences generated per batch.")] = 8,
    device: Annotated[str | None, typer.Option(
        rich_help_panel=MODEL_PANEL, help="--engine hf: cpu, cuda, cuda:1 ... (default: cuda if available).")] = None,
    dtype: Annotated[str | None, typer.Option(
        rich_help_panel=MODEL_PANEL,
        help="--engine hf/vllm: float32, bfloat16, float16 (default: float32 on CPU, bfloat16 on GPU).")] = None,
    tensor_parallel_size: Annotated[int, typer.Option(rich_help_panel=MODEL_PANEL,
                                                      help="--engine vllm: GPUs to shard the model over.")] = 1,
    max_model_len: Annotated[int | None, typer.Option(
        rich_help_panel=MODEL_PANEL, help="--engine vllm/llamacpp: context length (prompt + completion).")] = None,
    threads: Annotated[int | None, typer.Option(
        rich_help_panel=MODEL_PANEL,
        help="--engine llamacpp: CPU threads (default: all cores; fewer is much faster when other jobs share them).")
    ] = None,
    unsafe_code_exec: Annotated[bool, typer.Option(
        "--unsafe-code-exec", rich_help_panel=DATA_PANEL,
        help="Code benchmarks: run model-written code even where the bubblewrap sandbox is missing (only on a "
             "throwaway machine; install Debian's bubblewrap instead).")] = False,
) -> None:
    """Generate, grade and score: writes a run directory and prints a summary table."""
    from evalkit.engines import ENGINES, EngineOptions
    from evalkit.errors import UsageError
    from evalkit.runner import RunSettings, run
    from evalkit.schema import PromptConfig, SamplingConfig

    if engine not in ENGINES:
        raise UsageError(f"--engine {engine!r} is not one of {', '.join(ENGINES)}")
    if unsafe_code_exec:
        os.environ["EVALKIT_UNSAFE_CODE_EXEC"] = "1"
    if concurrency < 1 or batch_size < 1 or tensor_parallel_size < 1 or (threads is not None and threads < 1):
        raise UsageError("--concurrency, --batch-size, --tensor-parallel-size and --threads must be at least 1")
    models = expand_models(model)
    if output is not None and len(models) > 1:
        outputs = [output / _model_dir_name(m) for m in models]
    else:
        outputs = [output] * len(models)
    template = RunSettings(
        model=models[0], benchmarks=_split_benchmarks(benchmarks_), engine=engine,
        sampling=SamplingConfig(n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed),
        prompt=PromptConfig(chat=chat_template, system_prompt=system_prompt, num_fewshot=num_fewshot),
        limit=limit, data_dir=data_dir, output=output,
        engine_options=EngineOptions(base_url=base_url, concurrency=concurrency, batch_size=batch_size,
                                     device=device, dtype=dtype, tensor_parallel_size=tensor_parallel_size,
                                     max_model_len=max_model_len, seed=seed, threads=threads),
    )
    for i, (one_model, one_output) in enumerate(zip(models, outputs, strict=True)):
        if len(models) > 1:
            err_console.print(f"[bold]model {i + 1}/{len(models)}:[/] {one_model}")
        settings = dataclasses.replace(template, model=one_model, output=one_output)
        with _make_progress() as progress:
            result = run(settings, progress=_progress_factory(progress))
        if result.resumed:
            err_console.print(f"resumed: {result.resumed} samples were already in {result.output}")
        print_summary(result)


def expand_models(specs: list[str]) -> list[str]:
    """--model values with shell-style globs expanded (sorted by checkpoint step when they have one)."""
    from evalkit.errors import UsageError

    models: list[str] = []
    for spec in specs:
        if any(ch in spec for ch in "*?["):
            matches = sorted(glob.glob(os.path.expanduser(spec)), key=_step_key)
            if not matches:
                raise UsageError(f"--model {spec!r} matched no path")
            models += matches
        else:
            models.append(spec)
    return list(dict.fromkeys(models))


def _step_key(path: str) -> tuple[int, str]:
    match = re.search(r"(\d+)/?$", path)
    return (int(match.group(1)) if match else -1, path)


def _model_dir_name(spec: str) -> str:
    parts = Path(spec.rstrip("/")).parts[-2:] or (spec,)
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "_".join(parts)).strip("_") or "model"


@app.command("grade")
@user_errors
def grade_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `evalkit run`.")],
    data_dir: Annotated[Path | None, typer.Option(
        envvar="EVALKIT_DATA_DIR",
        help="Benchmark files to grade against (default: the directory the run used, else the hub).")] = None,
) -> None:
    """Re-grade stored samples with the current graders (no model needed); rewrites samples and metrics."""
    from evalkit.runner import regrade

    with _make_progress() as progress:
        result = regrade(run_dir, data_dir, progress=_progress_factory(progress))
    print_summary(result)


@app.command("list")
def list_command() -> None:
    """List the available benchmarks."""
    import benchmarks

    table = Table(title="benchmarks")
    for col in ("name", "task", "description"):
        table.add_column(col)
    for name in benchmarks.names():
        bench = benchmarks.get(name)
        table.add_row(name, bench.task, bench.description)
    console.print(table)


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
        app.command(name)(user_errors(getattr(module, attr)))


_register_optional_commands()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
