"""Benchmarks described in a TOML file, no Python (what lm-eval's YAML tasks and lighteval's suites offer).

`evalkit run --benchmarks path/to/bench.toml` runs one; every `*.toml` in the directory named by
`EVALKIT_BENCHMARKS` is a benchmark named after its file; the shipped `benchmarks/defs/*.toml` are
built-ins written this way (AMC 2023). The format, every key (anything else is an error naming the
file and the key):

    name = "my_set"                 # optional: default the file name (a file in a directory must match it)
    description = "..."             # shown by `evalkit list`

    [data]                          # where the problems are: a local file, a file under --data-dir, or the hub
    path = "problems.jsonl"         # a local file, relative to this TOML file: jsonl, json, parquet or csv
    data_dir_path = "amc23/test.jsonl"  # or: a file under --data-dir / EVALKIT_DATA_DIR, when one is given
    hub = "math-ai/amc23"           # else: a Hugging Face hub dataset id (with hub_config, split)
    hub_config = "default"
    split = "test"                  # the hub split (default "test")
    format = "jsonl"                # when the file's extension does not say

    [fields]                        # which field of a row is what
    id = "id"                       # optional: default the row's index (0, 1, ...)
    question = "problem"            # required
    answer = "answer"               # required for the math and gsm8k graders (the gold)
    solution = "solution"           # optional: a worked solution (few-shot exemplars)
    entry_point = "entry_point"     # code: the function the tests call
    tests = "test_list"             # code: a test script, or a list of assert statements
    code_prompt = "prompt"          # code, optional: the code a base model continues

    [fields.breakdown]              # metadata to report accuracy by: label = field, or a regex over a field
    subject = "type"
    part = { field = "url", pattern = "AMC_(12[AB])" }   # the first group (or the whole match); else "other"

    [grader]
    name = "math"                   # math, gsm8k, code, or a registered grader (`evalkit.graders`)
    timeout_s = 1.0                 # math, gsm8k: the slow path's deadline per answer
    test_template = "{{tests}}\n\ncheck({{entry_point}})"   # code: the script the judge runs
    [grader.policy]                 # math: graders.policy.GradingPolicy options
    rel_tol = 1e-4

    [prompt]                        # templates: {{question}}, {{answer}}, {{solution}}, {{id}}, or any row field
    chat = "{{question}}\nPut your final answer within \\boxed{}."
    completion = "Problem: {{question}}\nSolution:"          # base models (--no-chat-template)
    exemplar = "Problem: {{question}}\nSolution: {{solution}}\n\n"   # one few-shot exemplar before it
    stop = ["Problem:"]             # stop sequences of completion prompts

    [fewshot]                       # where base-model exemplars come from: the keys of [data]
    path = "train.jsonl"

Answers stored as numbers are golds as written: `27.0` is `27`, `0.5` is `0.5`; a list of answers is one
comma-separated gold (all required, in any order). Placeholders are `{{name}}`, so LaTeX braces in a
template (`\\boxed{}`, `\\frac{a}{b}`) need no escaping. Every error is one line that starts with the
file's path and names the key, or the row and the field, at fault.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.base import Benchmark, DataError, DataSource, Problem
from benchmarks.sources import DATA_DIR_HINT, TABLE_FORMATS, load_hub, read_table, table_format

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BOXED_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

_DATA_KEYS = ("path", "data_dir_path", "hub", "hub_config", "split", "format")
_KEYS: dict[str, tuple[str, ...]] = {
    "": ("name", "description", "data", "fields", "grader", "prompt", "fewshot"),
    "data": _DATA_KEYS,
    "fewshot": _DATA_KEYS,
    "fields": ("id", "question", "answer", "solution", "entry_point", "tests", "code_prompt", "breakdown"),
    "grader": ("name", "timeout_s", "test_template", "policy"),
    "prompt": ("chat", "completion", "exemplar", "stop"),
}


class BenchmarkFileError(DataError):
    """A benchmark file is malformed; the message starts with the file and names the key at fault."""


@dataclass(frozen=True)
class DataSpec:
    """Where a file benchmark's rows come from (see the module docstring, `[data]`)."""

    path: Path | None = None
    data_dir_path: str | None = None
    hub: str | None = None
    hub_config: str | None = None
    split: str = "test"
    format: str | None = None

    def describe(self) -> str:
        return self.hub or self.data_dir_path or str(self.path)


