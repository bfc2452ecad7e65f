"""The trainer on a real (tiny) transformers model: rollouts, log-probs, the loop, metrics and checkpoints."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch

from evalkit.errors import UsageError
from evalkit.train.advantages import group_advantages, informative_groups, overlong_penalty
from evalkit.train.config import TrainConfig
from evalkit.train.losses import make_params
from evalkit.train.rollout import HFGenerator, Rollout, SamplingSettings, completion_mask, token_logprobs
from evalkit.train.tasks import AdditionTask
from evalkit.train.toy import char_tokenizer, tiny_llama
from evalkit.train.trainer import collect_rollouts, train, update_policy

ALGOS = ("ppo", "grpo", "dapo", "dr_grpo", "gspo", "mpo", "tepo")


@pytest.fixture(scope="module")
def tokenizer():
    return char_tokenizer()


@pytest.fixture(scope="module")
def task():
    return AdditionTask(digits=1, n_heldout=20, seed=0)


def small_model(tokenizer, seed: int = 0):
    return tiny_llama(tokenizer, hidden=32, layers=1, heads=2, context=16, seed=seed)


def toy_config(tmp_path: Path, **overrides) -> TrainConfig:
    base = dict(benchmark="addition", output=str(tmp_path / "run"), steps=2, prompts_per_step=4, group_size=4,
                lr=1e-3, max_new_tokens=3, epochs=1, minibatches=2, eval_every=2, eval_size=8, log_kl=True)
    return TrainConfig(**{**base, **overrides})


# ----------------------------------------------------------------------------- advantages


def test_group_advantages_use_the_bessel_std_and_zero_equal_groups():
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    adv = group_advantages(rewards, 4)
    std = torch.tensor([1.0, 0.0, 0.0, 1.0]).std()  # unbiased
    assert torch.allclose(adv[:4], (torch.tensor([1.0, 0.0, 0.0, 1.0]) - 0.5) / (std + 1e-4))
    assert torch.all(adv[4:] == 0)
    assert torch.allclose(group_advantages(rewards, 4, "none")[:4], torch.tensor([0.5, -0.5, -0.5, 0.5]))
    assert informative_groups(rewards, 4).tolist() == [True, False]
    with pytest.raises(ValueError):
        group_advantages(rewards, 3)


def test_overlong_penalty_matches_dapo_breakpoints():
    lengths = torch.tensor([10, 16, 17, 18, 20, 21])
    assert overlong_penalty(lengths, max_len=20, buffer=4).tolist() == pytest.approx([0, 0, -0.25, -0.5, -1, -1])


# ----------------------------------------------------------------------------- rollouts and log-probs


def test_completion_mask_keeps_the_first_eos_and_flags_truncation():
    ids = torch.tensor([[5, 1, 7, 1], [5, 6, 7, 8], [1, 0, 0, 0]])
    mask, truncated = completion_mask(ids, [1])
    assert mask.tolist() == [[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]]
    assert truncated.tolist() == [False, True, False]


def test_logprobs_do_not_depend_on_left_padding(tokenizer):
    model = small_model(tokenizer)
    generator = HFGenerator(model, tokenizer)
    torch.manual_seed(0)
    batch = generator.generate(["1+2=", "11+22+3="], 2, SamplingSettings(max_new_tokens=3))
    assert batch.prompt_mask[0].tolist()[:4] == [0, 0, 0, 0]  # the short prompt is left-padded
    logp, entropy = token_logprobs(model, batch, with_entropy=True)
    for row in range(len(batch)):
        alone = batch.select(torch.tensor([row]))
        keep = alone.prompt_mask[0].bool()
        alone.prompt_ids, alone.prompt_mask = alone.prompt_ids[:, keep], alone.prompt_mask[:, keep]
        single, _ = token_logprobs(model, alone)
        m = batch.completion_mask[row].bool()
        assert torch.allclose(single[0][m], logp[row][m], atol=1e-5)
    assert torch.all(entropy[batch.completion_mask.bool()] > 0)


def test_generator_decodes_completions_and_groups_are_contiguous(tokenizer):
    model = small_model(tokenizer)
    out = HFGenerator(model, tokenizer, batch_size=3).generate(["1+1=", "2+2="], 3, SamplingSettings(4))
    assert len(out) == 6 and len(out.texts) == 6
    assert out.prompt_ids[0].tolist() == out.prompt_ids[2].tolist() != out.prompt_ids[3].tolist()
    for text, ids, mask in zip(out.texts, out.completion_ids, out.completion_mask, strict=True):
        assert text == tokenizer.decode(ids[mask.bool()], skip_special_tokens=True)


# ----------------------------------------------------------------------------- collection (dynamic sampling, shaping)


class ScriptedGenerator:
    """Returns fixed completion texts per prompt (no model): prompt -> list of texts, cycled."""

    def __init__(self, tokenizer, answers: dict[str, list[str]]):
        self.tokenizer = tokenizer
        self.answers = answers

    def policy_changed(self) -> None:
        """Nothing to reload: the completions are fixed."""

    def generate(self, prompts: Sequence[str], n: int, sampling: SamplingSettings, *,
                 add_special_tokens: bool = False) -> Rollout:
        parts = []
        for prompt in prompts:
            for text in self.answers[prompt][:n]:
                p = torch.tensor([self.tokenizer(prompt, add_special_tokens=False)["input_ids"]])
                ids = self.tokenizer(text, add_special_tokens=False)["input_ids"][: sampling.max_tokens]
                done = len(ids) < sampling.max_tokens
                ids = ids + [self.tokenizer.eos_token_id] if done else ids
                c = torch.tensor([ids])
                parts.append(Rollout(p, torch.ones_like(p), c, torch.ones_like(c), torch.tensor([not done]), [text]))
        return Rollout.cat(parts, self.tokenizer.pad_token_id)


class FixedTask(AdditionTask):
    def __init__(self, examples):
        self._train = examples
        self._heldout = examples

    def sample(self, rng, n):  # in order, so the test knows which prompts come in which round
        self._cursor = getattr(self, "_cursor", 0)
        picked = [self._train[(self._cursor + i) % len(self._train)] for i in range(n)]
        self._cursor += n
        return picked


def scripted_setup(tokenizer):
    base = AdditionTask(digits=1, n_heldout=0, n_train=100, seed=0)
    examples = sorted(base.train_examples(), key=lambda e: e.id)[:6]
    answers = {}
    for i, e in enumerate(examples):
        right, wrong = e.gold, str(int(e.gold) + 1)
        # prompts 0, 2, 4: all right / all wrong (no signal); 1, 3, 5: mixed
        answers[e.prompt] = [right] * 4 if i % 4 == 0 else [wrong] * 4 if i % 2 == 0 else [right, wrong, wrong, right]
    return FixedTask(examples), ScriptedGenerator(tokenizer, answers)


def test_dynamic_sampling_keeps_only_informative_groups_and_refills(tokenizer, tmp_path):
    task, generator = scripted_setup(tokenizer)
    cfg = toy_config(tmp_path, algo="dapo", prompts_per_step=2, max_gen_batches=4).resolved()
    assert cfg.dynamic_sampling
    batch = collect_rollouts(cfg, task, generator, SamplingSettings(3), random.Random(0), pad_id=0)
    # round 1: prompts 0, 1 -> keeps 1; round 2: prompts 2, 3 -> keeps 3; full
    assert batch.gen_rounds == 2 and len(batch.rollout) == 8
    assert batch.groups_generated == 4 and batch.groups_zero_variance == 2
    assert informative_groups(batch.rewards, 4).all()
    assert batch.metrics()["zero_variance_frac"] == 0.5
    assert batch.metrics()["accuracy"] == pytest.approx((4 + 2 + 0 + 2) / 16)


def test_dynamic_sampling_with_no_signal_gives_an_empty_batch(tokenizer, tmp_path):
    task, generator = scripted_setup(tokenizer)
    generator.answers = {p: ["99"] * 4 for p in generator.answers}  # every completion wrong
    cfg = toy_config(tmp_path, algo="dapo", prompts_per_step=2, max_gen_batches=2).resolved()
    batch = collect_rollouts(cfg, task, generator, SamplingSettings(3), random.Random(0), pad_id=0)
    assert not batch.trainable and len(batch.rollout) == 0
    assert batch.gen_rounds == 2 and batch.metrics()["zero_variance_frac"] == 1.0


def test_without_dynamic_sampling_zero_variance_groups_stay_with_zero_advantage(tokenizer, tmp_path):
    task, generator = scripted_setup(tokenizer)
    cfg = toy_config(tmp_path, algo="grpo", prompts_per_step=2).resolved()
    batch = collect_rollouts(cfg, task, generator, SamplingSettings(3), random.Random(0), pad_id=0)
    assert batch.gen_rounds == 1 and len(batch.rollout) == 8
    assert torch.all(batch.advantages[:4] == 0) and torch.any(batch.advantages[4:] != 0)


def test_overlong_shaping_and_filtering(tokenizer, tmp_path):
    task, generator = scripted_setup(tokenizer)
    generator.answers = {p: ["1234", "1", "12", "123"] for p in generator.answers}
    cfg = toy_config(tmp_path, algo="dapo", prompts_per_step=1, max_new_tokens=4, overlong_buffer=2,
                     mask_truncated=True, dynamic_sampling=False).resolved()
    batch = collect_rollouts(cfg, task, generator, SamplingSettings(4), random.Random(0), pad_id=0)
    # lengths with EOS: 4 (truncated, no EOS), 2, 3, 4
    assert batch.rollout.truncated.tolist() == [True, False, False, False]
    shaping = batch.rewards - batch.correct
    assert shaping.tolist() == pytest.approx([-1.0, 0.0, -0.5, -1.0])
    assert batch.loss_mask[0].sum() == 0 and batch.loss_mask[1:].sum() > 0


# ----------------------------------------------------------------------------- the update and the loop


def test_a_grpo_update_raises_the_likelihood_of_better_completions(tokenizer, tmp_path):
    task, generator = scripted_setup(tokenizer)
    model = small_model(tokenizer, seed=1)
    cfg = toy_config(tmp_path, algo="grpo", prompts_per_step=2, lr=3e-3, minibatches=1).resolved()
    batch = collect_rollouts(cfg, task, generator, SamplingSettings(3), random.Random(0), pad_id=0)
    before, _ = token_logprobs(model, batch.rollout)
    params = make_params("grpo", {"beta": 0.0})
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    stats = update_policy(cfg, params, model, None, optimizer, schedule, batch, step=1)
    after, _ = token_logprobs(model, batch.rollout)
    with torch.no_grad():
        gain = ((after - before) * batch.loss_mask).sum(-1)
    positive, negative = batch.advantages > 0, batch.advantages < 0
    assert gain[positive].mean() > gain[negative].mean()
    assert stats["clip_low"] == 0 and stats["clip_high"] == 0 and stats["ratio_mean"] == pytest.approx(1.0)


VARIANTS = [(algo, {}) for algo in ALGOS if algo != "mpo"] + [
    ("mpo", {"k": 2}), ("mpo", {"k": 2, "layout": "chunk"}), ("mpo", {"k": 2, "base": "grpo"}),
    ("ppo", {"critic": "head"}), ("gspo", {"variant": "token"}), ("tepo", {"criterion": "empirical"}),
    ("tepo", {"kl_target": "old"}),
]


@pytest.mark.parametrize("algo,loss", VARIANTS, ids=[f"{a}-{'-'.join(map(str, o.values()))}" for a, o in VARIANTS])
def test_every_algorithm_trains_logs_and_checkpoints(tokenizer, task, tmp_path, algo, loss):
    model = small_model(tokenizer)
    cfg = toy_config(tmp_path, algo=algo, loss=loss, epochs=2)
    history = train(cfg, model, tokenizer, task, log=lambda line: None)
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert lines == json.loads(json.dumps(history))
    assert [e["step"] for e in lines] == [0, 1, 2]
    last = lines[-1]
    for key in ("reward_mean", "accuracy", "entropy", "clip_low", "clip_high", "kl", "completion_len_mean",
                "zero_variance_frac", "time_generation_s", "time_reward_s", "time_update_s", "heldout_accuracy"):
        assert key in last, key
    assert last["updates"] == 4 and last["algo"] == algo
    checkpoint = tmp_path / "run" / "step-2"
    assert (checkpoint / "config.json").is_file() and (checkpoint / "tokenizer.json").is_file()
    from transformers import AutoModelForCausalLM

    reloaded = AutoModelForCausalLM.from_pretrained(checkpoint)
    for (name, a), b in zip(model.state_dict().items(), reloaded.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_first_update_of_a_step_is_on_policy(tokenizer, task, tmp_path):
    model = small_model(tokenizer)
    cfg = toy_config(tmp_path, algo="grpo", steps=1, minibatches=1, eval_every=0)
    (entry,) = train(cfg, model, tokenizer, task, log=lambda line: None)
    assert entry["clip_low"] == entry["clip_high"] == 0
    assert entry["ratio_mean"] == pytest.approx(1.0, abs=1e-6)
    assert entry["kl"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.slow
def test_a_gguf_loaded_model_saves_as_a_plain_checkpoint(smollm2_gguf, tmp_path):
    """transformers refuses save_pretrained on GGUF-loaded models; the trainer's checkpoints must still work."""
    from transformers import AutoModelForCausalLM

    from evalkit.models import load_hf_model, resolve_model
    from evalkit.train.trainer import release_gguf_loader, save_checkpoint

    model, tokenizer = load_hf_model(resolve_model(str(smollm2_gguf)))
    release_gguf_loader(model)
    path = save_checkpoint(model, tokenizer, tmp_path / "run" / "step-3", step=3, cfg=TrainConfig())
    assert resolve_model(str(path)).checkpoint_step == 3
    assert "quantization_config" not in json.loads((path / "config.json").read_text())
    reloaded = AutoModelForCausalLM.from_pretrained(path)
    name, weight = next(iter(model.state_dict().items()))
    assert torch.equal(reloaded.state_dict()[name], weight)


