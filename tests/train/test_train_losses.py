"""Properties of the seven losses: paper formulas, reductions between algorithms, masks and invariances."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from evalkit.errors import UsageError
from evalkit.train import losses as L
from evalkit.train.losses import Normalizer, PolicyTensors, compute_loss, make_params

ALGOS = ("ppo", "grpo", "dapo", "dr_grpo", "gspo", "mpo", "tepo")


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.allclose(a, b, rtol=1e-10, atol=1e-12)


def loss_fn(algo: str, **overrides):
    params = make_params(algo, overrides)
    return lambda t: compute_loss(algo, t, params).loss


# ----------------------------------------------------------------------------- registry


def test_registry_has_the_seven_algorithms_with_paper_defaults():
    assert set(L.LOSSES) == set(ALGOS)
    assert make_params("grpo") == L.GRPOParams(eps_low=0.2, eps_high=0.2, beta=0.04, agg="seq-mean-token-mean")
    dapo = make_params("dapo")
    assert (dapo.eps_low, dapo.eps_high, dapo.beta, dapo.agg) == (0.2, 0.28, 0.0, "token-mean")
    assert make_params("dr_grpo").agg == "seq-mean-token-sum-norm"
    gspo = make_params("gspo")
    assert (gspo.eps_low, gspo.eps_high, gspo.beta) == (3e-4, 4e-4, 0.0)
    assert make_params("mpo", {"k": 3}).k == 3


@pytest.mark.parametrize("algo,overrides,match", [
    ("grpo", {"epsilon": 0.1}, "unknown grpo loss option"),
    ("grpo", {"agg": "mean"}, "unknown loss aggregation"),
    ("mpo", {"weights": "future:2"}, "future:p"),
    ("mpo", {"ratio": "product", "weights": "future:0.5"}, "product"),
    ("mpo", {"k": 0}, "k must be >= 1"),
    ("tepo", {"criterion": "cov"}, "criterion"),
    ("gspo", {"variant": "block"}, "variant"),
    ("nope", {}, "unknown algorithm"),
])
def test_bad_options_are_usage_errors(algo, overrides, match):
    with pytest.raises(UsageError, match=match):
        make_params(algo, overrides)


# ----------------------------------------------------------------------------- GRPO family against formulas


def reference_grpo(t: PolicyTensors, eps_low: float, eps_high: float, beta: float) -> torch.Tensor:
    """DeepSeekMath's objective written with Python loops over sequences and tokens."""
    total = torch.zeros((), dtype=torch.float64)
    for i in range(t.mask.shape[0]):
        n = int(t.mask[i].sum())
        a = t.advantages[i]
        seq = torch.zeros((), dtype=torch.float64)
        for j in range(n):
            r = torch.exp(t.logp[i, j] - t.logp_old[i, j])
            surrogate = torch.minimum(r * a, torch.clamp(r, 1 - eps_low, 1 + eps_high) * a)
            d = t.logp_ref[i, j] - t.logp[i, j]
            seq = seq + (-surrogate + beta * (torch.exp(d) - d - 1))
        total = total + seq / n
    return total / t.mask.shape[0]


def test_grpo_matches_the_paper_objective(batch_factory, value_and_grad):
    t = batch_factory()
    ours = value_and_grad(loss_fn("grpo"), t)
    ref = value_and_grad(lambda x: reference_grpo(x, 0.2, 0.2, 0.04), t)
    assert close(ours[0], ref[0]) and close(ours[1], ref[1])


def test_dapo_is_a_token_mean_with_clip_higher(batch_factory):
    t = batch_factory()
    r = (t.logp - t.logp_old).exp()
    a = t.advantages[:, None]
    per_token = -torch.minimum(r * a, r.clamp(0.8, 1.28) * a)
    expected = (per_token * t.mask).sum() / t.mask.sum()
    assert close(compute_loss("dapo", t).loss, expected)


def test_dr_grpo_divides_by_batch_times_max_len(batch_factory):
    t = batch_factory()
    r = (t.logp - t.logp_old).exp()
    a = t.advantages[:, None]
    per_token = -torch.minimum(r * a, r.clamp(0.8, 1.2) * a)
    norm = Normalizer.of(t.mask, max_len=32)
    assert close(compute_loss("dr_grpo", t, norm=norm).loss, (per_token * t.mask).sum() / (6 * 32))
    # without a budget, the padded width is the constant
    assert close(compute_loss("dr_grpo", t).loss, (per_token * t.mask).sum() / (6 * 7))