@dataclass(frozen=True)
class BreakdownField:
    field: str
    pattern: re.Pattern[str] | None = None

    def label(self, value: Any) -> str:
        text = str(value)
        if self.pattern is None:
            return text
        m = self.pattern.search(text)
        if m is None:
            return "other"
        return m.group(1) if m.groups() else m.group()


@dataclass(frozen=True)
class FieldMap:
    question: str
    answer: str | None = None
    id: str | None = None
    solution: str | None = None
    entry_point: str | None = None
    tests: str | None = None
    code_prompt: str | None = None
    breakdown: dict[str, BreakdownField] = field(default_factory=dict)


@dataclass(frozen=True)
class PromptSpec:
    chat: str | None = None
    completion: str | None = None
    exemplar: str | None = None
    stop: tuple[str, ...] | None = None


@dataclass(frozen=True)
class BenchmarkSpec:
    """A validated benchmark file."""

    path: Path
    name: str
    description: str
    data: DataSpec
    fields: FieldMap
    grader: str = "math"
    policy: Mapping[str, Any] = field(default_factory=dict)
    timeout_s: float = 1.0
    test_template: str = "{{tests}}"
    prompt: PromptSpec = field(default_factory=PromptSpec)
    fewshot: DataSpec | None = None

    @property
    def task(self) -> str:
        return "code" if self.grader == "code" else "math"


# ----------------------------------------------------------------------------- reading and validating


