"""Run directories for the viewer tests, written by the real `evalkit run` pipeline (runner, store, graders,
metrics) with an engine that replays real model outputs from ../shared/data instead of generating:

- math runs: Qwen2.5-Math CoT responses to 100 MATH test problems (8 per problem, graded here by our own
  grader), rendered through a ChatML template like SmolLM2's, so the prompt has chat turns;
- one hostile problem whose question, gold and completions carry `<script>`, `javascript:` links,
  HTML, KaTeX `\\href`, and a million characters;
- a HumanEval+ run replaying evalplus's recorded Llama-3-8B-Instruct solutions through the sandbox;
- a training run from the real trainer on the toy addition task.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from evalkit.engines.base import Completion, Engine, Prompt, Request, SamplingParams
from evalkit.runner import RunSettings, run
from evalkit.schema import SamplingConfig

QWEN = "labeled_outputs/math_qwen25math_rm_maj/math_cot_100.jsonl"
EVALPLUS = ("labeled_outputs/evalplus_pr247/humaneval/"
            "meta-llama--Meta-Llama-3-8B-Instruct_vllm_temp_0.0-sanitized_eval_results.json")
HOSTILE_ID = "test/hostile/1.json"
PWN = "window.__pwned = (window.__pwned || 0) + 1"
HOSTILE_QUESTION = (f"<script>{PWN}</script> Compute $\\frac{{1}}{{2}} + \\frac{{1}}{{2}}$ and "
                    f"<img src=x onerror=\"{PWN}\"> <a href=\"javascript:{PWN}\">click me</a>")
HOSTILE_GOLD = "<b>1</b>"
MILLION = 1_000_000
HOSTILE_COMPLETIONS = [
    f"<script>{PWN}</script>The answer is <b>bold</b> <iframe src=\"javascript:{PWN}\"></iframe> $\\boxed{{1}}$",
    f"[click](javascript:{PWN}) <a href=\"javascript:{PWN}\">link</a> so \\boxed{{\\href{{javascript:{PWN}}}{{1}}}}",
    f"<think>let me think <img src=x onerror=\"{PWN}\"></think>It is $\\boxed{{<svg onload=\"{PWN}\">}}$",
    "A" * (MILLION - 40) + "<script>" + PWN + "</script> \\boxed{1}",
]
CHATML_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def chatml(prompt: Prompt) -> str:
    """The prompt as SmolLM2's chat template renders it (system turn added, generation prompt open)."""
    if prompt.text is not None:
        return prompt.text
    messages = list(prompt.messages or ())
    if not messages or messages[0][0] != "system":
        messages.insert(0, ("system", CHATML_SYSTEM))
    return "".join(f"<|im_start|>{role}\n{content}<|im_end|>\n" for role, content in messages) + \
        "<|im_start|>assistant\n"


