"""The command-line vocabulary: every option of `run`, `grade`, `train` and `report`, declared once.

Each concept has one `Flag` (its name, short option, environment variable, old spellings) and one
or more `Annotated` bundles that the commands use as parameter types (lighteval's `cli_args.py`
shape), so the same concept is spelled, abbreviated, read from the environment and explained the
same way everywhere:

    -m/--model   -b/--benchmarks   -o/--output   --data-dir (EVALKIT_DATA_DIR)   --n   --temperature
    --top-p   --max-tokens   --seed   --system-prompt   --chat-template/--no-chat-template
    --device   --dtype   --unsafe-code-exec   --overwrite

Old spellings (`train --benchmark`, `--group-size`, `--max-new-tokens`) are accepted for one more
release as hidden aliases (`VocabularyCommand` rewrites them and prints a note). `run_arguments`
writes a run's settings back as an `evalkit run` command line with these same flags, so the
report's reproduce commands never drift from the CLI.

An existing output is handled by one policy, `OUTPUT_POLICY` (the README states it too).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core

from evalkit.schema import RunConfig

MODEL_PANEL = "Model and engine"
DATA_PANEL = "Benchmarks and data"
SAMPLING_PANEL = "Sampling"
PROMPT_PANEL = "Prompt"
OUTPUT_PANEL = "Output"
CLUSTER_PANEL = "Ray cluster (the ray extra)"

OUTPUT_POLICY = (
    "An output that already holds results is never silently replaced: it is resumed when it holds the same "
    "work (`run` with the same settings), and refused otherwise unless --overwrite replaces it. Files derived "
    "from stored results are rewritten: `grade` rewrites a run's verdicts and metrics in place (its completions "
    "are kept) and `report` rewrites its markdown, CSV and plots."
)


@dataclass(frozen=True)
class Flag:
    """One concept of the vocabulary as the command line spells it."""

    name: str  # "--max-tokens"
    short: str | None = None  # "-m"
    negative: str | None = None  # "--no-chat-template" for an on/off pair
    envvar: str | None = None
    old: tuple[str, ...] = ()  # spellings still accepted for one release, hidden from --help

    def decls(self) -> list[str]:
        first = f"{self.name}/{self.negative}" if self.negative else self.name
        return [first, *([self.short] if self.short else [])]


MODEL = Flag("--model", "-m")
BENCHMARKS = Flag("--benchmarks", "-b", old=("--benchmark",))
OUTPUT = Flag("--output", "-o")
OVERWRITE = Flag("--overwrite")
DATA_DIR = Flag("--data-dir", envvar="EVALKIT_DATA_DIR")
LIMIT = Flag("--limit")
N = Flag("--n", old=("--group-size",))
TEMPERATURE = Flag("--temperature")
TOP_P = Flag("--top-p")
MAX_TOKENS = Flag("--max-tokens", old=("--max-new-tokens",))
SEED = Flag("--seed")
NUM_FEWSHOT = Flag("--num-fewshot")
CHAT_TEMPLATE = Flag("--chat-template", negative="--no-chat-template")
SYSTEM_PROMPT = Flag("--system-prompt")
ENGINE = Flag("--engine")
BASE_URL = Flag("--base-url")
CONCURRENCY = Flag("--concurrency")
BATCH_SIZE = Flag("--batch-size")
DEVICE = Flag("--device")
DTYPE = Flag("--dtype")
TENSOR_PARALLEL_SIZE = Flag("--tensor-parallel-size")
MAX_MODEL_LEN = Flag("--max-model-len")
THREADS = Flag("--threads")
UNSAFE_CODE_EXEC = Flag("--unsafe-code-exec")
PRESET = Flag("--preset")
RAY = Flag("--ray")
REPLICAS = Flag("--replicas")
CHUNK_SIZE = Flag("--chunk-size")
RAY_START_TIMEOUT = Flag("--ray-start-timeout")
CODE_ACTORS = Flag("--code-actors")

VOCABULARY = (MODEL, BENCHMARKS, OUTPUT, OVERWRITE, DATA_DIR, LIMIT, N, TEMPERATURE, TOP_P, MAX_TOKENS, SEED,
              NUM_FEWSHOT, CHAT_TEMPLATE, SYSTEM_PROMPT, ENGINE, BASE_URL, CONCURRENCY, BATCH_SIZE, DEVICE, DTYPE,
              TENSOR_PARALLEL_SIZE, MAX_MODEL_LEN, THREADS, UNSAFE_CODE_EXEC, PRESET, RAY, REPLICAS, CHUNK_SIZE,
              RAY_START_TIMEOUT, CODE_ACTORS)
#: Old spelling -> current name, for every flag of the vocabulary.
OLD_NAMES = {old: flag.name for flag in VOCABULARY for old in flag.old}
#: Flags whose value may be left out, and the value they then take (`--ray` alone is `--ray auto`).
OPTIONAL_VALUES = {RAY.name: "auto"}
#: EngineOptions field -> its flag (the sampling seed is --seed, not an engine option of its own).
ENGINE_OPTION_FLAGS = {"base_url": BASE_URL, "concurrency": CONCURRENCY, "batch_size": BATCH_SIZE, "device": DEVICE,
                       "dtype": DTYPE, "tensor_parallel_size": TENSOR_PARALLEL_SIZE, "max_model_len": MAX_MODEL_LEN,
                       "threads": THREADS}


def option(flag: Flag, help: str, panel: str | None = None, **kwargs: Any) -> Any:
    """The typer option of `flag` (kwargs as for `typer.Option`)."""
    return typer.Option(*flag.decls(), help=help, rich_help_panel=panel, envvar=flag.envvar,
                        show_envvar=flag.envvar is not None, **kwargs)


# ----------------------------------------------------------------------------- the bundles

_MODEL_HELP = ("Model: a local HF directory (e.g. out/step-100), a .gguf file, a hub id (org/name), the alias "
               "smollm2-135m, or the served model name with --engine openai.")
Models = Annotated[list[str], option(MODEL, _MODEL_HELP + " Repeat the flag or use a quoted glob ('out/step-*') to "
                                     "evaluate many checkpoints, one run directory each.", MODEL_PANEL)]
ModelOrConfig = Annotated[str | None, option(MODEL, _MODEL_HELP, MODEL_PANEL)]

Benchmarks = Annotated[str, option(BENCHMARKS, "Comma-separated benchmark names, groups or benchmark files (see "
                                   "`evalkit list`), e.g. gsm8k,math500, reasoning (aime24, aime25, amc23, math500, "
                                   "olympiadbench, minerva_math) or path/to/bench.toml. Files in the directory "
                                   "EVALKIT_BENCHMARKS names are benchmarks too.", DATA_PANEL)]
TrainBenchmark = Annotated[str | None, option(
    BENCHMARKS, "The benchmark whose train split gives the prompts and whose grader gives the reward (any math or "
    "code benchmark of `evalkit list` with a train split), or addition (the toy task).", DATA_PANEL)]

_DATA_DIR_HELP = ("Read benchmark files from this directory (laid out like shared/data: gsm8k/test.jsonl, "
                  "math/test.jsonl, ...) instead of the Hugging Face hub.")
DataDir = Annotated[Path | None, option(DATA_DIR, _DATA_DIR_HELP, DATA_PANEL)]
RegradeDataDir = Annotated[Path | None, option(
    DATA_DIR, "Benchmark files to grade against (default: the directory the run used, else the hub).", DATA_PANEL)]
Limit = Annotated[int | None, option(LIMIT, "Evaluate only the first N problems of each benchmark (a larger N later "
                                     "resumes the same run).", DATA_PANEL)]
UnsafeCodeExec = Annotated[bool, option(
    UNSAFE_CODE_EXEC, "Code benchmarks: run model-written code even where the bubblewrap sandbox is missing (only on "
    "a throwaway machine; install Debian's bubblewrap instead). Also EVALKIT_UNSAFE_CODE_EXEC=1.", DATA_PANEL)]

_N_HELP = "Samples per prompt: `run` reports pass@k for every k <= n; `train` samples this group (G) per prompt."
_TEMPERATURE_HELP = "Sampling temperature; 0 is greedy (evaluation with --n 1 only; training needs > 0)."
_TOP_P_HELP = "Nucleus sampling mass, in (0, 1]."
_MAX_TOKENS_HELP = "Maximum new tokens per completion."
_SEED_HELP = "Base random seed: sample j of a prompt uses seed + j (training: also prompt order and shuffling)."
SampleCount = Annotated[int, option(N, _N_HELP, SAMPLING_PANEL)]
SampleCountOrConfig = Annotated[int | None, option(N, _N_HELP, SAMPLING_PANEL)]
Temperature = Annotated[float, option(TEMPERATURE, _TEMPERATURE_HELP, SAMPLING_PANEL)]
TemperatureOrConfig = Annotated[float | None, option(TEMPERATURE, _TEMPERATURE_HELP, SAMPLING_PANEL)]
TopP = Annotated[float, option(TOP_P, _TOP_P_HELP, SAMPLING_PANEL)]
TopPOrConfig = Annotated[float | None, option(TOP_P, _TOP_P_HELP, SAMPLING_PANEL)]
MaxTokens = Annotated[int, option(MAX_TOKENS, _MAX_TOKENS_HELP, SAMPLING_PANEL)]
MaxTokensOrConfig = Annotated[int | None, option(MAX_TOKENS, _MAX_TOKENS_HELP, SAMPLING_PANEL)]
Seed = Annotated[int, option(SEED, _SEED_HELP, SAMPLING_PANEL)]
SeedOrConfig = Annotated[int | None, option(SEED, _SEED_HELP, SAMPLING_PANEL)]

_CHAT_HELP = ("Chat models: the model's chat template with a step-by-step instruction. --no-chat-template: plain "
              "completion prompts for base models (with `run`, use --num-fewshot).")
_SYSTEM_HELP = "A system message (chat) or a preamble (plain prompts)."
ChatTemplate = Annotated[bool, option(CHAT_TEMPLATE, _CHAT_HELP, PROMPT_PANEL)]
ChatTemplateOrConfig = Annotated[bool | None, option(CHAT_TEMPLATE, _CHAT_HELP, PROMPT_PANEL)]
SystemPrompt = Annotated[str | None, option(SYSTEM_PROMPT, _SYSTEM_HELP, PROMPT_PANEL)]
NumFewshot = Annotated[int, option(NUM_FEWSHOT, "Worked exemplars from the train split before each problem.",
                                   PROMPT_PANEL)]

_DEVICE_HELP = "torch device: cpu, cuda, cuda:1 ... (`run --engine hf` default: cuda if available; `train`: cpu)."
_DTYPE_HELP = "float32, bfloat16 or float16 (default: float32 on CPU, bfloat16 on GPU)."
Device = Annotated[str | None, option(DEVICE, _DEVICE_HELP, MODEL_PANEL)]
Dtype = Annotated[str | None, option(DTYPE, _DTYPE_HELP, MODEL_PANEL)]

RunOutput = Annotated[Path | None, option(
    OUTPUT, "Run directory (config.json, samples.jsonl, metrics.json); default runs/<model>-<settings hash>. "
    "Rerunning the same settings into it resumes; a different run there is refused unless --overwrite.",
    OUTPUT_PANEL)]
TrainOutput = Annotated[Path | None, option(
    OUTPUT, "Training directory: metrics.jsonl, train_config.json and checkpoints step-N/ (HF format). One that "
    "already holds a training run is refused unless --overwrite (training does not resume).", OUTPUT_PANEL)]
ReportOutput = Annotated[Path | None, option(
    OUTPUT, "Write the markdown here (rewritten if it exists) instead of printing it to stdout.", OUTPUT_PANEL)]
Overwrite = Annotated[bool, option(OVERWRITE, "Replace the results an output already holds (see --output).",
                                   OUTPUT_PANEL)]


#: Sampling settings a `--preset` stands for; flags given on the command line win over them.
PRESETS: dict[str, dict[str, float | int]] = {
    # The reasoning-model protocol (DeepSeek-R1, Qwen3, evalchemy, lighteval's aime24_avg): sample, do not
    # decode greedily, and average over many samples per problem: a 30-problem set needs n >= 16.
    "reasoning": {"temperature": 0.6, "top_p": 0.95, "n": 16, "max_tokens": 32768},
}
Preset = Annotated[str | None, option(
    PRESET, "Sampling settings by name; flags given explicitly override them. reasoning: --temperature 0.6 --top-p "
    "0.95 --n 16 --max-tokens 32768 (the reasoning-model protocol: avg@n with its interval over problems, pass@k, "
    "maj@k; raise --n to 32 or 64 for 30-problem sets).", SAMPLING_PANEL)]


# ----------------------------------------------------------------------------- old spellings


def rewrite_old_names(args: Sequence[str], warn: bool | None = None) -> list[str]:
    """`args` with old flag spellings replaced by the current names (up to a `--` end of options).

    A note names the new spelling when `warn` (default: when stderr is a terminal, so that scripts
    and their logs see exactly what they saw before the rename).
    """
    if warn is None:
        warn = sys.stderr.isatty()
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            return out + list(args[i:])
        name, eq, value = arg.partition("=")
        new = OLD_NAMES.get(name)
        if new is None:
            out.append(arg)
            continue
        if warn:
            sys.stderr.write(f"note: {name} is an old name of {new}, accepted until the next release; use {new}\n")
        out.append(new + eq + value)
    return out


def fill_optional_values(args: Sequence[str]) -> list[str]:
    """`args` with a value given to each flag of `OPTIONAL_VALUES` that stands alone (`--ray` -> `--ray=auto`):
    click cannot tell a missing value from the next option."""
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            return out + list(args[i:])
        following = args[i + 1] if i + 1 < len(args) else None
        if arg in OPTIONAL_VALUES and (following is None or following.startswith("-")):
            out.append(f"{arg}={OPTIONAL_VALUES[arg]}")
        else:
            out.append(arg)
    return out


class VocabularyCommand(typer.core.TyperCommand):
    """A typer command that accepts the vocabulary's old flag spellings (hidden aliases) and flags whose value
    may be left out (`OPTIONAL_VALUES`)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, fill_optional_values(rewrite_old_names(args)))


