"""Our GRPO, DAPO, Dr.GRPO and GSPO losses equal TRL GRPOTrainer's, in value and gradient, on identical tensors.

TRL's loss lives in the private `GRPOTrainer._compute_loss(self, model, inputs)`; it is called
unbound with a stub `self` whose `_get_per_token_logps_and_entropies` returns our tensors, so no
model, accelerator or dataset is built. Private API: pinned to trl==1.16.0 (the dapo normaliser and
the entropy-bonus scaling differ between releases), skipped when trl is absent or another version.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from evalkit.train.losses import Normalizer, PolicyTensors, compute_loss, make_params

TRL_VERSION = "1.16.0"
trl = pytest.importorskip("trl")
if trl.__version__ != TRL_VERSION:
    pytest.skip(f"cross-check pinned to trl=={TRL_VERSION}, found {trl.__version__}", allow_module_level=True)
GRPOTrainer = pytest.importorskip("trl.trainer.grpo_trainer").GRPOTrainer


def trl_loss(t: PolicyTensors, *, loss_type: str, beta: float, eps_low: float, eps_high: float,
             level: str = "token", max_completion_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    logp = t.logp.detach().clone().requires_grad_(True)
    batch, length = t.mask.shape
    entropy = t.entropy if t.entropy is not None else torch.zeros_like(logp)
    stub = SimpleNamespace(
        _get_per_token_logps_and_entropies=lambda *a, **k: (logp, entropy, None),
        top_entropy_quantile=1.0, off_policy_mask_threshold=None, importance_sampling_level=level,
        beta=beta, loss_type=loss_type, epsilon_low=eps_low, epsilon_high=eps_high,
        use_vllm=False, vllm_importance_sampling_correction=False, aux_loss_enabled=False,
        _entropy_bonus_enabled=False, current_gradient_accumulation_steps=1,
        max_completion_length=max_completion_length, model=SimpleNamespace(training=True),
        args=SimpleNamespace(use_bias_correction_kl=False, delta=None, steps_per_generation=1),
        accelerator=SimpleNamespace(num_processes=1, gather=lambda x: x, gather_for_metrics=lambda x: x,
                                    reduce=lambda x, reduction="sum": x),
        _metrics=defaultdict(lambda: defaultdict(list)),
    )
    inputs = {
        "prompt_ids": torch.ones(batch, 1, dtype=torch.long), "prompt_mask": torch.ones(batch, 1, dtype=torch.long),
        "completion_ids": torch.ones(batch, length, dtype=torch.long), "completion_mask": t.mask,
        "advantages": t.advantages, "old_per_token_logps": t.logp_old, "ref_per_token_logps": t.logp_ref,
        "num_items_in_batch": t.mask.sum(),
    }
    loss = GRPOTrainer._compute_loss(stub, None, inputs)
    (grad,) = torch.autograd.grad(loss, logp)
    return loss.detach(), grad


def ours(t: PolicyTensors, algo: str, max_len: int, **overrides) -> tuple[torch.Tensor, torch.Tensor]:
    logp = t.logp.detach().clone().requires_grad_(True)
    out = compute_loss(algo, dataclasses.replace(t, logp=logp), make_params(algo, overrides),
                       Normalizer.of(t.mask, max_len=max_len))
    (grad,) = torch.autograd.grad(out.loss, logp)
    return out.loss.detach(), grad


CASES = [
    # (our algo, our overrides, TRL loss_type, TRL kwargs)
    ("grpo", {}, "grpo", dict(beta=0.04, eps_low=0.2, eps_high=0.2)),
    ("grpo", {"beta": 0.0}, "grpo", dict(beta=0.0, eps_low=0.2, eps_high=0.2)),
    ("dapo", {}, "dapo", dict(beta=0.0, eps_low=0.2, eps_high=0.28)),
    ("dr_grpo", {}, "dr_grpo", dict(beta=0.0, eps_low=0.2, eps_high=0.2)),
    ("gspo", {}, "grpo", dict(beta=0.0, eps_low=3e-4, eps_high=4e-4, level="sequence")),
    ("gspo", {"eps_low": 0.05, "eps_high": 0.08, "beta": 0.04}, "grpo",
     dict(beta=0.04, eps_low=0.05, eps_high=0.08, level="sequence")),
]


@pytest.mark.parametrize("algo,overrides,loss_type,kw", CASES, ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CASES)])
@pytest.mark.parametrize("drift", [0.01, 0.4])
def test_loss_equals_trl_in_value_and_gradient(batch_factory, algo, overrides, loss_type, kw, drift):
    t = batch_factory(seed=11, batch=8, length=9, drift=drift)
    max_len = 12
    ref_value, ref_grad = trl_loss(t, loss_type=loss_type, max_completion_length=max_len, **kw)
    value, grad = ours(t, algo, max_len, **overrides)
    assert torch.allclose(value, ref_value, rtol=1e-10, atol=1e-12)
    assert torch.allclose(grad, ref_grad, rtol=1e-10, atol=1e-12)
    assert grad.abs().sum() > 0
