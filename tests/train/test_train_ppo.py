"""PPO and MPO as the MPO paper defines them: GAE and the value loss equal verl's, Eq. 9-11 by hand, K = 1 is PPO."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from verl_reference import compute_gae_advantage_return, compute_value_loss

from evalkit.errors import UsageError
from evalkit.train import losses as L
from evalkit.train.losses import Normalizer, PolicyTensors, compute_loss, make_params
from evalkit.train.ppo import gae, outcome_token_rewards, value_loss, whiten


def close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-10, atol: float = 1e-12) -> bool:
    return torch.allclose(a, b, rtol=rtol, atol=atol)


def loss_fn(algo: str, **overrides):
    params = make_params(algo, overrides)
    return lambda t: compute_loss(algo, t, params).loss


def token_batch(seed: int = 0, drift: float = 0.3, lengths: list[int] | None = None) -> PolicyTensors:
    """An off-policy batch with per-token advantages (as GAE gives), float64, ragged lengths."""
    g = torch.Generator().manual_seed(seed)
    lengths = lengths or [7, 5, 4, 7, 6, 1]
    mask = torch.zeros(len(lengths), max(lengths), dtype=torch.float64)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
    logp = (-torch.rand(mask.shape, generator=g, dtype=torch.float64) * 2).requires_grad_(True)
    logp_old = logp.detach() + drift * torch.randn(mask.shape, generator=g, dtype=torch.float64)
    adv = torch.randn(mask.shape, generator=g, dtype=torch.float64) * mask
    return PolicyTensors(logp=logp, logp_old=logp_old, mask=mask, advantages=adv)


# ----------------------------------------------------------------------------- GAE and value loss vs verl


def critic_batch(seed: int, lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(len(lengths), max(lengths), dtype=torch.float64)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
    values = torch.randn(mask.shape, generator=g, dtype=torch.float64)
    scores = (torch.rand(len(lengths), generator=g) > 0.5).double()
    return mask, values, scores


@pytest.mark.parametrize("gamma,lam", [(1.0, 1.0), (0.99, 0.95), (0.9, 0.0), (1.0, 0.5)])
@pytest.mark.parametrize("kl_coef", [0.0, 0.05])
def test_gae_equals_verl_on_identical_tensors(gamma, lam, kl_coef):
    mask, values, scores = critic_batch(1, [9, 5, 1, 9, 3, 7, 8, 2])
    kl = 0.1 * torch.randn(mask.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    rewards = outcome_token_rewards(scores, mask, kl, kl_coef)
    ref_adv, ref_returns = compute_gae_advantage_return(rewards, values, mask, gamma, lam)
    adv, returns = gae(rewards, values, mask, gamma, lam)
    on = mask > 0
    assert close(returns[on], ref_returns[on])
    assert close(whiten(adv, mask)[on], ref_adv[on], rtol=1e-7, atol=1e-9)  # verl's masked_mean adds 1e-8
    assert torch.all(adv[~on] == 0) and torch.all(returns[~on] == 0)


def test_gae_with_unit_gamma_and_lambda_is_reward_minus_value():
    """gamma = lam = 1 (verl's and the MPO paper's setting): A_t = R - V_t for an outcome reward."""
    mask, values, scores = critic_batch(3, [4, 6, 2])
    adv, returns = gae(outcome_token_rewards(scores, mask), values, mask)
    assert close(adv, (scores[:, None] - values) * mask)
    assert close(returns, scores[:, None] * mask)


def test_outcome_reward_sits_on_the_last_completion_token():
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=torch.float64)
    rewards = outcome_token_rewards(torch.tensor([1.0, 0.5, 1.0], dtype=torch.float64), mask)
    assert rewards.tolist() == [[0, 0, 1, 0], [0.5, 0, 0, 0], [0, 0, 0, 0]]


@pytest.mark.parametrize("clip", [0.2, 0.5])
def test_value_loss_equals_verl_in_value_and_gradient(clip):
    mask, values_old, _ = critic_batch(4, [8, 3, 6, 8, 1])
    g = torch.Generator().manual_seed(5)
    returns = torch.randn(mask.shape, generator=g, dtype=torch.float64)
    vpreds = (values_old + 0.6 * torch.randn(mask.shape, generator=g, dtype=torch.float64)).requires_grad_(True)
    ref_loss, ref_clipfrac = compute_value_loss(vpreds, returns, values_old, mask, clip, "token-mean")
    (ref_grad,) = torch.autograd.grad(ref_loss, vpreds)
    ours, clipfrac = value_loss(vpreds, values_old, returns, mask, clip)
    (grad,) = torch.autograd.grad(ours, vpreds)
    assert close(ours, ref_loss) and close(grad, ref_grad)
    assert clipfrac == pytest.approx(float(ref_clipfrac), rel=1e-7)
    assert 0 < clipfrac < 1  # both branches exercised
    # micro-batches with the optimizer batch's token count add up to the full-batch loss
    norm = Normalizer.of(mask)
    parts = sum(value_loss(vpreds[r], values_old[r], returns[r], mask[r], clip, norm)[0]
                for r in (slice(0, 2), slice(2, 5)))
    assert close(parts, ours)


def test_whiten_matches_verl_masked_whiten():
    from verl_reference import verl_F

    mask, values, _ = critic_batch(6, [5, 2, 7])
    assert close(whiten(values, mask)[mask > 0], verl_F.masked_whiten(values, mask)[mask > 0], rtol=1e-7)


# ----------------------------------------------------------------------------- PPO loss


def test_ppo_defaults_are_verls_and_the_papers():
    p = make_params("ppo")
    assert (p.eps_low, p.eps_high, p.beta, p.agg) == (0.2, 0.2, 0.0, "token-mean")
    assert (p.critic, p.critic_lr, p.gamma, p.lam, p.value_clip, p.whiten, p.kl_coef) == \
        ("model", 1e-5, 1.0, 1.0, 0.5, True, 0.0)
    assert p.uses_critic and not p.needs_reference
    assert not make_params("grpo").uses_critic


def test_ppo_is_the_clipped_surrogate_on_per_token_advantages_token_mean():
    t = token_batch()
    r = (t.logp - t.logp_old).exp()
    expected = (-torch.minimum(r * t.advantages, r.clamp(0.8, 1.2) * t.advantages) * t.mask).sum() / t.mask.sum()
    assert close(compute_loss("ppo", t).loss, expected)


@pytest.mark.parametrize("overrides,match", [
    ({"critic": "shared"}, "critic must be"),
    ({"gamma": 1.5}, "gamma and lam"),
    ({"value_clip": 0.0}, "value_clip"),
    ({"kl_coeff": 0.1}, "unknown ppo loss option"),
])
def test_bad_ppo_options_are_usage_errors(overrides, match):
    with pytest.raises(UsageError, match=match):
        make_params("ppo", overrides)


# ----------------------------------------------------------------------------- MPO: the paper's equations


def test_mpo_defaults_are_the_papers():
    p = make_params("mpo")
    assert (p.base, p.k, p.weights, p.beta, p.agg, p.eps_low, p.eps_high) == \
        ("ppo", 5, "beta2:0.06,lambda:0.8", 0.0, "token-mean", 0.2, 0.2)
    assert p.uses_critic and p.future == "backbone" and p.mtp_modules == 0
    assert make_params("mpo", {"future": "mtp"}).mtp_modules == 4
    # Eq. 10: beta_k = beta_2 lambda^(k-2), beta_1 the rest; future share 17.7% (paper: keep it under 30%)
    assert p.block_weights() == pytest.approx([1 - 0.06 * (1 + 0.8 + 0.64 + 0.512), 0.06, 0.048, 0.0384, 0.03072])
    grpo = make_params("mpo", {"base": "grpo"})
    assert (grpo.beta, grpo.agg, grpo.weights, grpo.uses_critic) == (0.04, "seq-mean-token-mean", "future:0.2", False)
    assert make_params("mpo", {"base": "grpo", "beta": 0.0}).beta == 0.0


def test_old_weight_specs_are_still_accepted():
    assert L.block_weights(4, "uniform") == [0.25] * 4
    assert L.block_weights(3, "future:0.4") == pytest.approx([0.6, 0.2, 0.2])
    assert L.block_weights(3, "lambda:0.5,beta2:0.1") == pytest.approx([0.85, 0.1, 0.05])
    assert L.block_weights(1, "beta2:0.06,lambda:0.8") == [1.0]


@pytest.mark.parametrize("spec,match", [
    ("beta2:0.06", "exactly beta2"), ("beta2:0.5,lambda:1", "sum to"), ("beta2:x,lambda:0.8", "NAME:NUMBER"),
    ("beta2:0.06,lambda:1.2", "in \\[0, 1\\]"), ("geometric", "Eq. 10"),
])
def test_bad_weight_specs_are_usage_errors(spec, match):
    with pytest.raises(UsageError, match=match):
        make_params("mpo", {"weights": spec})


@pytest.mark.parametrize("overrides,match", [
    ({"base": "reinforce"}, "base must be"), ({"future": "heads"}, "future must be"),
    ({"mtp_backbone": "stop"}, "mtp_backbone"), ({"future": "mtp", "layout": "chunk"}, "sliding"),
])
def test_bad_mpo_options_are_usage_errors(overrides, match):
    with pytest.raises(UsageError, match=match):
        make_params("mpo", overrides)


def paper_objective(t: PolicyTensors, betas: list[float], eps: float, renormalize: bool) -> torch.Tensor:
    """Eq. 9-11 written out with loops: R~_t = exp(sum_n beta_n log r_{t+n}); -1/sum|o| sum_i sum_t min(R~A, clip(R~)A).

    Position t's block is its own token and the K-1 after it; terms past the end of the completion
    are dropped (with `renormalize`, the remaining betas rescaled to sum 1).
    """
    total = torch.zeros((), dtype=torch.float64)
    for i in range(t.mask.shape[0]):
        n_tokens = int(t.mask[i].sum())
        for j in range(n_tokens):
            log_block = torch.zeros((), dtype=torch.float64)
            weight = 0.0
            for n, beta in enumerate(betas):
                if j + n < n_tokens:
                    log_block = log_block + beta * (t.logp[i, j + n] - t.logp_old[i, j + n])
                    weight += beta
            ratio = torch.exp(log_block / weight if renormalize else log_block)
            a = t.advantages[i, j]
            total = total + torch.minimum(ratio * a, torch.clamp(ratio, 1 - eps, 1 + eps) * a)
    return -total / t.mask.sum()


@pytest.mark.parametrize("tail", ["renormalize", "pad"])
@pytest.mark.parametrize("k,weights", [(5, "beta2:0.06,lambda:0.8"), (3, "beta2:0.1,lambda:1.0"), (4, "uniform")])
def test_mpo_loss_equals_the_papers_formula_computed_by_hand(value_and_grad, tail, k, weights):
    t = token_batch(seed=7, drift=0.4)
    betas = L.block_weights(k, weights)
    ours = value_and_grad(loss_fn("mpo", k=k, weights=weights, tail=tail), t)
    hand = value_and_grad(lambda x: paper_objective(x, betas, 0.2, tail == "renormalize"), t)
    assert close(ours[0], hand[0]) and close(ours[1], hand[1])
    assert ours[1].abs().sum() > 0


@pytest.mark.parametrize("overrides", [{}, {"future": "mtp"}, {"weights": "uniform"}, {"tail": "pad"}])
def test_mpo_with_k1_equals_ppo_in_value_and_gradient(value_and_grad, overrides):
    for drift in (0.01, 0.5):
        t = token_batch(seed=3, drift=drift)
        ppo = value_and_grad(loss_fn("ppo"), t)
        mpo = value_and_grad(loss_fn("mpo", k=1, **overrides), t)
        assert close(ppo[0], mpo[0]) and close(ppo[1], mpo[1])


def test_mpo_with_no_future_share_equals_ppo(value_and_grad):
    t = token_batch(seed=4)
    ppo = value_and_grad(loss_fn("ppo"), t)
    mpo = value_and_grad(loss_fn("mpo", weights="beta2:0,lambda:0.8"), t)
    assert close(ppo[0], mpo[0]) and close(ppo[1], mpo[1])


def test_mpo_lowers_the_ratio_variance_against_ppo():
    """The block ratio averages K token log-ratios, so with independent drifts it varies less (Fig. 4's mechanism)."""
    t = token_batch(seed=8, drift=0.5, lengths=[20] * 16)
    ppo = compute_loss("ppo", t)
    mpo = compute_loss("mpo", t, make_params("mpo", {"weights": "uniform"}))
    assert mpo.ratio_var < 0.5 * ppo.ratio_var
    assert mpo.clip_low + mpo.clip_high < ppo.clip_low + ppo.clip_high


# ----------------------------------------------------------------------------- MPO with MTP modules


def shifted_future(logp: torch.Tensor, k: int) -> torch.Tensor:
    """`[B, T, k-1]`: at position t, the backbone's log-prob of token t+n-1 (n = 2..k), 0 past the end."""
    padded = torch.nn.functional.pad(logp, (0, k - 1))
    return torch.stack([padded[:, n - 1:n - 1 + logp.shape[1]] for n in range(2, k + 1)], dim=-1)


@pytest.mark.parametrize("tail", ["renormalize", "pad"])
def test_mtp_future_terms_reproduce_the_backbone_ones_when_they_are_the_backbones_log_probs(tail):
    """Feeding the backbone's later log-probs as the modules' gives future=backbone exactly; the gradients split."""
    t = token_batch(seed=9, drift=0.3)
    k = 4
    params_mtp = make_params("mpo", {"k": k, "future": "mtp", "tail": tail})
    params_bb = make_params("mpo", {"k": k, "tail": tail})
    logp = t.logp.detach().clone().requires_grad_(True)
    backbone = compute_loss("mpo", dataclasses.replace(t, logp=logp), params_bb).loss
    (g_backbone,) = torch.autograd.grad(backbone, logp)

    own = t.logp.detach().clone().requires_grad_(True)
    future = shifted_future(t.logp.detach(), k).requires_grad_(True)
    with_modules = dataclasses.replace(t, logp=own, future_logp=future, future_logp_old=shifted_future(t.logp_old, k))
    value = compute_loss("mpo", with_modules, params_mtp).loss
    g_own, g_future = torch.autograd.grad(value, (own, future))
    assert close(value, backbone)
    # the backbone's gradient at token j = its own term + the future terms that read token j from earlier blocks
    carried = g_own.clone()
    for n in range(2, k + 1):
        carried[:, n - 1:] += g_future[:, : g_own.shape[1] - n + 1, n - 2]
    assert close(carried, g_backbone)


def test_with_mtp_the_future_terms_come_from_the_modules_not_the_backbone():
    t = token_batch(seed=10, drift=0.3)
    k = 3
    params = make_params("mpo", {"k": k, "future": "mtp"})
    future_old = shifted_future(t.logp_old, k)
    base = dataclasses.replace(t, future_logp=shifted_future(t.logp.detach(), k), future_logp_old=future_old)
    value = compute_loss("mpo", base, params).loss
    # changing the backbone's log-prob of a later token leaves the earlier tokens' ratios alone ...
    later = t.logp.detach().clone()
    later[:, 3:] += 0.7
    moved = compute_loss("mpo", dataclasses.replace(base, logp=later), params)
    prefix = dataclasses.replace(base, mask=base.mask.clone())
    prefix.mask[:, 3:] = 0
    a = compute_loss("mpo", prefix, params, Normalizer.of(t.mask)).loss
    b = compute_loss("mpo", dataclasses.replace(prefix, logp=later), params, Normalizer.of(t.mask)).loss
    assert close(a, b) and not close(moved.loss, value)
    # ... while the modules' log-probs move them
    shifted = dataclasses.replace(base, future_logp=base.future_logp + 0.3)
    assert not close(compute_loss("mpo", shifted, params).loss, value)
    with pytest.raises(ValueError, match="future_logp"):
        compute_loss("mpo", t, params)


# ----------------------------------------------------------------------------- TEPO's KL target


def test_tepo_kl_target_option(batch_factory, value_and_grad):
    t = batch_factory(seed=12)
    assert make_params("tepo").kl_target == "reference" and make_params("tepo").needs_reference
    old = make_params("tepo", {"kl_target": "old"})
    assert not old.needs_reference
    _, g_ref = value_and_grad(lambda x: compute_loss("tepo", x, make_params("tepo", {"beta": 0.5})).loss, t)
    _, g_old = value_and_grad(lambda x: compute_loss("tepo", x, make_params("tepo", {"beta": 0.5,
                                                                                     "kl_target": "old"})).loss, t)
    _, g_none = value_and_grad(loss_fn("tepo", beta=0.0), t)
    on = L.tepo_kl_mask(t, "analytic").bool()
    expected_old = 0.5 * (1 - (t.logp_old - t.logp.detach()).exp()) / t.mask.sum()  # d k3(logp, old) / d logp
    assert close((g_old - g_none)[on], expected_old[on])
    assert not close(g_old, g_ref)
    # on-policy (one update per rollout) the KL to the old policy is zero in value and gradient
    on_policy = dataclasses.replace(t, logp_old=t.logp.detach())
    _, g_old0 = value_and_grad(lambda x: compute_loss("tepo", x, old).loss, on_policy)
    _, g_none0 = value_and_grad(loss_fn("tepo", beta=0.0), on_policy)
    assert close(g_old0, g_none0)
    with pytest.raises(UsageError, match="kl_target"):
        make_params("tepo", {"kl_target": "ref"})