# ----------------------------------------------------------------------------- PPO: a critic, one sample per prompt


@pytest.mark.parametrize("critic", ["model", "head"])
def test_a_ppo_update_prefers_right_completions_and_fits_the_critic(tokenizer, tmp_path, critic):
    from evalkit.train.critic import Critic
    from evalkit.train.trainer import make_optimizer

    examples = sorted(AdditionTask(digits=1, n_heldout=0, n_train=100, seed=0).train_examples(), key=lambda e: e.id)[:8]
    answers = {e.prompt: [e.gold if i % 2 else str(int(e.gold) + 11)] for i, e in enumerate(examples)}
    task, generator = FixedTask(examples), ScriptedGenerator(tokenizer, answers)
    cfg = toy_config(tmp_path, algo="ppo", prompts_per_step=8, group_size=1, lr=3e-3, minibatches=1,
                     loss={"critic": critic, "critic_lr": 3e-3}).resolved()
    batch = collect_rollouts(cfg, task, generator, SamplingSettings(3), random.Random(0), pad_id=0)
    assert len(batch.rollout) == 8 and batch.correct.tolist() == [0.0, 1.0] * 4
    model = small_model(tokenizer, seed=1)
    params = make_params("ppo", cfg.loss)
    ppo_critic = Critic(params, model)
    optimizer = make_optimizer(cfg, model, critic=ppo_critic)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    before, _ = token_logprobs(model, batch.rollout)
    history = [update_policy(cfg, params, model, None, optimizer, schedule, batch, step=i, critic=ppo_critic)
               for i in range(1, 7)]
    after, _ = token_logprobs(model, batch.rollout)
    with torch.no_grad():
        gain = ((after - before) * batch.loss_mask).sum(-1)
    right = batch.correct > 0
    assert gain[right].mean() > gain[~right].mean()
    first = history[0]
    assert first["clip_low"] == first["clip_high"] == 0 and first["ratio_mean"] == pytest.approx(1.0)
    assert first["value_mean"] == 0.0  # a zero-initialised head: every value starts at 0
    assert history[-1]["value_loss"] < history[0]["value_loss"]
    assert abs(history[-1]["value_mean"] - 0.5) < abs(history[0]["value_mean"] - 0.5)
    if critic == "model":  # a separate critic, its own optimizer; the checkpoint stays a plain policy
        assert history[0]["critic_grad_norm"] > 0
        assert not any(p is q for p in model.parameters() for q in ppo_critic.module.parameters())