def read_spec(path: Path, *, expected_name: str | None = None) -> BenchmarkSpec:
    """Parse and validate a benchmark file; BenchmarkFileError (one line) for anything wrong."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise BenchmarkFileError(f"benchmark file not found: {path}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchmarkFileError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BenchmarkFileError(f"{path}: not valid TOML: {exc}") from None
    return _Reader(path).spec(raw, expected_name)


class _Reader:
    """Validation of one file; every error names the file and the dotted key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, key: str, problem: str) -> BenchmarkFileError:
        return BenchmarkFileError(f"{self.path}: {key}: {problem}")

    def table(self, raw: Any, key: str) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise self.error(key, f"must be a table ([{key}]), got {type(raw).__name__}")
        known = _KEYS.get(key, ())
        for k in raw:
            if k not in known:
                dotted = f"{key}.{k}" if key else k
                raise self.error(dotted, f"unknown key; known keys{' of [' + key + ']' if key else ''}: "
                                         f"{', '.join(known)}")
        return raw

    def string(self, raw: dict[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
        value = raw.get(key)
        dotted = f"{where}.{key}" if where else key
        if value is None:
            if required:
                raise self.error(dotted, "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(dotted, f"must be a non-empty string, got {value!r}")
        return value

    def template(self, raw: dict[str, Any], key: str, where: str) -> str | None:
        """A prompt template: `{{name}}` placeholders are filled per row, all other text is literal."""
        return self.string(raw, key, where)

    def spec(self, raw: dict[str, Any], expected_name: str | None) -> BenchmarkSpec:
        self.table(raw, "")
        name = self.string(raw, "name", "") or self.path.stem
        if not NAME.match(name):
            raise self.error("name", f"{name!r} is not a benchmark name (letters, digits, '_', '.', '-')")
        if expected_name is not None and name != expected_name:
            raise self.error("name", f"{name!r} differs from the file name {self.path.name!r}; make them agree")
        if "data" not in raw:
            raise self.error("data", "is required: say where the problems are ([data] path, data_dir_path or hub)")
        if "fields" not in raw:
            raise self.error("fields", "is required: at least [fields] question = ... and answer = ...")
        grader = self.table(raw.get("grader", {}), "grader")
        grader_name = self.string(grader, "name", "grader") or "math"
        self.check_grader(grader_name, grader)
        fields_ = self.fields(raw["fields"], grader_name)
        prompt_raw = self.table(raw.get("prompt", {}), "prompt")
        stop = prompt_raw.get("stop")
        if stop is not None and (not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop)):
            raise self.error("prompt.stop", f"must be a list of non-empty strings, got {stop!r}")
        prompt = PromptSpec(chat=self.template(prompt_raw, "chat", "prompt"),
                            completion=self.template(prompt_raw, "completion", "prompt"),
                            exemplar=self.template(prompt_raw, "exemplar", "prompt"),
                            stop=tuple(stop) if stop is not None else None)
        timeout = grader.get("timeout_s", 1.0)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 600:
            raise self.error("grader.timeout_s", f"must be a number of seconds in (0, 600], got {timeout!r}")
        description = self.string(raw, "description", "") or f"benchmark file {self.path.name}"
        return BenchmarkSpec(
            path=self.path.resolve(), name=name, description=description, data=self.data(raw["data"], "data"),
            fields=fields_, grader=grader_name, policy=dict(grader.get("policy", {})), timeout_s=float(timeout),
            test_template=self.template(grader, "test_template", "grader") or "{{tests}}", prompt=prompt,
            fewshot=self.data(raw["fewshot"], "fewshot") if "fewshot" in raw else None,
        )

    def check_grader(self, name: str, grader: dict[str, Any]) -> None:
        from graders.protocol import GRADERS

        if name not in GRADERS:
            raise self.error("grader.name", GRADERS.unknown_message(name))
        if "policy" in grader:
            if name != "math":
                raise self.error("grader.policy", f"only the math grader takes policy options (grader is {name!r})")
            policy = grader["policy"]
            if not isinstance(policy, dict):
                raise self.error("grader.policy", "must be a table of graders.policy.GradingPolicy options")
            from graders.policy import GradingPolicy

            try:
                GradingPolicy.from_options(policy)
            except (TypeError, ValueError) as exc:
                raise self.error("grader.policy", str(exc)) from None
        if "timeout_s" in grader and name not in ("math", "gsm8k"):
            raise self.error("grader.timeout_s", f"only the math and gsm8k graders take a timeout (grader is {name!r})")
        if "test_template" in grader and name != "code":
            raise self.error("grader.test_template", f"only the code grader runs tests (grader is {name!r})")

    def fields(self, raw: Any, grader: str) -> FieldMap:
        raw = self.table(raw, "fields")
        names = {k: self.string(raw, k, "fields") for k in _KEYS["fields"] if k != "breakdown"}
        if names["question"] is None:
            raise self.error("fields.question", "is required: the field that holds the problem text")
        if grader == "code":
            for key in ("entry_point", "tests"):
                if names[key] is None:
                    raise self.error(f"fields.{key}", "is required by the code grader")
        else:
            if names["answer"] is None:
                raise self.error("fields.answer", f"is required by the {grader} grader: the field that holds the gold")
            for key in ("entry_point", "tests", "code_prompt"):
                if names[key] is not None:
                    raise self.error(f"fields.{key}", f"is for the code grader only (grader is {grader!r})")
        breakdown_raw = raw.get("breakdown", {})
        if not isinstance(breakdown_raw, dict):
            raise self.error("fields.breakdown", "must be a table: label = \"field\" or label = {field, pattern}")
        breakdown: dict[str, BreakdownField] = {}
        for label, spec in breakdown_raw.items():
            key = f"fields.breakdown.{label}"
            if isinstance(spec, str) and spec:
                breakdown[label] = BreakdownField(spec)
                continue
            if not isinstance(spec, dict):
                raise self.error(key, f"must be a field name or {{ field = ..., pattern = ... }}, got {spec!r}")
            unknown = sorted(set(spec) - {"field", "pattern"})
            if unknown:
                raise self.error(f"{key}.{unknown[0]}", "unknown key; known keys: field, pattern")
            source_field = self.string(spec, "field", key, required=True)
            pattern = self.string(spec, "pattern", key)
            try:
                compiled = re.compile(pattern) if pattern else None
            except re.error as exc:
                raise self.error(f"{key}.pattern", f"not a regular expression: {exc}") from None
            breakdown[label] = BreakdownField(str(source_field), compiled)
        return FieldMap(breakdown=breakdown, **{k: v for k, v in names.items() if v is not None})  # type: ignore[arg-type]

    def data(self, raw: Any, key: str) -> DataSpec:
        raw = self.table(raw, key)
        values = {k: self.string(raw, k, key) for k in _DATA_KEYS}
        if values["path"] and values["data_dir_path"]:
            raise self.error(f"{key}.path", "give either path (a local file) or data_dir_path (under --data-dir)")
        if not (values["path"] or values["data_dir_path"] or values["hub"]):
            raise self.error(key, "needs path (a local file), data_dir_path (under --data-dir) or hub (a dataset id)")
        fmt = values["format"]
        if fmt is not None and fmt not in TABLE_FORMATS:
            raise self.error(f"{key}.format", f"{fmt!r} is not one of {', '.join(TABLE_FORMATS)}")
        path = None
        if values["path"]:
            path = Path(values["path"]).expanduser()
            path = path if path.is_absolute() else self.path.parent / path
        for local, name in ((path, "path"), (values["data_dir_path"], "data_dir_path")):
            if local is not None and fmt is None and table_format(Path(local)) is None:
                raise self.error(f"{key}.{name}", f"cannot tell the format of {Path(local).name!r} from its name; "
                                                  f"set {key}.format to one of {', '.join(TABLE_FORMATS)}")
        return DataSpec(path=path, data_dir_path=values["data_dir_path"], hub=values["hub"],
                        hub_config=values["hub_config"], split=values["split"] or "test", format=fmt)


# ----------------------------------------------------------------------------- rows -> problems


def _gold_text(value: Any) -> str:
    """An answer as a gold string: numbers as written (`27.0` is `27`), lists joined by commas."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(_gold_text(v) for v in value)
    return str(value).strip()


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "\n".join(str(v) for v in value)
    return _gold_text(value) if isinstance(value, (int, float)) else str(value)


def render(template: str, values: Mapping[str, str], row: Mapping[str, Any], where: str) -> str:
    """`{{name}}` placeholders filled from the mapped `values`, then the row's own fields."""
    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in values:
            return values[name]
        if row.get(name) is not None:
            return _text(row[name])
        raise DataError(f"{where} uses {{{{{name}}}}}, which the row does not have")

    return _PLACEHOLDER.sub(fill, template)


@dataclass(frozen=True)
class _Defaults:
    """What a grader's benchmarks look like when the file does not say."""

    chat: str
    completion: str
    exemplar: str
    stop: tuple[str, ...]


_MATH = _Defaults("{{question}}\n" + BOXED_INSTRUCTION, "Problem: {{question}}\nSolution:",
                  "Problem: {{question}}\nSolution: {{solution}}\n\n", ("Problem:", "\n\n\n\n"))
_GSM8K = _Defaults("{{question}}\n" + BOXED_INSTRUCTION, "Question: {{question}}\nAnswer:",
                   "Question: {{question}}\nAnswer: {{solution}}\n\n", ("Question:", "\n\n\n"))


def _code_defaults() -> _Defaults:
    from benchmarks.code import CHAT_INSTRUCTION
    from graders.code import STOP_SEQUENCES

    return _Defaults(CHAT_INSTRUCTION.replace("{prompt}", "{{question}}"), "{{code_prompt}}",
                     "{{code_prompt}}{{solution}}\n\n", tuple(STOP_SEQUENCES))


def defaults(spec: BenchmarkSpec) -> _Defaults:
    if spec.grader == "code":
        return _code_defaults()
    return _GSM8K if spec.grader == "gsm8k" else _MATH


class _FileRows:
    """Loading a file benchmark's rows and turning them into problems."""

    def __init__(self, spec: BenchmarkSpec) -> None:
        self.spec = spec

    def rows(self, data: DataSpec, source: DataSource, what: str) -> tuple[list[dict[str, Any]], str]:
        spec = self.spec
        try:
            local: Path | None = data.path
            if local is None and data.data_dir_path is not None and source.data_dir is not None:
                local = source.data_dir / data.data_dir_path
            if local is not None:
                fmt = data.format or table_format(local) or "jsonl"
                return read_table(local, fmt), str(local)
            if data.hub is not None:
                hint = data.data_dir_path or "the file"
                return list(load_hub(data.hub, data.hub_config, data.split, benchmark=spec.name,
                                     local_hint=hint)), f"hub {data.hub}"
        except DataError as exc:
            raise DataError(f"{spec.path}: {what}: {exc}") from None
        raise DataError(f"{spec.path}: {what}.data_dir_path: {spec.name} reads {data.data_dir_path} under the "
                        f"data directory; {DATA_DIR_HINT}")

    def problems(self, rows: Sequence[dict[str, Any]], where: str) -> list[Problem]:
        spec, fm = self.spec, self.spec.fields
        d = defaults(spec)
        chat = spec.prompt.chat or d.chat
        completion = spec.prompt.completion or (d.completion if fm.code_prompt or spec.grader != "code"
                                                else "{{question}}")
        exemplar = spec.prompt.exemplar or d.exemplar
        problems, seen = [], set()
        for i, row in enumerate(rows):
            at = f"{spec.path}: {where} row {i + 1}"

            def get(key: str | None, *, required: bool = True, row: dict[str, Any] = row, at: str = at) -> Any:
                if key is None:
                    return None
                if row.get(key) is None or (isinstance(row.get(key), str) and not row[key].strip()):
                    if required:
                        raise DataError(f"{at}: missing field {key!r}")
                    return None
                return row[key]

            pid = _gold_text(get(fm.id)) if fm.id else str(i)
            if pid in seen:
                raise DataError(f"{at}: id {pid!r} appears twice (field {fm.id!r})")
            seen.add(pid)
            question = _text(get(fm.question))
            gold = _gold_text(get(fm.answer)) if fm.answer else ""
            solution = _text(get(fm.solution, required=False) or "") if fm.solution else ""
            values = {"question": question, "answer": gold, "id": pid}
            metadata: dict[str, Any] = {}
            if spec.grader == "code":
                values.update(entry_point=_text(get(fm.entry_point)), tests=_text(get(fm.tests)),
                              code_prompt=_text(get(fm.code_prompt) or "") if fm.code_prompt else "")
                values["solution"] = solution or gold
                metadata.update(entry_point=values["entry_point"], code_prompt=values["code_prompt"],
                                context=values["code_prompt"],
                                test=render(spec.test_template, values, row, f"{at}: grader.test_template"))
                worked = f"```python\n{(solution or gold).strip()}\n```"
            else:
                values["solution"] = solution or f"The final answer is $\\boxed{{{gold}}}$."
                worked = values["solution"]
            for label, bf in fm.breakdown.items():
                value = get(bf.field, required=bf.pattern is None)
                metadata[label] = bf.label(value) if value is not None else "other"
            metadata.update(
                solution=solution, worked_solution=worked,
                chat_prompt=render(chat, values, row, f"{at}: prompt.chat"),
                completion_text=render(completion, values, row, f"{at}: prompt.completion"),
                exemplar_text=render(exemplar, values, row, f"{at}: prompt.exemplar"),
            )
            problems.append(Problem(id=pid, question=question, gold=gold, metadata=metadata))
        return problems


class _FileMixin:
    """What every file benchmark does, whatever its grader (the class of each file sets `spec`)."""

    spec: BenchmarkSpec

    def load(self, source: DataSource) -> list[Problem]:
        reader = _FileRows(self.spec)
        rows, _ = reader.rows(self.spec.data, source, "data")
        return reader.problems(rows, "data")

    def fewshot_pool(self, source: DataSource) -> list[Problem]:
        if self.spec.fewshot is None:
            return []
        reader = _FileRows(self.spec)
        rows, _ = reader.rows(self.spec.fewshot, source, "fewshot")
        return reader.problems(rows, "fewshot")

    def chat_instruction(self, problem: Problem) -> str:
        return str(problem.metadata["chat_prompt"])

    def completion_prompt(self, problem: Problem, shots: Sequence[Problem]) -> str:
        return "".join(str(s.metadata["exemplar_text"]) for s in shots) + str(problem.metadata["completion_text"])

    def worked_solution(self, problem: Problem) -> str:
        return str(problem.metadata["worked_solution"])

    def breakdown_keys(self) -> tuple[str, ...]:
        return tuple(self.spec.fields.breakdown)


def benchmark_class(spec: BenchmarkSpec) -> type[Benchmark]:
    """The Benchmark subclass a validated file describes."""
    attrs: dict[str, Any] = {
        "name": spec.name, "description": spec.description, "spec": spec, "hub_dataset": spec.data.hub or "",
        "completion_stop": spec.prompt.stop if spec.prompt.stop is not None else defaults(spec).stop,
        "__module__": __name__, "__doc__": f"The benchmark described by {spec.path}.",
    }
    if spec.grader == "code":
        from benchmarks.code import CodeBenchmark

        base: type[Benchmark] = CodeBenchmark
    else:
        from benchmarks.math_bench import MathBenchmark
        from graders.protocol import GRADERS

        base = MathBenchmark
        grader_class = GRADERS.get(spec.grader)
        if spec.grader == "math":
            from graders.policy import GradingPolicy

            policy = GradingPolicy.from_options(dict(spec.policy))
            attrs["grader"] = grader_class(timeout_s=spec.timeout_s, policy=policy)
        elif spec.grader == "gsm8k":
            attrs["grader"] = grader_class(timeout_s=spec.timeout_s)
        else:
            attrs["grader"] = grader_class()
    class_name = "File_" + re.sub(r"\W", "_", spec.name)
    return type(class_name, (_FileMixin, base), attrs)


def load_benchmark_file(path: Path, *, expected_name: str | None = None) -> type[Benchmark]:
    """Read, validate and build the benchmark of a TOML file."""
    return benchmark_class(read_spec(path, expected_name=expected_name))