def test_on_policy_grpo_gradient_is_reinforce_with_baseline(batch_factory):
    t = batch_factory()
    t = dataclasses.replace(t, logp_old=t.logp.detach())
    out = compute_loss("grpo", t, make_params("grpo", {"beta": 0.0}))
    (grad,) = torch.autograd.grad(out.loss, t.logp)
    expected = -t.advantages[:, None] * t.mask / t.mask.sum(-1, keepdim=True) / t.mask.shape[0]
    assert close(grad, expected)


@pytest.mark.parametrize("algo", ALGOS)
def test_step_zero_has_no_clipping_no_kl_and_unit_ratio(batch_factory, algo):
    t = batch_factory()
    same = t.logp.detach()
    t = dataclasses.replace(t, logp_old=same, logp_ref=same, entropy_old=t.entropy)
    out = compute_loss(algo, t)
    assert out.clip_low == 0 and out.clip_high == 0
    assert out.ratio_mean == pytest.approx(1.0)
    assert out.kl == pytest.approx(0.0, abs=1e-12)


# ----------------------------------------------------------------------------- aggregation invariances


@pytest.mark.parametrize("algo", ALGOS)
def test_micro_batches_add_up_to_the_full_batch(batch_factory, value_and_grad, algo):
    """Gradient accumulation over 3 micro-batches with the global Normalizer equals one full batch."""
    t = batch_factory(seed=3, batch=6)
    params = make_params(algo)
    full_norm = Normalizer.of(t.mask, max_len=16)
    full = value_and_grad(lambda x: compute_loss(algo, x, params, full_norm).loss, t)

    def accumulated(x: PolicyTensors) -> torch.Tensor:
        parts = []
        for rows in (slice(0, 2), slice(2, 3), slice(3, 6)):
            micro = PolicyTensors(**{f.name: None if getattr(x, f.name) is None else getattr(x, f.name)[rows]
                                     for f in dataclasses.fields(x)})
            parts.append(compute_loss(algo, micro, params, full_norm).loss)
        return sum(parts)

    acc = value_and_grad(accumulated, t)
    assert close(full[0], acc[0]) and close(full[1], acc[1])


@pytest.mark.parametrize("algo", ALGOS)
def test_extra_padding_changes_nothing(batch_factory, algo):
    t = batch_factory(seed=4)
    params = make_params(algo)

    def pad(x: torch.Tensor | None, value: float = 0.0) -> torch.Tensor | None:
        return None if x is None or x.dim() == 1 else torch.nn.functional.pad(x, (0, 5), value=value)

    padded = PolicyTensors(logp=pad(t.logp, -3.0), logp_old=pad(t.logp_old, 1.0), mask=pad(t.mask),
                           advantages=t.advantages, logp_ref=pad(t.logp_ref, 2.0), entropy=pad(t.entropy, 9.0),
                           entropy_old=pad(t.entropy_old))
    norm = Normalizer.of(t.mask, max_len=20)
    a, b = compute_loss(algo, t, params, norm), compute_loss(algo, padded, params, norm)
    assert close(a.loss, b.loss)
    assert (a.clip_low, a.clip_high, a.kl) == pytest.approx((b.clip_low, b.clip_high, b.kl))


# ----------------------------------------------------------------------------- GSPO


def test_gspo_ratio_is_the_geometric_mean_of_token_ratios(batch_factory):
    t = batch_factory()
    s = L.sequence_log_ratio(t).exp()
    for i in range(t.mask.shape[0]):
        n = int(t.mask[i].sum())
        ratios = (t.logp[i, :n] - t.logp_old[i, :n]).exp()
        assert s[i].item() == pytest.approx(torch.prod(ratios).item() ** (1 / n), rel=1e-12)


def test_gspo_token_equals_gspo_for_sequence_advantages(batch_factory, value_and_grad):
    t = batch_factory(drift=0.01)
    for eps in ((3e-4, 4e-4), (0.2, 0.2)):
        seq = value_and_grad(loss_fn("gspo", eps_low=eps[0], eps_high=eps[1]), t)
        tok = value_and_grad(loss_fn("gspo", eps_low=eps[0], eps_high=eps[1], variant="token"), t)
        assert close(seq[0], tok[0]) and close(seq[1], tok[1])


