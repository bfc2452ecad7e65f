"""evalkit's rewards inside TRL 1.16.0: GRPOTrainer trains two steps with them on plain and chat prompts,
and the async GRPO worker accepts them (its pickling check) and scores with them in its spawned child.

The chat run fine-tunes the `smollm2-135m` alias exported as a plain checkpoint (`python -m
evalkit.export`): TRL refuses the GGUF-dequantized model as it loads ("purely quantized models").
"""

from __future__ import annotations

import pickle
import queue
from pathlib import Path
from typing import Any

import pytest

from graders import rewards

trl = pytest.importorskip("trl")


def grpo(model: Any, tokenizer: Any, rows: list[dict], reward_funcs: list, out: Path, *, batch: int = 4,
         tokens: int = 8) -> Any:
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    args = GRPOConfig(output_dir=str(out), per_device_train_batch_size=batch, num_generations=2,
                      max_completion_length=tokens, gradient_checkpointing=False,
                      max_steps=2, learning_rate=1e-5, use_cpu=True, bf16=False, report_to=[], save_strategy="no",
                      logging_steps=1, disable_tqdm=True, dataloader_num_workers=0, seed=0)
    trainer = GRPOTrainer(model=model, reward_funcs=reward_funcs, args=args, train_dataset=Dataset.from_list(rows),
                          processing_class=tokenizer)
    trainer.train()
    return trainer


def logged(trainer: Any) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for entry in trainer.state.log_history:
        for key, value in entry.items():
            out.setdefault(key, []).append(value)
    return out


def test_grpo_trainer_trains_two_steps_with_our_rewards_on_plain_prompts(tmp_path: Path):
    from evalkit.train.toy import TEXT_CHARS, char_tokenizer, tiny_llama

    tokenizer = char_tokenizer(TEXT_CHARS + "\n")
    model = tiny_llama(tokenizer, hidden=64, layers=1, context=96)
    rows = [{"prompt": "Q: 2+3=? A:", "answer": "5"}, {"prompt": "Q: 1+1=? A:", "answer": "#### 2"}] * 4
    dapo = rewards.trl_reward("gsm8k", wrong_reward=-1.0, name="gsm8k_dapo")
    async_reward = rewards.AsyncTRLReward("gsm8k", name="gsm8k_async")
    trainer = grpo(model, tokenizer, rows, [rewards.gsm8k_reward, dapo, async_reward], tmp_path)
    metrics = logged(trainer)
    assert len(metrics["rewards/gsm8k_correctness/mean"]) == 2  # TRL's own metric name, one per step
    assert {"rewards/gsm8k_dapo/mean", "rewards/gsm8k_correctness/accuracy",
            "rewards/gsm8k_correctness/no_answer", "rewards/gsm8k_dapo/accuracy"} <= set(metrics)
    # What TRL recorded for the last batch is our grader's verdict on the completions it generated.
    prompts, completions = list(trainer._logs["prompt"]), list(trainer._logs["completion"])
    golds = [next(r["answer"] for r in rows if r["prompt"] == p) for p in prompts]
    expected = rewards.gsm8k_reward(prompts=prompts, completions=completions, answer=golds)
    assert list(trainer._logs["rewards"]["gsm8k_correctness"]) == expected
    assert list(trainer._logs["rewards"]["gsm8k_dapo"]) == [1.0 if e else -1.0 for e in expected]
    assert list(trainer._logs["rewards"]["gsm8k_async"]) == expected  # awaited by TRL, same verdicts
    answers = trainer._logs["extra"]["gsm8k_correctness/answer"]
    assert len(answers) >= len(completions) and "gsm8k_correctness/reason" in trainer._logs["extra"]


@pytest.fixture(scope="module")
def smollm2_plain(tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path) -> Path:
    from evalkit.export import export_checkpoint

    return export_checkpoint("smollm2-135m", tmp_path_factory.mktemp("smollm2") / "hf")


def test_the_exported_alias_is_a_plain_checkpoint(smollm2_plain: Path):
    import json

    from transformers import AutoModelForCausalLM

    config = json.loads((smollm2_plain / "config.json").read_text())
    assert "quantization_config" not in config
    model = AutoModelForCausalLM.from_pretrained(smollm2_plain)
    assert getattr(model, "hf_quantizer", None) is None and not getattr(model, "is_quantized", False)
    assert {str(p.dtype) for p in model.parameters()} == {"torch.float32"}
    assert (smollm2_plain / "tokenizer.json").is_file() and (smollm2_plain / "chat_template.jinja").is_file()


