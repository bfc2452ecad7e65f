"""The reward functions behind `graders.rewards` (read that module's docstring first).

They live here, not in `graders/rewards.py`, because trainers also load that file by path under
module names of their own (verl's `custom_module_<hash>`, OpenRLHF's `reward_func`), which are not
importable in other processes; defined in this module, every reward pickles by reference to
`graders.reward_functions` however `graders/rewards.py` was loaded.
"""

from __future__ import annotations

import asyncio
import math
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from functools import partial
from typing import Any

from graders.errors import GraderUnavailable
from graders.extract import answer_region, boxes
from graders.protocol import GRADERS, Reference
from graders.registry import RegistryError
from graders.verdict import Verdict

#: The graders data sources route to, by their names in `graders.protocol.GRADERS`; `task=` may name any
#: registered grader (answer graders take `Reference`s; "code" takes the test cases of `graders.code_cases`).
TASKS = ("gsm8k", "math", "code")
#: Dataset columns the TRL adapter reads the gold from, first present wins: evalkit's `gold`,
#: MATH-500 `answer`, MATH `solution`, GSM8K `answer` (with `#### N`), verl-style `ground_truth`.
GOLD_COLUMNS = ("gold", "answer", "solution", "ground_truth")
#: Dataset columns holding the problem text (for the restatement rule); else the prompt is used.
QUESTION_COLUMNS = ("question", "problem")
#: verl `data_source` names (and evalkit benchmark names) by the grader that scores them; the
#: verl names are those of verl's own `default_compute_score`.
DATA_SOURCES: dict[str, str] = {
    **dict.fromkeys(("openai/gsm8k", "gsm8k"), "gsm8k"),
    **dict.fromkeys(("lighteval/MATH", "DigitalLearningGmbH/MATH-lighteval", "HuggingFaceH4/MATH-500", "math",
                     "math500", "math_dapo", "math_dapo_reasoning", "numina_aops_forum", "numina_synthetic_math",
                     "numina_amc_aime", "numina_synthetic_amc", "numina_cn_k12", "numina_olympiads", "amc2023",
                     "olympiadbench", "minerva_math"), "math"),
    **dict.fromkeys(("codecontests", "apps", "codeforces", "taco", "humaneval", "mbpp"), "code"),
}
_DATA_SOURCE_KEYS = {name.lower(): grader for name, grader in DATA_SOURCES.items()}
#: Name prefixes routed like verl routes them (`aime24`, `aime_2025`, `aime2024` ...).
DATA_SOURCE_PREFIXES = {"aime": "math"}
#: Keyword arguments verl itself adds to a reward call (reward-loop managers with a reward router);
#: accepted and not used.
VERL_CALL_KEYWORDS = ("reward_router_address", "reward_model_tokenizer")
_TRAILING_SPECIAL = re.compile(r"(?:\s*(?:<\|[^<>|\s]{1,40}\|>|</s>|<eos>|<pad>|<\uff5c[^<>\uff5c]{1,40}\uff5c>))+\s*$")


class RewardSetupError(BaseException):
    """A reward cannot be computed at all: an unknown option or data source, a missing gold, a grader
    worker that cannot start. Never a score; the message is one line saying what to fix.

    A BaseException on purpose: verl's prime manager and OpenRLHF call reward functions inside
    `except Exception` blocks that turn any failure into a 0 (or no reward) while training goes on and
    learns nothing; this error passes through them and stops the run.
    """

    exit_code = 2