def test_gspo_clipped_sequence_gets_no_gradient(batch_factory, value_and_grad):
    t = batch_factory(drift=0.5)
    _, grad = value_and_grad(loss_fn("gspo"), t)
    log_s = L.sequence_log_ratio(t).detach()
    a = t.advantages
    clipped = ((log_s.exp() > 1 + 4e-4) & (a > 0)) | ((log_s.exp() < 1 - 3e-4) & (a < 0))
    assert clipped.any() and (~clipped).any()
    assert torch.all(grad[clipped] == 0)
    assert torch.all(grad[~clipped].abs().sum(-1) > 0)


# ----------------------------------------------------------------------------- MPO


MPO_VARIANTS = [dict(layout=layout, weights=w, tail=tail) for layout in ("sliding", "chunk")
                for w in ("uniform", "future:0.3") for tail in ("renormalize", "pad")]
MPO_VARIANTS.append(dict(layout="sliding", ratio="product", weights="uniform"))


@pytest.mark.parametrize("variant", MPO_VARIANTS, ids=lambda v: "-".join(v.values()))
def test_grpo_based_mpo_with_k1_is_token_level_grpo(batch_factory, value_and_grad, variant):
    t = batch_factory()
    grpo = value_and_grad(loss_fn("grpo"), t)
    mpo = value_and_grad(loss_fn("mpo", k=1, base="grpo", **variant), t)
    assert close(grpo[0], mpo[0]) and close(grpo[1], mpo[1])


def test_grpo_based_mpo_with_no_future_weight_is_grpo(batch_factory, value_and_grad):
    t = batch_factory()
    grpo = value_and_grad(loss_fn("grpo"), t)
    mpo = value_and_grad(loss_fn("mpo", k=4, base="grpo", weights="future:0"), t)
    assert close(grpo[0], mpo[0]) and close(grpo[1], mpo[1])


def test_mpo_one_uniform_chunk_is_the_gspo_ratio_and_loss(batch_factory, value_and_grad):
    t = batch_factory()
    log_r = L.block_log_ratio(t.logp - t.logp_old, t.mask, k=7, weights=[1 / 7] * 7, layout="chunk")
    expected = L.sequence_log_ratio(t)[:, None].expand_as(log_r)
    assert close(log_r[t.mask > 0], expected[t.mask > 0])
    for k in (7, 12):  # a chunk as long as, or longer than, the completion
        mpo = value_and_grad(loss_fn("mpo", k=k, base="grpo", layout="chunk", weights="uniform", beta=0.0,
                                     eps_low=0.1, eps_high=0.1), t)
        gspo = value_and_grad(loss_fn("gspo", eps_low=0.1, eps_high=0.1), t)
        assert close(mpo[0], gspo[0]) and close(mpo[1], gspo[1])


def test_mpo_product_is_the_joint_ratio_of_the_block(batch_factory):
    t = batch_factory()
    lr = (t.logp - t.logp_old).detach() * t.mask
    k = 3
    log_r = L.block_log_ratio(lr, t.mask, k=k, weights=[1.0] * k, layout="sliding", renormalize=False)
    for i in range(lr.shape[0]):
        for j in range(lr.shape[1]):
            assert log_r[i, j].item() == pytest.approx(lr[i, j:j + k].sum().item(), abs=1e-12)


def test_mpo_sliding_weights_and_tail(batch_factory):
    t = batch_factory(lengths=[7, 5, 4, 7, 6, 3])
    lr = (t.logp - t.logp_old).detach()
    w = L.block_weights(3, "future:0.4")
    assert w == pytest.approx([0.6, 0.2, 0.2])
    renorm = L.block_log_ratio(lr, t.mask, 3, w, layout="sliding", renormalize=True)
    pad = L.block_log_ratio(lr, t.mask, 3, w, layout="sliding", renormalize=False)
    # sequence 1 has 5 tokens: the block of token 3 holds tokens 3 and 4 only
    assert renorm[1, 3].item() == pytest.approx((0.6 * lr[1, 3] + 0.2 * lr[1, 4]).item() / 0.8)
    assert pad[1, 3].item() == pytest.approx((0.6 * lr[1, 3] + 0.2 * lr[1, 4]).item())
    assert renorm[1, 4].item() == pytest.approx(lr[1, 4].item())
    assert renorm[1, 1].item() == pytest.approx(pad[1, 1].item())  # a full block: no difference