# ----------------------------------------------------------------------------- settings -> command line


def run_arguments(config: RunConfig, output: Path | str) -> list[str]:
    """The `evalkit run` arguments (after `evalkit run`) that repeat `config`'s settings into `output`."""
    sampling, prompt = config.sampling, config.prompt
    bench_specs = [config.benchmark_files.get(name, name) for name in config.benchmarks]
    args = [MODEL.name, config.model.spec, BENCHMARKS.name, ",".join(bench_specs),
            ENGINE.name, config.model.engine, N.name, str(sampling.n), TEMPERATURE.name, str(sampling.temperature),
            TOP_P.name, str(sampling.top_p), MAX_TOKENS.name, str(sampling.max_tokens), SEED.name, str(sampling.seed),
            NUM_FEWSHOT.name, str(prompt.num_fewshot),
            CHAT_TEMPLATE.name if prompt.chat else str(CHAT_TEMPLATE.negative)]
    if prompt.system_prompt is not None:
        args += [SYSTEM_PROMPT.name, prompt.system_prompt]
    if config.limit is not None:
        args += [LIMIT.name, str(config.limit)]
    sources = {info.source for info in config.data.values()}
    if len(sources) == 1 and (source := sources.pop()).startswith("local:"):
        args += [DATA_DIR.name, source.removeprefix("local:")]
    args += [OUTPUT.name, str(output)]
    for key, value in sorted(config.model.engine_options.items()):
        flag = ENGINE_OPTION_FLAGS.get(key)
        if flag is not None and value is not None:
            args += [flag.name, str(value)]
    return args