class ReplayEngine(Engine):
    """Answers each problem with recorded completions: sample j gets `answers[question][pick(j)]`.

    `chars_per_token` turns a completion's length into tokens; a completion longer than max_tokens is cut
    there and finishes with "length", as a real engine would.
    """

    name = "replay"

    def __init__(self, answers: dict[str, list[str]], pick: Sequence[int] | None = None, json_messages: bool = False,
                 chars_per_token: int = 4) -> None:
        self.answers = answers
        self.pick = pick
        self.json_messages = json_messages
        self.chars_per_token = chars_per_token

    def render(self, prompt: Prompt) -> str:
        return prompt.as_json() if self.json_messages and prompt.is_chat else chatml(prompt)

    def generate(self, requests: Sequence[Request], params: SamplingParams) -> Iterator[tuple[int, list[Completion]]]:
        for i, r in enumerate(requests):
            user = r.prompt.messages[-1][1] if r.prompt.messages else (r.prompt.text or "")
            options = next(v for q, v in self.answers.items() if q in user)
            outs = []
            for j in range(r.seed_offset, r.seed_offset + r.n):
                text = options[(self.pick[j] if self.pick else j) % len(options)]
                tokens = max(1, len(text) // self.chars_per_token)
                finish = "stop"
                if tokens > params.max_tokens and len(text) < MILLION // 2:
                    text, tokens, finish = text[:params.max_tokens * self.chars_per_token], params.max_tokens, "length"
                outs.append(Completion(text=text, tokens=tokens, finish_reason=finish))
            yield i, outs

    def close(self) -> None:
        pass


def qwen_rows(shared_data: Path) -> list[dict]:
    return [json.loads(line) for line in (shared_data / QWEN).read_text(encoding="utf-8").splitlines()]


def write_math_data(shared_data: Path, data_dir: Path) -> list[dict]:
    """data_dir/math/test.jsonl: the MATH test rows of the 100 Qwen problems, plus the hostile problem."""
    rows = qwen_rows(shared_data)
    wanted = {r["question"] for r in rows}
    math_rows = [json.loads(line) for line in (shared_data / "math" / "test.jsonl").read_text().splitlines()]
    chosen = [m for m in math_rows if m["problem"] in wanted]
    chosen.append({"unique_id": HOSTILE_ID, "problem": HOSTILE_QUESTION, "level": "Level 1", "type": "Prealgebra",
                   "solution": f"Half and half. $\\boxed{{{HOSTILE_GOLD}}}$"})
    (data_dir / "math").mkdir(parents=True, exist_ok=True)
    (data_dir / "math" / "test.jsonl").write_text("".join(json.dumps(m) + "\n" for m in chosen), encoding="utf-8")
    return rows


def build_math_runs(shared_data: Path, root: Path) -> dict[str, Path]:
    """Three real MATH runs over the same 101 problems: n=8 sampled, and two greedy "checkpoints" A and B."""
    data_dir = root / "data"
    rows = write_math_data(shared_data, data_dir)
    answers = {r["question"]: list(r["code"]) for r in rows}
    answers[HOSTILE_QUESTION] = HOSTILE_COMPLETIONS
    plain = {r["question"]: [r["code"][1]] for r in rows}
    plain[HOSTILE_QUESTION] = ["Half plus half is one: $\\boxed{1}$."]
    out = {}
    plans = {
        "qwen-n8": (ReplayEngine(answers), SamplingConfig(n=8, temperature=0.7, max_tokens=700)),
        "ckpt/step-100": (ReplayEngine(answers), SamplingConfig(n=1, temperature=0.0, max_tokens=1024)),
        "ckpt/step-200": (ReplayEngine(plain), SamplingConfig(n=1, temperature=0.0, max_tokens=1024)),
    }
    for name, (engine, sampling) in plans.items():
        settings = RunSettings(model=f"qwen2.5-math-{name.replace('/', '-')}", benchmarks=["math"], engine="openai",
                               sampling=sampling, data_dir=data_dir, output=root / "runs" / name)
        run(settings, engine_factory=lambda engine_name, model, engine=engine: engine)
        out[name] = root / "runs" / name
    return out


def build_code_run(shared_data: Path, root: Path, limit: int = 12) -> Path:
    """HumanEval+ through the sandbox, replaying evalplus's recorded Llama-3-8B-Instruct solutions."""
    import benchmarks
    from benchmarks.base import DataSource

    recorded = json.loads((shared_data / EVALPLUS).read_text())["eval"]
    answers = {}
    for p in benchmarks.get("humanevalplus").load(DataSource(shared_data))[:limit]:
        solution = recorded[p.id][0]["solution"]
        answers[p.metadata["prompt"].strip()] = [f"Here is my solution:\n```python\n{solution}\n```\nDone."]
    settings = RunSettings(model="llama3-8b-instruct", benchmarks=["humanevalplus"], engine="openai", limit=limit,
                           sampling=SamplingConfig(n=1, temperature=0.0, max_tokens=1024), data_dir=shared_data,
                           output=root / "runs" / "code")
    run(settings, engine_factory=lambda engine_name, model: ReplayEngine(answers, json_messages=True))
    return root / "runs" / "code"


def build_train_run(root: Path, steps: int = 4) -> Path:
    """A real `evalkit train` directory from the toy addition task (a 1-layer model, a few seconds)."""
    from evalkit.train.config import TrainConfig
    from evalkit.train.tasks import AdditionTask
    from evalkit.train.toy import char_tokenizer, tiny_llama
    from evalkit.train.trainer import train

    tokenizer = char_tokenizer()
    model = tiny_llama(tokenizer, hidden=32, layers=1, heads=2, context=16, seed=0)
    out = root / "runs" / "train-grpo"
    cfg = TrainConfig(algo="grpo", benchmark="addition", output=str(out), steps=steps, prompts_per_step=4,
                      group_size=4, lr=1e-3, max_new_tokens=3, minibatches=2, eval_every=2, eval_size=8,
                      save_every=0)
    train(cfg, model, tokenizer, AdditionTask(digits=1, n_heldout=20, seed=0), log=lambda line: None)
    return out


def humaneval_plus_inputs(shared_data: Path, task_id: str) -> int:
    """The number of plus inputs of a HumanEval+ task (to check what the page says about them)."""
    with gzip.open(shared_data / "humanevalplus" / "HumanEvalPlus-v0.1.10.jsonl.gz", "rt") as f:
        for line in f:
            row = json.loads(line)
            if row["task_id"] == task_id:
                return len(row["plus_input"])
    raise KeyError(task_id)


def snapshot(directory: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file below `directory` with its size, mtime and bytes (to prove the viewer wrote nothing)."""
    return {str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(directory.rglob("*")) if p.is_file()}


def strip_tags(text: str) -> str:
    return re.sub(r"<[^>]+>", "", text)