def test_mpo_on_policy_is_a_reweighting_of_grpo(batch_factory, value_and_grad):
    """With ratio 1 (one update per rollout) MPO's gradient is GRPO's times per-position weights."""
    t = batch_factory(lengths=[7] * 6)
    t = dataclasses.replace(t, logp_old=t.logp.detach())
    _, g_grpo = value_and_grad(loss_fn("grpo", beta=0.0), t)
    _, g_prod = value_and_grad(loss_fn("mpo", k=3, base="grpo", ratio="product", weights="uniform", beta=0.0), t)
    _, g_unif = value_and_grad(loss_fn("mpo", k=3, base="grpo", weights="uniform", tail="pad", beta=0.0), t)
    # interior tokens belong to k blocks: product counts each k times, uniform k x 1/k = once
    assert close(g_prod[:, 2:], 3 * g_grpo[:, 2:])
    assert close(g_unif[:, 2:], g_grpo[:, 2:])
    assert close(g_unif[:, 0], g_grpo[:, 0] / 3)


# ----------------------------------------------------------------------------- TEPO


def test_tepo_kl_mask_is_positive_advantage_and_falling_entropy(batch_factory):
    t = batch_factory()
    mask = L.tepo_kl_mask(t, "analytic")
    expected = (t.advantages[:, None] > 0) & ((t.logp.detach() + t.entropy) > 0) & (t.mask > 0)
    assert torch.equal(mask.bool(), expected)
    assert expected.any() and (~expected & (t.mask > 0)).any()
    empirical = L.tepo_kl_mask(t, "empirical")
    assert torch.equal(empirical.bool(), (t.advantages[:, None] > 0) & (t.entropy < t.entropy_old) & (t.mask > 0))


@pytest.mark.parametrize("criterion", ["analytic", "empirical"])
def test_tepo_kl_gradient_is_zero_off_the_mask(batch_factory, value_and_grad, criterion):
    t = batch_factory()
    _, with_kl = value_and_grad(loss_fn("tepo", beta=0.5, criterion=criterion), t)
    _, without = value_and_grad(loss_fn("tepo", beta=0.0, criterion=criterion), t)
    kl_grad = with_kl - without
    on = L.tepo_kl_mask(t, criterion).bool()
    assert torch.all(kl_grad[~on].abs() < 1e-14)
    assert torch.all(kl_grad[on].abs() > 1e-8)


def test_tepo_without_kl_is_gspo_token_with_a_token_mean(batch_factory, value_and_grad):
    t = batch_factory(drift=0.05)
    tepo = value_and_grad(loss_fn("tepo", beta=0.0), t)
    ratio = L.sequence_ratio_per_token

    def expected(x: PolicyTensors) -> torch.Tensor:
        per_token = L.clipped_surrogate(ratio(x), x.advantages[:, None], 0.2, 0.28)
        return L.aggregate(per_token, x.mask, "token-mean")

    ref = value_and_grad(expected, t)
    assert close(tepo[0], ref[0]) and close(tepo[1], ref[1])


def test_softmax_entropy_derivative_identity():
    """dH/dz_a = -pi_a (log pi_a + H): the basis of TEPO's analytic criterion."""
    z = torch.randn(9, dtype=torch.float64, requires_grad=True)
    logp = z.log_softmax(-1)
    entropy = -(logp.exp() * logp).sum()
    (grad,) = torch.autograd.grad(entropy, z)
    expected = -logp.exp() * (logp + entropy)
    assert close(grad, expected.detach())
    # a positive-advantage step on token a (raising z_a) lowers H exactly when log pi_a + H > 0
    assert torch.equal(grad < 0, (logp + entropy).detach() > 0)


def test_kl_needs_a_reference(batch_factory):
    t = dataclasses.replace(batch_factory(), logp_ref=None)
    assert compute_loss("dapo", t).kl is None
    with pytest.raises(ValueError, match="logp_ref"):
        compute_loss("grpo", t)


def test_k3_is_nonnegative_and_zero_at_equality():
    a = torch.randn(100, dtype=torch.float64)
    b = torch.randn(100, dtype=torch.float64)
    assert torch.all(L.k3_kl(a, b) >= 0)
    assert torch.all(L.k3_kl(a, a) == 0)
    assert L.k3_kl(torch.tensor(0.0), torch.tensor(math.log(0.5))).item() == pytest.approx(0.5 - math.log(0.5) - 1)
