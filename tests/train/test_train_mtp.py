"""MPO's MTP modules: what they compute, the Stage-1 warm-up on real GSM8K solutions, checkpoints, and the
trainer taking the ratio's future terms from them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from evalkit.errors import UsageError
from evalkit.train import mtp as M
from evalkit.train.config import TrainConfig
from evalkit.train.losses import block_weights, make_params
from evalkit.train.rollout import policy_forward
from evalkit.train.toy import TEXT_CHARS, char_tokenizer, tiny_llama

PAIRS = [("Q: 1+1?\nA:", " One plus one is 2."), ("Q: what is 3+4?\nA:", " It is 7, since 3+4=7."),
         ("Q: 10-2?\nA:", " 8")]


@pytest.fixture(scope="module")
def tokenizer():
    return char_tokenizer(TEXT_CHARS + "\n")


def backbone(tokenizer, seed: int = 0, context: int = 1024):
    return tiny_llama(tokenizer, hidden=32, layers=2, heads=2, context=context, seed=seed)


def test_modules_are_copies_of_the_last_layer_and_head_with_an_identity_projection(tokenizer):
    model = backbone(tokenizer)
    stack = M.build(model, 3)
    assert len(stack) == 3
    module = stack.depths[0]
    last = model.model.layers[-1]
    for (name, a), b in zip(last.state_dict().items(), module.block.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert torch.equal(module.head.weight, model.lm_head.weight)
    assert module.head.weight.data_ptr() != model.lm_head.weight.data_ptr()  # a copy, not the tied embedding
    hidden = model.config.hidden_size
    assert torch.equal(module.projection.weight[:, :hidden], torch.eye(hidden))
    assert torch.all(module.projection.weight[:, hidden:] == 0)


def test_module_k_predicts_token_t_plus_k_from_position_t(tokenizer):
    """Alignment, written out for module 2: hidden at the position that predicts token j, embedding of token j."""
    model = backbone(tokenizer)
    stack = M.build(model, 2)
    with torch.no_grad():
        for module in stack.depths:  # make the embedding half matter
            module.projection.weight.normal_(0, 0.2)
    batch = M.solution_batch(tokenizer, PAIRS, max_tokens=40)
    forward = policy_forward(model, batch, with_hidden=True)
    future = stack.future_logprobs(model, forward, batch.completion_ids)
    width = batch.completion_ids.shape[1]
    assert future.shape == (3, width, 2)

    ids, h = forward.input_ids, forward.hidden
    module = stack.depths[0]
    mask = M._causal_mask(model, h, forward.attention, forward.positions)
    rotary = model.model.rotary_emb(h, forward.positions)
    ahead = torch.cat([ids[:, 1:], torch.zeros_like(ids[:, :1])], dim=1)
    out = module(h, model.get_input_embeddings()(ahead), attention_mask=mask, positions=forward.positions,
                 position_embeddings=rotary)
    start = ids.shape[1] - width - 1  # the position predicting completion token 0
    for row in range(3):
        n = int(batch.completion_mask[row].sum())
        for j in range(n - 1):
            logp = module.log_probs(out[row, start + j])
            assert future[row, j, 0].item() == pytest.approx(logp[batch.completion_ids[row, j + 1]].item(), abs=1e-5)
        assert torch.all(future[row, width - 1:, 0] == 0)


def test_future_log_probs_are_causal(tokenizer):
    model = backbone(tokenizer)
    stack = M.build(model, 3)
    with torch.no_grad():
        for module in stack.depths:
            module.projection.weight.normal_(0, 0.2)
    a = M.solution_batch(tokenizer, [("Q:", " It is 7.")], max_tokens=20)
    b = M.solution_batch(tokenizer, [("Q:", " It is 9.")], max_tokens=20)
    fa = stack.future_logprobs(model, policy_forward(model, a, with_hidden=True), a.completion_ids)
    fb = stack.future_logprobs(model, policy_forward(model, b, with_hidden=True), b.completion_ids)
    changed = 7  # " It is 7." differs at completion token 7; module k at position t reads tokens up to t+k-1
    for depth in range(3):
        first_reader = changed - depth - 1
        assert torch.equal(fa[0, :first_reader, depth], fb[0, :first_reader, depth])
        assert not torch.equal(fa[0, first_reader, depth], fb[0, first_reader, depth])


def test_detached_modules_send_no_gradient_to_the_backbone(tokenizer):
    model = backbone(tokenizer)
    stack = M.build(model, 2)
    batch = M.solution_batch(tokenizer, PAIRS, max_tokens=30)
    for detach, reaches in ((True, False), (False, True)):
        model.zero_grad(set_to_none=True)
        forward = policy_forward(model, batch, with_hidden=True)
        stack.future_logprobs(model, forward, batch.completion_ids, detach_backbone=detach).sum().backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None and p.grad.abs().sum() > 0]
        assert bool(grads) is reaches
        assert all(p.grad is not None for p in stack.depths[0].projection.parameters())


def test_unsupported_backbones_raise_a_usage_error():
    class Plain(torch.nn.Module):
        config = None

    with pytest.raises(UsageError, match="MTP modules need"):
        M.build(Plain(), 2)


# ----------------------------------------------------------------------------- Stage 1 on real GSM8K solutions


def test_warm_up_lowers_the_heldout_mtp_loss_on_real_gsm8k_solutions(tokenizer, shared_data):
    from evalkit.train.tasks import BenchmarkTask

    task = BenchmarkTask("gsm8k", tokenizer, data_dir=shared_data, chat=False)
    train_pairs, heldout = task.train_solutions(), list(task.heldout_solutions())[:8]
    assert len(train_pairs) == 7473 and "The final answer is" in train_pairs[0][1]
    torch.manual_seed(0)
    model = tiny_llama(tokenizer, hidden=32, layers=1, heads=2, context=1024)
    stack = M.build(model, 2)
    frozen = {name: p.detach().clone() for name, p in model.named_parameters()}
    measure = {"max_tokens": 64, "batch_size": 8}
    before = M.heldout_loss(stack, model, tokenizer, heldout, **measure)
    losses = M.warm_up(stack, model, tokenizer, train_pairs, M.WarmupSettings(steps=25, lr=5e-3, batch_size=4,
                                                                              max_tokens=64))
    after = M.heldout_loss(stack, model, tokenizer, heldout, **measure)
    assert after < before - 1.0, (before, after)
    assert math.isfinite(losses[-1]) and losses[-1] < losses[0]
    for name, p in model.named_parameters():  # the backbone is frozen during Stage 1
        assert torch.equal(p, frozen[name]), name


def test_warmup_loss_weights_decay():
    assert M.warmup_loss_weights(4, 0.5) == [1.0, 0.5, 0.25, 0.125]


# ----------------------------------------------------------------------------- checkpoints


def test_save_and_load_round_trip_the_modules(tokenizer, tmp_path: Path):
    model = backbone(tokenizer)
    stack = M.build(model, 3)
    M.warm_up(stack, model, tokenizer, PAIRS, M.WarmupSettings(steps=3, lr=1e-2, batch_size=3))
    path = M.save(stack, tmp_path / "step-1")
    assert path == tmp_path / "step-1" / "mtp"
    config = json.loads((path / M.MTP_CONFIG).read_text())
    assert config["modules"] == 3 and config["block_tokens"] == 4
    loaded = M.load(tmp_path / "step-1", model)
    for (name, a), b in zip(stack.state_dict().items(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    batch = M.solution_batch(tokenizer, PAIRS, max_tokens=30)
    forward = policy_forward(model, batch, with_hidden=True)
    assert torch.equal(stack.future_logprobs(model, forward, batch.completion_ids),
                       loaded.future_logprobs(model, forward, batch.completion_ids))
    with pytest.raises(UsageError, match="needs 2"):
        M.check_depth(loaded, 2)
    with pytest.raises(UsageError, match="no MTP modules"):
        M.load(tmp_path, model)
    other = tiny_llama(tokenizer, hidden=48, layers=2, heads=2, context=64)
    with pytest.raises(UsageError, match="do not fit"):
        M.load(tmp_path / "step-1", other)


# ----------------------------------------------------------------------------- the trainer with future=mtp


def toy_run(tmp_path: Path, name: str, **overrides) -> TrainConfig:
    base = dict(algo="mpo", benchmark="addition", addition_digits=1, output=str(tmp_path / name), steps=1,
                prompts_per_step=8, group_size=1, lr=1e-2, max_new_tokens=3, epochs=1, minibatches=2, eval_every=0,
                loss={"k": 3, "future": "mtp", "critic_lr": 1e-2})
    return TrainConfig(**{**base, **overrides})


class ShiftedModules:
    """Wraps an MTP stack: under gradient (the update, not the rollout pass) its log-probs are moved by `shift`."""

    def __init__(self, stack: M.MTPStack, shift: float) -> None:
        self.stack, self.shift, self.calls = stack, shift, 0

    def __len__(self) -> int:
        return len(self.stack)

    def parameters(self):
        return self.stack.parameters()

    def future_logprobs(self, *args, **kwargs):
        self.calls += 1
        out = self.stack.future_logprobs(*args, **kwargs)
        return out + self.shift if torch.is_grad_enabled() else out


def scripted(tokenizer):
    """Eight addition prompts, one fixed completion each, half of them right (so advantages are not all 0)."""
    from test_train_trainer import FixedTask, ScriptedGenerator

    from evalkit.train.tasks import AdditionTask

    examples = sorted(AdditionTask(digits=1, n_heldout=0, n_train=100, seed=0).train_examples(), key=lambda e: e.id)[:8]
    answers = {e.prompt: [e.gold if i % 2 else str(int(e.gold) + 11)] for i, e in enumerate(examples)}
    return FixedTask(examples), ScriptedGenerator(tokenizer, answers)


def scripted_batch(tokenizer, cfg: TrainConfig):
    import random

    from evalkit.train.rollout import SamplingSettings
    from evalkit.train.trainer import collect_rollouts

    task, generator = scripted(tokenizer)
    return collect_rollouts(cfg.resolved(), task, generator, SamplingSettings(3), random.Random(0), pad_id=0)


def test_the_trainer_takes_the_future_terms_from_the_modules(tmp_path: Path):
    """Mutation test: moving only the modules' log-probs by 0.5 between rollout and update moves MPO's ratio by that.

    The learning rate is ~0, so the backbone's own token ratios stay 1 and only the future terms can move.
    """
    from evalkit.train.critic import Critic
    from evalkit.train.trainer import make_optimizer, update_policy

    tokenizer = char_tokenizer()
    cfg = toy_run(tmp_path, "spy", lr=1e-12, loss={"k": 3, "future": "mtp", "critic_lr": 1e-12}).resolved()
    batch = scripted_batch(tokenizer, cfg)
    model = tiny_llama(tokenizer, hidden=32, layers=1, heads=2, context=16)
    params = make_params("mpo", cfg.loss)
    spy = ShiftedModules(M.build(model, 2), shift=0.5)
    critic = Critic(params, model)
    optimizer = make_optimizer(cfg, model, critic=critic, mtp=spy.stack)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    stats = update_policy(cfg, params, model, None, optimizer, schedule, batch, step=1, critic=critic, mtp=spy)
    assert spy.calls == 3  # the rollout pass (no gradient), then two mini-batch updates
    weights = torch.tensor(block_weights(3, params.weights), dtype=torch.float64)
    mask = batch.loss_mask.double()
    future = torch.nn.functional.pad(mask, (0, 2)).unfold(-1, 3, 1)[..., 1:]
    log_ratio = 0.5 * (future * weights[1:]).sum(-1) / (weights[0] * mask + (future * weights[1:]).sum(-1)).clamp(1e-9)
    expected = float((log_ratio.exp() * mask).sum() / mask.sum())
    assert stats["ratio_mean"] == pytest.approx(expected, rel=1e-6)
    assert stats["ratio_mean"] > 1.01

    backbone_run = toy_run(tmp_path, "plain", lr=1e-12, loss={"k": 3, "critic_lr": 1e-12}).resolved()
    plain = update_policy(backbone_run, make_params("mpo", backbone_run.loss), model, None, optimizer, schedule,
                          batch, step=1, critic=critic)
    assert plain["ratio_mean"] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("mode", ["detach", "through", "frozen"])
def test_mpo_with_mtp_trains_the_modules_and_saves_them_beside_a_plain_checkpoint(tmp_path: Path, mode: str):
    from transformers import AutoModelForCausalLM

    from evalkit.train.trainer import train

    tokenizer = char_tokenizer()
    model = tiny_llama(tokenizer, hidden=32, layers=1, heads=2, context=16)
    start = {name: p.detach().clone() for name, p in model.named_parameters()}
    cfg = toy_run(tmp_path, mode, steps=2, mtp_warmup_steps=3, mtp_warmup_batch_size=4, eval_size=4,
                  loss={"k": 3, "future": "mtp", "mtp_backbone": mode})
    task, generator = scripted(tokenizer)
    history = train(cfg, model, tokenizer, task, generator=generator, log=lambda line: None)
    warmup = [json.loads(line) for line in (tmp_path / mode / "mtp_warmup.jsonl").read_text().splitlines()]
    assert [e["mtp_warmup_step"] for e in warmup[:-1]] == [1, 2, 3]
    assert warmup[-1]["mtp_heldout_loss_after"] is not None
    checkpoint = tmp_path / mode / "step-2"
    saved = M.load(checkpoint, model)
    assert len(saved) == 2 and (checkpoint / "mtp" / M.MTP_WEIGHTS).is_file()
    assert json.loads((checkpoint / "trainer_state.json").read_text())["mtp_modules"] == 2
    reloaded = AutoModelForCausalLM.from_pretrained(checkpoint)  # the evaluation checkpoint is a plain model
    assert set(reloaded.state_dict()) == set(model.state_dict())
    moved = any(not torch.equal(p, start[name]) for name, p in model.named_parameters())
    assert moved is (mode != "frozen")
    trained = M.build(model, 2).state_dict()  # fresh copies of the (possibly updated) backbone
    assert any(not torch.equal(a, trained[name]) for name, a in saved.state_dict().items() if "projection" in name)
    assert history[-1]["updates"] == 2


def test_mtp_settings_without_mtp_are_usage_errors():
    with pytest.raises(UsageError, match="future=mtp"):
        TrainConfig(algo="mpo", mtp_warmup_steps=5).resolved()
    with pytest.raises(UsageError, match="future=mtp"):
        TrainConfig(algo="ppo", mtp_init="runs/x/step-1").resolved()