def test_group_size_one_is_for_the_critic_based_algorithms():
    TrainConfig(algo="ppo", group_size=1).resolved()
    TrainConfig(algo="mpo", group_size=1).resolved()
    with pytest.raises(UsageError, match="group-size must be >= 2 for grpo"):
        TrainConfig(algo="grpo", group_size=1).resolved()
    with pytest.raises(UsageError, match="group-size must be >= 2 for mpo"):
        TrainConfig(algo="mpo", group_size=1, loss={"base": "grpo"}).resolved()
    with pytest.raises(UsageError, match="dynamic sampling"):
        TrainConfig(algo="ppo", group_size=1, dynamic_sampling=True).resolved()


def test_a_ppo_run_logs_the_critic_and_the_ratio_variance(tokenizer, task, tmp_path):
    model = small_model(tokenizer)
    cfg = toy_config(tmp_path, algo="mpo", group_size=1, prompts_per_step=8, epochs=2, loss={"k": 2})
    history = train(cfg, model, tokenizer, task, log=lambda line: None)
    last = history[-1]
    for key in ("value_loss", "value_mean", "value_clip_frac", "ratio_var", "critic_grad_norm"):
        assert key in last, key
    assert last["ratio_var"] >= 0


def test_mpo_with_k1_trains_exactly_like_ppo(tokenizer, tmp_path):
    """The whole update (critic, GAE, four clipped steps), not only the loss: K = 1 MPO and PPO end equal."""
    from evalkit.train.critic import Critic
    from evalkit.train.trainer import make_optimizer

    examples = sorted(AdditionTask(digits=1, n_heldout=0, n_train=100, seed=0).train_examples(), key=lambda e: e.id)[:8]
    answers = {e.prompt: [e.gold if i % 3 else str(int(e.gold) + 11)] for i, e in enumerate(examples)}
    finals = []
    for algo, loss in (("ppo", {}), ("mpo", {"k": 1})):
        task, generator = FixedTask(examples), ScriptedGenerator(tokenizer, answers)
        cfg = toy_config(tmp_path, algo=algo, prompts_per_step=8, group_size=1, lr=3e-3, epochs=2, minibatches=2,
                         loss={**loss, "critic_lr": 3e-3}).resolved()
        batch = collect_rollouts(cfg, task, generator, SamplingSettings(3), random.Random(0), pad_id=0)
        model = small_model(tokenizer, seed=2)
        params = make_params(algo, cfg.loss)
        critic = Critic(params, model)
        optimizer = make_optimizer(cfg, model, critic=critic)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
        stats = update_policy(cfg, params, model, None, optimizer, schedule, batch, step=1, critic=critic)
        finals.append((model.state_dict(), critic.module.state_dict(), stats))
    (ppo_w, ppo_c, ppo_s), (mpo_w, mpo_c, mpo_s) = finals
    for name in ppo_w:
        assert torch.allclose(ppo_w[name], mpo_w[name], atol=1e-6), name
    for name in ppo_c:
        assert torch.allclose(ppo_c[name], mpo_c[name], atol=1e-6), name
    assert ppo_s["ratio_var"] > 0 and ppo_s["ratio_var"] == pytest.approx(mpo_s["ratio_var"], rel=1e-5)