# -- settings --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RewardSettings:
    """What a reward call may be told (verl's `reward_kwargs`, the adapters' keywords).

    `task`: grade every item with this grader ("math", "gsm8k", "code") whatever its data source.
    `timeout_s`: per-item grading limit; None means the grader's own (1 s for the math slow path, 10 s
    for a code problem's test run). `format_bonus`: added when the completion closes its reasoning and
    boxes an answer (`format_reward`). `wrong_reward`: the reward of a wrong answer (0.0; DAPO uses -1.0).
    `return_dict`: verl only, return `{"score", "acc", "pred"}` so that verl logs accuracy and the
    extracted answer beside the score (not for verl's prime manager, which keeps numbers only).
    """

    task: str | None = None
    timeout_s: float | None = None
    format_bonus: float = 0.0
    wrong_reward: float = 0.0
    return_dict: bool = False

    def __post_init__(self) -> None:
        if self.task is not None and (not isinstance(self.task, str) or self.task not in GRADERS):
            raise RewardSetupError(f"reward option task={self.task!r} is not a grader: "
                                   f"{GRADERS.unknown_message(str(self.task))}")
        for name in ("timeout_s", "format_bonus", "wrong_reward"):
            value = getattr(self, name)
            if value is None and name == "timeout_s":
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise RewardSetupError(f"reward option {name}={value!r} must be a finite number")
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise RewardSetupError(f"reward option timeout_s={self.timeout_s!r} must be positive (seconds per item)")
        if not isinstance(self.return_dict, bool):
            raise RewardSetupError(f"reward option return_dict={self.return_dict!r} must be true or false")

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, ignored: Iterable[str] = ()) -> RewardSettings:
        """Settings from keyword options; an unknown key raises (a misspelt option is never dropped)."""
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(options) - set(known) - set(ignored))
        if unknown:
            raise RewardSetupError(f"unknown reward option(s) {', '.join(unknown)}; evalkit's rewards take "
                                   f"{', '.join(known)}")
        return cls(**{k: v for k, v in options.items() if k in known})

    def score(self, verdict: Verdict, completion: str) -> float:
        """The reward of one verdict: 1.0 or `wrong_reward`, plus `format_bonus` for a well-formed completion."""
        value = 1.0 if earns_reward(verdict) else float(self.wrong_reward)
        if self.format_bonus:
            value += self.format_bonus * format_reward(completion)
        return value


def earns_reward(verdict: Verdict) -> bool:
    """A correct verdict the sample could not have forged (`Verdict.reward`: a weak code pass earns nothing)."""
    return verdict.reward > 0


# -- grading ---------------------------------------------------------------------------------------


def grader_for(data_source: Any, task: str | None = None) -> str:
    """The grader ("math", "gsm8k", "code") for a verl `data_source`; `task` overrides the name."""
    if task is not None:
        return task
    name = str(data_source).strip()
    key = name.lower()
    if key in _DATA_SOURCE_KEYS:
        return _DATA_SOURCE_KEYS[key]
    for prefix, grader in DATA_SOURCE_PREFIXES.items():
        if key.startswith(prefix):
            return grader
    raise RewardSetupError(f"unknown data_source {name!r}: evalkit's rewards know {', '.join(DATA_SOURCES)} "
                           f"and names starting with {', '.join(DATA_SOURCE_PREFIXES)}; set the reward option "
                           f"task=math, gsm8k or code to grade it with one of those graders")


def accepted_answers(ground_truth: Any) -> list[str]:
    """Every accepted answer in a gold: a string, a number, or a list / tuple / numpy array / pandas
    value of them (verl and pandas read a parquet list column back as a numpy array)."""
    answers = list(_answers(ground_truth))
    if not answers:
        raise RewardSetupError("ground_truth is empty: the row has no gold answer (check the dataset's "
                               "reward_model.ground_truth / answer column)")
    return answers


def _answers(value: Any) -> Iterable[str]:
    if value is None:
        raise RewardSetupError("ground_truth is None: the row has no gold answer (check the dataset's "
                               "reward_model.ground_truth / answer column)")
    if isinstance(value, bytes):
        yield value.decode()
    elif isinstance(value, str):
        yield value
    elif isinstance(value, bool):
        raise RewardSetupError(f"ground_truth {value!r} is not an answer")
    elif isinstance(value, numbers.Number):
        if isinstance(value, numbers.Real) and not math.isfinite(value):
            raise RewardSetupError(f"ground_truth is {value!r}: a missing value, not an answer")
        if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral) and float(value).is_integer():
            yield str(int(float(value)))  # 72.0 read from a float column is the answer 72
        else:
            yield str(value)
    elif isinstance(value, Mapping):
        raise RewardSetupError(f"ground_truth is a mapping (keys {', '.join(sorted(map(str, value)))}); math and "
                               "GSM8K rewards take an answer or a list of accepted answers")
    elif hasattr(value, "tolist"):  # numpy arrays and scalars, pandas values
        yield from _answers(value.tolist())
    elif isinstance(value, Iterable):
        for item in value:
            yield from _answers(item)
    else:
        raise RewardSetupError(f"ground_truth of type {type(value).__name__} is not an answer")


