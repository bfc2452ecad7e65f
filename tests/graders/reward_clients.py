"""Run in a child process by the reward tests: real trainers' reward code calling evalkit's rewards.

    python reward_clients.py verl|ray|openrlhf

The child's working directory is a temporary one (not the checkout) and its `sys.path` holds the
unpacked verl / OpenRLHF wheels (tests/graders/wheel_source.py). verl 0.9.1's own loader
(`get_custom_reward_fn`, i.e. `load_extern_object` with a file path or `pkg://`) and its own reward
managers score real `DataProto` batches: the legacy naive, dapo, prime (its process pool) and batch
managers and the reward-loop naive, dapo and remote (Ray actor) managers, plus main_eval's Ray
task. OpenRLHF 0.11.2's `SingleTurnAgentExecutor` loads `reward_func` from the file and calls it
after a generation. The last line printed is a JSON object of what each client got.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

REWARDS_FILE = str(Path(__file__).resolve().parents[2] / "graders" / "rewards.py")
LOADERS = {"file": REWARDS_FILE, "pkg": "pkg://graders.rewards"}

# (data source, prompt, response, ground truth, extra info); `ground_truth` may be a numpy array.
ROWS: list[tuple[str, str, str, Any, dict]] = [
    ("lighteval/MATH", "Write 18/14 in lowest terms.", "so the answer is \\boxed{\\dfrac{9}{7}}", "\\frac{9}{7}", {}),
    ("openai/gsm8k", "How much does she pay?", "She pays 72.00 dollars.\n#### 72.00", "72", {}),
    ("openai/gsm8k", "How much does she pay?", "She pays 71 dollars.\n#### 71", "72", {}),
    ("aime2024", "Find n.", "Thus n is \\boxed{033}.", "ACCEPTED", {}),
    ("HuggingFaceH4/MATH-500", "Compute $123 \\times 456$.", "\\boxed{123 \\times 456}", "56088",
     {"question": "Compute $123 \\times 456$."}),
]
EXPECTED = [1.0, 1.0, 0.0, 1.0, 0.0]


def tokenizer() -> Any:
    from evalkit.train.toy import TEXT_CHARS, char_tokenizer

    return char_tokenizer(TEXT_CHARS + "\n")


def make_batch(tok: Any, rows: list[tuple[str, str, str, Any, dict]]) -> Any:
    """A verl rollout batch: left-padded prompts, right-padded responses ending in EOS, object arrays."""
    import numpy as np
    import torch
    from verl import DataProto

    prompts = [tok(r[1], add_special_tokens=False)["input_ids"] for r in rows]
    responses = [tok(r[2], add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for r in rows]
    p_len, r_len = max(map(len, prompts)), max(map(len, responses)) + 3
    n = len(rows)
    prompt_ids = torch.full((n, p_len), tok.pad_token_id)
    response_ids = torch.full((n, r_len), tok.pad_token_id)
    mask = torch.zeros((n, p_len + r_len), dtype=torch.long)
    for i, (p, r) in enumerate(zip(prompts, responses, strict=True)):
        prompt_ids[i, p_len - len(p):] = torch.tensor(p)
        response_ids[i, :len(r)] = torch.tensor(r)
        mask[i, p_len - len(p):p_len + len(r)] = 1
    golds = [np.array(["17", "33"]) if r[3] == "ACCEPTED" else r[3] for r in rows]
    non_tensors = {
        "data_source": np.array([r[0] for r in rows], dtype=object),
        "reward_model": np.array([{"ground_truth": g, "style": "rule"} for g in golds], dtype=object),
        "extra_info": np.array([{"index": i, **r[4]} for i, r in enumerate(rows)], dtype=object),
    }
    tensors = {"prompts": prompt_ids, "responses": response_ids, "attention_mask": mask,
               "input_ids": torch.cat([prompt_ids, response_ids], dim=1)}
    return DataProto.from_dict(tensors=tensors, non_tensors=non_tensors)


def config(path: str, name: str = "compute_score", reward_kwargs: dict | None = None, **reward: Any) -> Any:
    from omegaconf import OmegaConf

    return OmegaConf.create({"reward": {"custom_reward_function": {"path": path, "name": name,
                                                                  "reward_kwargs": reward_kwargs or {}},
                                        "reward_kwargs": {}, "num_workers": 1, **reward}})


def last_token_scores(tensor: Any) -> list[float]:
    return [float(x) for x in tensor.sum(dim=-1).tolist()]


def outcome(fn: Any) -> Any:
    """What a client got: its value, or the error it raised (type and first line)."""
    try:
        return {"value": fn()}
    except BaseException as exc:  # noqa: BLE001 - reported to the test, which decides
        return {"error": type(exc).__name__, "message": str(exc).splitlines()[0] if str(exc) else "",
                "trace": traceback.format_exc()[-1500:]}


def verl_clients() -> dict[str, Any]:
    from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls as reward_loop_manager
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.workers.reward_manager import get_reward_manager_cls as legacy_manager

    tok = tokenizer()
    results: dict[str, Any] = {}
    for loader, path in LOADERS.items():
        fn = get_custom_reward_fn(config(path))
        dapo_fn = get_custom_reward_fn(config(path, reward_kwargs={"wrong_reward": -1.0, "return_dict": True}))
        batch_fn = get_custom_reward_fn(config(path, "compute_score_batch"))
        results[f"{loader}/raw_module"] = fn.args[0].__module__

        def naive(fn=fn):
            return last_token_scores(legacy_manager("naive")(tok, 0, compute_score=fn)(make_batch(tok, ROWS)))

        def dapo(fn=dapo_fn):
            manager = legacy_manager("dapo")(tok, 0, compute_score=fn, max_resp_len=512, overlong_buffer_cfg=None)
            out = manager(make_batch(tok, ROWS), return_dict=True)
            info = out["reward_extra_info"]
            return {"scores": last_token_scores(out["reward_tensor"]), "acc": [bool(a) for a in info["acc"]],
                    "pred": list(info["pred"])}

        def prime(fn=fn):
            data = make_batch(tok, ROWS)
            scores = last_token_scores(legacy_manager("prime")(tok, 0, compute_score=fn)(data))
            return {"scores": scores, "acc": [float(a) for a in data.batch["acc"].tolist()]}

        def batch(fn=batch_fn):
            manager = legacy_manager("batch")(tok, 0, compute_score=fn, return_dict=True, wrong_reward=-1.0)
            out = manager(make_batch(tok, ROWS), return_dict=True)
            return {"scores": last_token_scores(out["reward_tensor"]),
                    "pred": list(out["reward_extra_info"]["pred"])}

        def loop(name: str, fn=fn, path=path):
            asyncio.set_event_loop(asyncio.new_event_loop())  # prime closed the one verl had set
            manager = reward_loop_manager(name)(config(path), tok, fn)
            data = make_batch(tok, ROWS)
            outs = manager.loop.run_until_complete(
                asyncio.gather(*(manager.run_single(data[i:i + 1]) for i in range(len(data)))))
            return [float(o["reward_score"]) for o in outs]

        results[f"{loader}/naive"] = outcome(naive)
        results[f"{loader}/dapo"] = outcome(dapo)
        results[f"{loader}/prime"] = outcome(prime)
        results[f"{loader}/batch"] = outcome(batch)
        results[f"{loader}/loop_naive"] = outcome(lambda: loop("naive"))
        results[f"{loader}/loop_dapo"] = outcome(lambda: loop("dapo"))

    unknown = [("my_dataset", "p", "\\boxed{1}", "1", {})]
    fn = get_custom_reward_fn(config(LOADERS["file"]))
    results["unknown/prime"] = outcome(lambda: last_token_scores(
        legacy_manager("prime")(tok, 0, compute_score=fn)(make_batch(tok, unknown))))
    results["unknown/naive"] = outcome(lambda: last_token_scores(
        legacy_manager("naive")(tok, 0, compute_score=fn)(make_batch(tok, unknown))))
    bad = get_custom_reward_fn(config(LOADERS["pkg"], reward_kwargs={"timeout": 5}))
    results["bad_option/prime"] = outcome(lambda: last_token_scores(
        legacy_manager("prime")(tok, 0, compute_score=bad)(make_batch(tok, ROWS[:1]))))
    results["parquet"] = outcome(parquet_round_trip)
    return results


def parquet_round_trip() -> dict[str, Any]:
    """main_eval reads its parquet with pandas: a list of accepted answers comes back as a numpy array."""
    import pandas as pd

    from graders.rewards import compute_score

    pd.DataFrame({"data_source": ["lighteval/MATH"], "responses": [["\\boxed{0.5}", "\\boxed{2}"]],
                  "reward_model": [{"ground_truth": ["\\frac12", "1/2"]}]}).to_parquet("eval.parquet")
    row = pd.read_parquet("eval.parquet").iloc[0]
    gold = row["reward_model"]["ground_truth"]
    return {"gold_type": type(gold).__name__,
            "scores": [compute_score(row["data_source"], r, gold) for r in row["responses"]]}


def ray_clients() -> dict[str, Any]:
    import ray

    from graders import rewards

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        results: dict[str, Any] = {"node_ip": ray.nodes()[0]["NodeManagerAddress"]}

        @ray.remote
        def score_in_task(fn: Any, args: tuple, kwargs: dict) -> Any:
            return fn(*args, **kwargs)

        trl_args = ((), {"prompts": ["What is 1/2?"] * 2, "completions": ["\\boxed{0.5}", "\\boxed{2}"],
                         "answer": ["\\frac12"] * 2})
        jobs = {
            "task/compute_score": (rewards.compute_score, ("openai/gsm8k", "#### 72", "72"), {}),
            "task/math_reward": (rewards.math_reward, *trl_args),
            "task/reward_func": (rewards.reward_func, (["q \\boxed{3}<|im_end|>"], ["q "], ["3"]), {}),
            "task/unknown": (rewards.compute_score, ("my_dataset", "\\boxed{1}", "1"), {}),
        }
        for name, (fn, args, kwargs) in jobs.items():
            def run(fn=fn, args=args, kwargs=kwargs, name=name):
                value = ray.get(score_in_task.remote(fn, args, kwargs))
                return value if name != "task/reward_func" else {k: v.tolist() for k, v in value.items()
                                                                  if k != "extra_logs"}
            results[name] = outcome(run)

        from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls
        from verl.trainer.main_eval import process_item
        from verl.trainer.ppo.reward import get_custom_reward_fn

        tok = tokenizer()
        for loader, path in LOADERS.items():
            def remote_manager(path=path):
                manager = get_reward_manager_cls("remote")(config(path), tok, get_custom_reward_fn(config(path)))
                data = make_batch(tok, ROWS)
                outs = manager.loop.run_until_complete(
                    asyncio.gather(*(manager.run_single(data[i:i + 1]) for i in range(len(data)))))
                return [float(o["reward_score"]) for o in outs]

            def main_eval(path=path):
                import numpy as np

                reward_data = {"ground_truth": np.array(["\\frac12", "0.5"], dtype=object)}
                source, mean = ray.get(process_item.remote(config(path), "lighteval/MATH",
                                                           ["\\boxed{1/2}", "\\boxed{3}"], reward_data))
                return [source, float(mean)]

            results[f"{loader}/loop_remote"] = outcome(remote_manager)
            results[f"{loader}/main_eval"] = outcome(main_eval)
        return results
    finally:
        ray.shutdown()


def openrlhf_clients() -> dict[str, Any]:
    """OpenRLHF's single-turn executor: it loads `reward_func` from the file and rewards one generation."""
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    tok = tokenizer()

    class Output:  # vLLM's CompletionOutput / RequestOutput, as the executor reads them
        def __init__(self, token_ids: list[int]) -> None:
            self.token_ids, self.finish_reason, self.logprobs = token_ids, "stop", None
            self.outputs = [self]

    class Engine:  # vLLM's async engine: the executor awaits `generate(prompt_ids, params, ...)`
        def __init__(self, response: str) -> None:
            self.ids = tok(response, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]

        async def generate(self, prompt_ids: list[int], params: Any, multi_modal_data: Any = None) -> Output:
            return Output(self.ids)

    class Params:  # vLLM's SamplingParams: max_tokens and logprobs are read
        max_tokens, logprobs = 64, None

    results: dict[str, Any] = {}
    for path in (REWARDS_FILE, str(Path("gsm8k_reward.py").resolve())):
        executor = SingleTurnAgentExecutor(remote_rm_url=path)
        results[f"{Path(path).name}/reward_func_module"] = type(executor.reward_func).__module__
        for case, (prompt, response, label) in {
            "right": ("Q: half of 1?\nA: ", "so \\boxed{\\frac{1}{2}}", "0.5"),
            "wrong": ("Q: half of 1?\nA: ", "so \\boxed{2}", "0.5"),
            "gsm8k": ("Q: cost?\nA: ", "It costs 72 dollars.\n#### 72", "72"),
            "no_label": ("Q: cost?\nA: ", "It costs 72 dollars.", None),
        }.items():
            def run(executor=executor, prompt=prompt, response=response, label=label):
                out = asyncio.run(executor.execute(prompt, label, Params(), 256, tok, Engine(response)))
                import torch

                return {"reward": torch.tensor([out["reward"]]).tolist(),
                        "scores": torch.tensor([out["scores"]]).tolist(),
                        "extra_logs": {k: float(v.flatten()[0]) for k, v in out["extra_logs"].items()}}
            results[f"{Path(path).name}/{case}"] = outcome(run)
    return results


def main() -> None:
    which = sys.argv[1]
    if which == "openrlhf":
        Path("gsm8k_reward.py").write_text("from graders.rewards import OpenRLHFReward\n\n"
                                           "reward_func = OpenRLHFReward(task='gsm8k', wrong_reward=-1.0)\n")
    clients = {"verl": verl_clients, "ray": ray_clients, "openrlhf": openrlhf_clients}[which]
    results = clients()
    results["cwd"] = os.getcwd()
    sys.stdout.flush()
    print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