def test_grpo_trainer_fine_tunes_the_exported_alias_on_chat_prompts(smollm2_plain: Path, tmp_path: Path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(smollm2_plain)
    model = AutoModelForCausalLM.from_pretrained(smollm2_plain)
    rows = [{"prompt": [{"role": "user", "content": "What is 1/2 + 1/4? Box the answer."}], "answer": "\\frac34"},
            {"prompt": [{"role": "user", "content": "What is 3 times 4? Box the answer."}], "answer": "12"}] * 2
    trainer = grpo(model, tokenizer, rows, [rewards.math_reward], tmp_path, batch=2, tokens=6)
    metrics = logged(trainer)
    assert trainer.state.global_step == 2 and len(metrics["grad_norm"]) == 2  # TRL trained it: two optimizer steps
    assert len(metrics["rewards/math_correctness/mean"]) == 2
    assert "rewards/math_correctness/accuracy" in metrics
    completions = list(trainer._logs["completion"])
    assert completions and all(isinstance(c, list) and c[-1]["role"] == "assistant" for c in completions)
    prompts = list(trainer._logs["prompt"])
    golds = [next(r["answer"] for r in rows if r["prompt"] == p) for p in prompts]
    assert list(trainer._logs["rewards"]["math_correctness"]) == rewards.math_reward(
        prompts=prompts, completions=completions, answer=golds)


def test_async_grpo_worker_pickles_our_rewards_and_scores_with_them_in_its_child(monkeypatch: pytest.MonkeyPatch):
    from accelerate.state import PartialState
    from datasets import Dataset
    from trl.experimental.async_grpo import async_rollout_worker as worker_module
    from trl_async_loop import COMPLETIONS, ScoreOneGroup

    from evalkit.train.toy import TEXT_CHARS, char_tokenizer

    PartialState()  # the trainer's Accelerator would have made it; the worker logs through accelerate
    monkeypatch.setattr(worker_module, "is_vllm_available", lambda: True)  # the child never talks to vLLM
    tokenizer = char_tokenizer(TEXT_CHARS + "\n")
    kwargs = dict(model_name="tiny", dataset=Dataset.from_list([{"prompt": "p", "answer": "1"}]),
                  processing_class=tokenizer, eos_token_ids=[tokenizer.eos_token_id], child_ready_timeout=240)

    closure_reward = (lambda gold: lambda completions, **kw: [0.0] * len(completions))("1")
    refused = worker_module.AsyncRolloutWorker(reward_funcs=[closure_reward], **kwargs)
    with pytest.raises(TypeError, match="must be picklable"):
        refused.start()

    reward_funcs = [rewards.math_reward, rewards.AsyncTRLReward("math", name="math_async"),
                    rewards.trl_reward("math", wrong_reward=-1.0, name="math_dapo")]
    pickle.dumps(reward_funcs)
    worker = worker_module.AsyncRolloutWorker(reward_funcs=reward_funcs, **kwargs)
    worker._loop_cls = ScoreOneGroup
    worker.start()
    try:
        samples = [worker.rollout_buffer.get(timeout=120) for _ in COMPLETIONS]
    except queue.Empty:
        pytest.fail("the async worker's child produced no scored samples")
    finally:
        worker.stop()
    metrics = [s.metrics for s in samples]
    assert [m["rewards/math_correctness"] for m in metrics] == [1.0, 1.0, 0.0]
    assert [m["rewards/math_async"] for m in metrics] == [1.0, 1.0, 0.0]
    assert [m["rewards/math_dapo"] for m in metrics] == [1.0, 1.0, -1.0]
    assert [m["reward"] for m in metrics] == [3.0, 3.0, -1.0]  # the sync, async and DAPO-style rewards summed


def test_export_refuses_a_used_directory_and_a_bad_dtype(tmp_path: Path, capsys: pytest.CaptureFixture):
    from evalkit.export import main

    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "weights.bin").write_bytes(b"x")
    assert main(["smollm2-135m", str(tmp_path / "used")]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert main(["smollm2-135m", str(tmp_path / "new"), "--dtype", "int4"]) == 2
    assert "use float32, bfloat16 or float16" in capsys.readouterr().err
    assert main(["no-such-model.gguf", str(tmp_path / "new")]) == 2