@dataclass(frozen=True)
class RewardItem:
    """One completion to grade: its grader, the accepted golds (code: the test cases) and the question."""

    grader: str
    completion: str
    ground_truth: Any
    question: str | None = None


def grade_items(items: Sequence[RewardItem], settings: RewardSettings) -> list[Verdict]:
    """The verdict on each item: correct when any accepted gold is matched. One batch per grader, each
    grader taken from the registry (`graders.protocol.GRADERS`)."""
    verdicts: list[Verdict | None] = [None] * len(items)
    for name in dict.fromkeys(item.grader for item in items):
        chosen = [i for i, item in enumerate(items) if item.grader == name]
        grade = _grade_code if name == "code" else partial(_grade_answers, name)
        try:
            found = grade([items[i] for i in chosen], settings)
        except (GraderUnavailable, RegistryError) as exc:
            raise RewardSetupError(str(exc).splitlines()[0]) from exc
        for i, verdict in zip(chosen, found, strict=True):
            verdicts[i] = verdict
    return [v for v in verdicts if v is not None]


def _grader(name: str, settings: RewardSettings, **options: Any) -> Any:
    """The registered grader `name`, made with the reward's timeout when one is set."""
    cls = GRADERS.get(name)
    if settings.timeout_s is not None:
        options["timeout_s"] = settings.timeout_s
    try:
        return cls(**options)
    except TypeError as exc:
        raise RewardSetupError(f"grader {name!r} cannot be made with {', '.join(options) or 'no options'}: {exc}") \
            from None


def _grade_answers(name: str, items: Sequence[RewardItem], settings: RewardSettings) -> list[Verdict]:
    """Answer graders: every (completion, accepted gold) pair in one batch; the first matched gold wins."""
    spans: list[tuple[int, int]] = []
    completions: list[str] = []
    references: list[Reference] = []
    for item in items:
        answers = accepted_answers(item.ground_truth)
        spans.append((len(references), len(answers)))
        completions += [item.completion] * len(answers)
        references += [Reference(answer, item.question) for answer in answers]
    found = _grader(name, settings).grade_batch(completions, references)
    return [_best(found[start:start + n]) for start, n in spans]


def _best(verdicts: Sequence[Verdict]) -> Verdict:
    return next((v for v in verdicts if earns_reward(v)), verdicts[0])


def _grade_code(items: Sequence[RewardItem], settings: RewardSettings) -> list[Verdict]:
    """Code problems (verl / PRIME test cases, or a script test) through the registered code grader."""
    from graders import code_cases

    problems = []
    for item in items:
        try:
            problems.append(code_cases.parse_cases(item.ground_truth))
        except ValueError as exc:
            raise RewardSetupError(str(exc)) from None
    timeout = settings.timeout_s if settings.timeout_s is not None else code_cases.DEFAULT_TIMEOUT_S
    tasks = [code_cases.code_task(p, timeout_s=timeout) for p in problems]
    candidates = [code_cases.candidate(item.completion, p) for item, p in zip(items, problems, strict=True)]
    grader = GRADERS.get("code")()
    try:
        verdicts = grader.grade_batch(candidates, tasks)
    except Exception as exc:  # the sandbox cannot run at all (no isolation available, a worker that cannot start)
        raise RewardSetupError(f"the code sandbox cannot grade: {type(exc).__name__}: {exc}".splitlines()[0]) \
            from exc
    # A stdin program is graded inside its wrapper; report the program itself as what was extracted.
    return [replace(v, extracted=code_cases.program_text(item.completion) or None) if p.kind == "stdio" else v
            for v, item, p in zip(verdicts, items, problems, strict=True)]


# -- evalkit's trainer -----------------------------------------------------------------------------


def correctness_reward(completion: str, gold: str, *, task: str, question: str | None = None,
                       timeout_s: float = 1.0) -> float:
    """1.0 when the completion's final answer is the gold answer, else 0.0 (`question`: the problem
    text, so that restating it earns nothing; see `graders.math`)."""
    return correctness_rewards([completion], [gold], task=task, questions=[question], timeout_s=timeout_s)[0]


def correctness_rewards(completions: Sequence[str], golds: Sequence[str], *, task: str,
                        questions: Sequence[str | None] | None = None, timeout_s: float = 1.0) -> list[float]:
    """Batch form (one GRPO group or a whole step): golds and repeated answers are parsed once.

    A grader that cannot run raises `graders.GraderUnavailable` (the CLI prints it and exits 2).
    """
    if task not in ("math", "gsm8k"):
        raise ValueError(f"unknown reward task {task!r}; use one of math, gsm8k")
    questions = list(questions) if questions is not None else [None] * len(golds)
    references = [Reference(g, q) for g, q in zip(golds, questions, strict=True)]
    return [v.reward for v in GRADERS.get(task)(timeout_s=timeout_s).grade_batch(list(completions), references)]


def format_reward(completion: str) -> float:
    """1.0 when any `<think>` block is closed and a `\\boxed{}` answer follows it, else 0.0."""
    region = answer_region(completion)
    return 1.0 if region is not None and boxes(region) else 0.0


# -- TRL -------------------------------------------------------------------------------------------


def completion_text(completion: Any) -> str:
    """The text of a TRL completion: a string, or chat messages whose last assistant turn counts."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    if isinstance(completion, Sequence):
        for message in reversed(completion):
            if isinstance(message, dict) and message.get("role", "assistant") == "assistant":
                return _content_text(message.get("content", ""))
        return ""
    raise TypeError(f"completion must be a string or chat messages, got {type(completion).__name__}")


def prompt_text(prompt: Any) -> str | None:
    """The problem text of a TRL prompt: a string, or the last user turn of chat messages."""
    if prompt is None or isinstance(prompt, str):
        return prompt
    if isinstance(prompt, Sequence):
        for message in reversed(prompt):
            if isinstance(message, dict) and message.get("role") == "user":
                return _content_text(message.get("content", ""))
    return None


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):  # multimodal parts: [{"type": "text", "text": ...}, ...]
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type", "text") == "text")
    return str(content)


#: Keyword arguments TRL passes that are not dataset columns.
TRL_KEYWORDS = ("trainer_state", "log_extra", "log_metric", "environments")


@dataclass(frozen=True)
class TRLReward:
    """A TRL reward function: `(prompts, completions, completion_ids, **dataset_columns) -> list[float]`.

    The gold comes from `gold_column`, else the first of `GOLD_COLUMNS` the dataset has; the question
    from a `question` / `problem` column, else the prompt. TRL names the logged reward after
    `__name__`: `rewards/<task>_correctness/mean` unless `name` is given. With TRL's `log_extra` the
    extracted answer and the grader's reason are columns `<name>/answer` and `<name>/reason` of the
    completions table; with `log_metric`, `rewards/<name>/accuracy` (the share of correct answers,
    which differs from the mean reward once `format_bonus` or `wrong_reward` is set) and
    `rewards/<name>/no_answer` are logged each step.
    """

    task: str = "math"
    gold_column: str | None = None
    name: str | None = None
    timeout_s: float | None = None
    format_bonus: float = 0.0
    wrong_reward: float = 0.0

    def __post_init__(self) -> None:
        self.settings()  # a bad option raises when the reward is made, not at the first training step

    @property
    def __name__(self) -> str:  # TRL names the reward's metrics after it
        return self.name or f"{self.task}_correctness"

    def settings(self) -> RewardSettings:
        return RewardSettings(task=self.task, timeout_s=self.timeout_s, format_bonus=self.format_bonus,
                              wrong_reward=self.wrong_reward)

    def __call__(self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] = (),
                 completion_ids: Sequence[Any] | None = None, **kwargs: Any) -> list[float]:
        log_extra, log_metric = kwargs.get("log_extra"), kwargs.get("log_metric")
        columns = {k: v for k, v in kwargs.items() if k not in TRL_KEYWORDS}
        column = self.gold_column or next((c for c in GOLD_COLUMNS if c in columns), None)
        if column is None or column not in columns:
            wanted = self.gold_column or " / ".join(GOLD_COLUMNS)
            raise RewardSetupError(f"{self.__name__} needs the gold answer in a dataset column ({wanted}); got "
                                   f"columns: {', '.join(sorted(columns)) or 'none'}")
        golds = list(columns[column])
        if len(golds) != len(completions):
            raise RewardSetupError(f"{len(completions)} completions but {len(golds)} values in column {column!r}")
        question_column = next((c for c in QUESTION_COLUMNS if c in columns), None)
        questions = [None if q is None else str(q) for q in columns[question_column]] if question_column else \
            [prompt_text(p) for p in (prompts if prompts is not None else [None] * len(golds))]
        texts = [completion_text(c) for c in completions]
        settings = self.settings()
        items = [RewardItem(self.task, text, gold, question)
                 for text, gold, question in zip(texts, golds, questions, strict=True)]
        verdicts = grade_items(items, settings)
        if callable(log_extra):
            log_extra(f"{self.__name__}/answer", [v.extracted for v in verdicts])
            log_extra(f"{self.__name__}/reason", [v.reason for v in verdicts])
        if callable(log_metric) and verdicts:
            log_metric(f"rewards/{self.__name__}/accuracy", sum(map(earns_reward, verdicts)) / len(verdicts))
            log_metric(f"rewards/{self.__name__}/no_answer",
                       sum(v.extracted is None for v in verdicts) / len(verdicts))
        return [settings.score(v, text) for v, text in zip(verdicts, texts, strict=True)]


@dataclass(frozen=True)
class AsyncTRLReward(TRLReward):
    """`TRLReward` as a coroutine, for async reward loops (TRL gathers async rewards concurrently and
    `trl.experimental.async_grpo` awaits them); grading runs in a thread, never on the event loop."""

    async def __call__(self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] = (),  # type: ignore[override]
                       completion_ids: Sequence[Any] | None = None, **kwargs: Any) -> list[float]:
        return await asyncio.to_thread(TRLReward.__call__, self, prompts, completions, completion_ids, **kwargs)


def trl_reward(task: str = "math", *, gold_column: str | None = None, timeout_s: float | None = None,
               format_bonus: float = 0.0, wrong_reward: float = 0.0, name: str | None = None) -> TRLReward:
    """A TRL reward function for `task` (see `TRLReward`)."""
    return TRLReward(task=task, gold_column=gold_column, name=name, timeout_s=timeout_s, format_bonus=format_bonus,
                     wrong_reward=wrong_reward)


math_reward = TRLReward("math")
gsm8k_reward = TRLReward("gsm8k")
async_math_reward = AsyncTRLReward("math")
async_gsm8k_reward = AsyncTRLReward("gsm8k")


# -- verl ------------------------------------------------------------------------------------------


def task_for_data_source(data_source: str) -> str:
    """The grader of a verl `data_source` (see `DATA_SOURCES`); unknown names raise RewardSetupError."""
    return grader_for(data_source)


def compute_score(data_source: Any, solution_str: str, ground_truth: Any, extra_info: Mapping[str, Any] | None = None,
                  **reward_kwargs: Any) -> float | dict[str, Any]:
    """verl's reward function: the score of one response (naive, dapo, prime and reward-loop managers).

    `ground_truth` is the gold answer or a list / array of accepted answers (code: the test cases);
    `extra_info["question"]` (verl's GSM8K preprocessing stores it) enables the restatement rule.
    `reward_kwargs` are `RewardSettings` options; unknown ones raise.
    """
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info], **reward_kwargs)[0]


def compute_score_batch(data_sources: Sequence[Any], solution_strs: Sequence[str], ground_truths: Sequence[Any],
                        extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
                        **reward_kwargs: Any) -> list[float | dict[str, Any]]:
    """verl's batch reward function (`reward_manager=batch`): one score per response, graded in one batch."""
    settings = RewardSettings.from_options(reward_kwargs, ignored=VERL_CALL_KEYWORDS)
    n = len(solution_strs)
    if len(data_sources) != n or len(ground_truths) != n or (extra_infos is not None and len(extra_infos) != n):
        raise RewardSetupError(f"compute_score_batch got {len(data_sources)} data sources, {n} responses, "
                               f"{len(ground_truths)} ground truths and "
                               f"{'no' if extra_infos is None else len(extra_infos)} extra infos")
    infos = list(extra_infos) if extra_infos is not None else [None] * n
    items = [RewardItem(grader_for(source, settings.task), str(text), gold, _question(info))
             for source, text, gold, info in zip(data_sources, solution_strs, ground_truths, infos, strict=True)]
    verdicts = grade_items(items, settings)
    scores = [settings.score(v, item.completion) for v, item in zip(verdicts, items, strict=True)]
    if not settings.return_dict:
        return list(scores)
    return [{"score": s, "acc": earns_reward(v), "pred": v.extracted or ""}
            for s, v in zip(scores, verdicts, strict=True)]


def _question(extra_info: Any) -> str | None:
    if isinstance(extra_info, Mapping):
        for key in QUESTION_COLUMNS:
            value = extra_info.get(key)
            if isinstance(value, str) and value:
                return value
    return None


# -- OpenRLHF --------------------------------------------------------------------------------------


def response_text(query: str, prompt: str) -> str:
    """The response inside an OpenRLHF query (prompt + response, decoded with special tokens): the
    text after the prompt, without the end-of-sequence / padding tokens that close it."""
    if prompt and query.startswith(prompt):
        response = query[len(prompt):]
    else:  # the prompt's token round trip changed its spelling: cut where the two texts part
        common = 0
        for a, b in zip(query, prompt or "", strict=False):
            if a != b:
                break
            common += 1
        response = query[common:] if prompt and common >= 0.9 * len(prompt) else query
    return _TRAILING_SPECIAL.sub("", response)


@dataclass(frozen=True)
class OpenRLHFReward:
    """OpenRLHF's custom reward function: `reward_func(queries, prompts, labels)` -> rewards, scores, logs.

    OpenRLHF loads `reward_func` from the file given as `--remote_rm_url` and calls it through
    `asyncio.to_thread` with queries = prompt + response (decoded with special tokens), the prompts and
    the `--label_key` values (a gold answer or a list of accepted answers). It returns OpenRLHF's dict:
    `rewards` (with `format_bonus` / `wrong_reward`), `scores` (1.0 / 0.0, for dynamic filtering) and
    `extra_logs` with `<task>_accuracy`.
    """

    task: str = "math"
    timeout_s: float | None = None
    format_bonus: float = 0.0
    wrong_reward: float = 0.0

    def __post_init__(self) -> None:
        self.settings()

    def settings(self) -> RewardSettings:
        return RewardSettings(task=self.task, timeout_s=self.timeout_s, format_bonus=self.format_bonus,
                              wrong_reward=self.wrong_reward)

    def __call__(self, queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any]) -> dict[str, Any]:
        if not len(queries) == len(prompts) == len(labels):
            raise RewardSetupError(f"reward_func got {len(queries)} queries, {len(prompts)} prompts and "
                                   f"{len(labels)} labels")
        settings = self.settings()
        responses = [response_text(str(q), str(p)) for q, p in zip(queries, prompts, strict=True)]
        items = [RewardItem(self.task, response, label, str(prompt))
                 for response, label, prompt in zip(responses, labels, prompts, strict=True)]
        verdicts = grade_items(items, settings)
        rewards = [settings.score(v, r) for v, r in zip(verdicts, responses, strict=True)]
        accuracy = [1.0 if earns_reward(v) else 0.0 for v in verdicts]
        return {"rewards": _tensor(rewards), "scores": _tensor(accuracy),
                "extra_logs": {f"{self.task}_accuracy": _tensor(accuracy)}}


def _tensor(values: list[float]) -> Any:
    """A float tensor as OpenRLHF's examples return (it reads `.flatten()[0]` of each log); a list without torch."""
    try:
        import torch
    except ImportError:
        return values
    return torch.tensor(values, dtype=torch.float32)


reward_func = OpenRLHFReward("math")
