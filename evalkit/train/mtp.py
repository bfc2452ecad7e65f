"""Multi-token prediction (MTP) modules for MPO: build, warm up (Stage 1), score, save and load.

MPO (arXiv 2602.14386v1, Sec. 3.2, App. A.1, Alg. 1) takes the future terms of its block ratio from
DeepSeek-V3-style MTP modules. Module k = 2..K reads, at position t, the previous depth's hidden
state and the embedding of token t+k-1, and predicts token t+k:

    h_t^k = L_k(M_k([RMSNorm(h_t^{k-1}); RMSNorm(Emb(o_{t+k-1}))]))
    p_k(o_{t+k} | q, o_{1:t+k-1}) = softmax(Head_k(Norm_k(h_t^k)))

h_t^1 is the backbone's last hidden state (after its final norm: what its LM head reads); M_k is a
learned projection 2H -> H (initialised to pass h^{k-1} through and ignore the embedding); L_k is a
transformer block deep-copied from the backbone's last layer, with full causal attention over the
sequence; Norm_k and Head_k are deep copies of the backbone's final norm and LM head; the token
embedding is the backbone's own (shared, as in DeepSeek-V3).

Stage 1 (`warm_up`) trains only the modules, backbone frozen, on the train split's reference
solutions with L_MTP = sum_{k=2..K} alpha_k mean_t(-log p_k(o_{t+k})), alpha_k = decay^(k-2) (the paper
says only that alpha_k decays). The modules are detached for inference: a checkpoint is a plain
Hugging Face model, with the modules in a sub-directory `mtp/` beside it (`save`, `load`).

Supported backbones: transformers decoders with `model.layers`, `model.norm`, `model.rotary_emb`
and input embeddings (Llama, Qwen2, Mistral, SmolLM2...); others raise a UsageError.
"""

from __future__ import annotations

import copy
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from evalkit.errors import UsageError
from evalkit.train.rollout import PolicyForward, Rollout, policy_forward

MTP_DIR = "mtp"
MTP_WEIGHTS = "modules.safetensors"
MTP_CONFIG = "mtp_config.json"
MTP_FORMAT = 1


def backbone_parts(model: Any) -> tuple[nn.Module, nn.Module, nn.Module]:
    """(body, its last transformer layer, its final norm) of a supported causal LM."""
    body = getattr(model, "base_model", None)
    layers, norm = getattr(body, "layers", None), getattr(body, "norm", None)
    if body is None or body is model or layers is None or len(layers) == 0 or norm is None \
            or getattr(body, "rotary_emb", None) is None:
        raise UsageError(f"MTP modules need a transformers decoder with model.layers, model.norm and "
                         f"model.rotary_emb (Llama, Qwen2, Mistral...); {type(model).__name__} has not. "
                         "Use --loss-option future=backbone")
    return body, layers[-1], norm


class MTPModule(nn.Module):
    """One prediction depth: projection M_k, block L_k, norm and LM head, copied from `backbone`."""

    def __init__(self, backbone: Any) -> None:
        super().__init__()
        _, last_layer, final_norm = backbone_parts(backbone)
        hidden = backbone.config.hidden_size
        weight = next(last_layer.parameters())
        self.hidden_norm = copy.deepcopy(final_norm)
        self.embed_norm = copy.deepcopy(final_norm)
        self.projection = nn.Linear(2 * hidden, hidden, bias=False, device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            self.projection.weight.zero_()
            self.projection.weight[:, :hidden].copy_(torch.eye(hidden))
        self.block = copy.deepcopy(last_layer)
        self.norm = copy.deepcopy(final_norm)
        self.head = copy.deepcopy(backbone.get_output_embeddings())

    def forward(self, previous: Tensor, embeddings: Tensor, *, attention_mask: Any, positions: Tensor,
                position_embeddings: Any) -> Tensor:
        """h^k `[N, L, H]` from h^{k-1} and the embeddings of the tokens one step ahead."""
        mixed = self.projection(torch.cat([self.hidden_norm(previous), self.embed_norm(embeddings)], dim=-1))
        return self.block(mixed, attention_mask=attention_mask, position_ids=positions,
                          position_embeddings=position_embeddings)

    def log_probs(self, hidden: Tensor, temperature: float = 1.0) -> Tensor:
        return (self.head(self.norm(hidden)).float() / temperature).log_softmax(-1)


class MTPStack(nn.Module):
    """The K-1 modules of an MPO block of K tokens; `modules_[i]` is depth k = i + 2."""

    def __init__(self, backbone: Any, n_modules: int) -> None:
        super().__init__()
        if n_modules < 1:
            raise UsageError(f"an MTP stack needs at least one module (MPO k >= 2); got {n_modules}")
        self.depths = nn.ModuleList(MTPModule(backbone) for _ in range(n_modules))

    def __len__(self) -> int:
        return len(self.depths)

    def future_logprobs(self, backbone: Any, forward: PolicyForward, completion_ids: Tensor, *,
                        temperature: float = 1.0, detach_backbone: bool = True) -> Tensor:
        """`[N, T, K-1]`: at completion position t, module k's log-prob of completion token t+k-1 (k = 2..K).

        `forward` is the backbone's forward with hidden states over prompt + completion. Entries whose
        token lies past the completion width are 0 (callers mask them). With `detach_backbone`, no
        gradient reaches the backbone through the modules (MPO's App. A.1).
        """
        if forward.hidden is None:
            raise ValueError("MTP modules need the backbone forward's hidden states (with_hidden=True)")
        body, _, _ = backbone_parts(backbone)
        embed = backbone.get_input_embeddings()
        previous = forward.hidden.detach() if detach_backbone else forward.hidden
        mask = _causal_mask(backbone, previous, forward.attention, forward.positions)
        rotary = body.rotary_emb(previous, forward.positions)
        width = completion_ids.shape[1]
        pad = torch.zeros_like(completion_ids[:, :1])
        out = []
        for i, module in enumerate(self.depths):
            shift = i + 1  # module k = i + 2 reads the embedding of the token k - 1 = i + 1 places ahead
            ahead = torch.cat([forward.input_ids[:, shift:], pad.expand(-1, shift)], dim=1)
            embeddings = embed(ahead)
            if detach_backbone:
                embeddings = embeddings.detach()
            previous = module(previous, embeddings, attention_mask=mask, positions=forward.positions,
                              position_embeddings=rotary)
            logp_all = module.log_probs(previous[:, -(width + 1):-1], temperature)  # predicts token t + k - 1
            targets = torch.cat([completion_ids[:, shift:], pad.expand(-1, shift)], dim=1)
            valid = torch.arange(width, device=completion_ids.device) < width - shift
            out.append(logp_all.gather(-1, targets.unsqueeze(-1)).squeeze(-1) * valid)
        return torch.stack(out, dim=-1)


def _causal_mask(backbone: Any, embeds: Tensor, attention: Tensor, positions: Tensor) -> Any:
    from transformers.masking_utils import create_causal_mask

    return create_causal_mask(config=backbone.config, inputs_embeds=embeds, attention_mask=attention, cache=None,
                              position_ids=positions)


def build(backbone: Any, n_modules: int) -> MTPStack:
    """Fresh modules copied from `backbone` (for an MPO block of K = n_modules + 1 tokens)."""
    return MTPStack(backbone, n_modules).eval()


# ----------------------------------------------------------------------------- Stage 1: warm-up


def warmup_loss_weights(n_modules: int, decay: float) -> list[float]:
    """alpha_k = decay^(k-2) for k = 2..K: the first module weighs most (the paper: decaying alpha_k)."""
    return [decay ** i for i in range(n_modules)]


def mtp_loss(mtp: MTPStack, backbone: Any, batch: Rollout, alphas: Sequence[float]) -> tuple[Tensor, list[float]]:
    """L_MTP on `batch` (prompt + reference solution) with the backbone frozen; also each module's token NLL."""
    with torch.no_grad():
        forward = policy_forward(backbone, batch, with_hidden=True)
    future = mtp.future_logprobs(backbone, forward, batch.completion_ids, detach_backbone=True)
    mask = batch.completion_mask.to(future.dtype)
    total = future.new_zeros(())
    per_module = []
    for i, alpha in enumerate(alphas):
        valid = mask[:, i + 1:]  # the target token t + k - 1 exists (k = i + 2)
        nll = -(future[:, : valid.shape[1], i] * valid).sum() / valid.sum().clamp(min=1)
        total = total + alpha * nll
        per_module.append(float(nll.detach()))
    return total, per_module


@dataclass(frozen=True)
class WarmupSettings:
    steps: int
    lr: float = 1e-4
    batch_size: int = 8
    alpha_decay: float = 0.8
    max_tokens: int = 256
    seed: int = 0
    max_grad_norm: float = 1.0


def solution_batch(tokenizer: Any, pairs: Sequence[tuple[str, str]], *, max_tokens: int,
                   add_special_tokens: bool = False) -> Rollout:
    """Prompt + reference solution (+ EOS) laid out as a rollout: prompts left-padded, solutions right-padded."""
    pad_id = tokenizer.pad_token_id
    prompts = [tokenizer(p, add_special_tokens=add_special_tokens)["input_ids"] for p, _ in pairs]
    solutions = [(tokenizer(s, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id])[:max_tokens]
                 for _, s in pairs]
    p_width, c_width = max(map(len, prompts)), max(map(len, solutions))
    prompt_ids = torch.tensor([[pad_id] * (p_width - len(p)) + p for p in prompts])
    prompt_mask = torch.tensor([[0] * (p_width - len(p)) + [1] * len(p) for p in prompts])
    completion_ids = torch.tensor([s + [pad_id] * (c_width - len(s)) for s in solutions])
    completion_mask = torch.tensor([[1] * len(s) + [0] * (c_width - len(s)) for s in solutions])
    truncated = torch.tensor([s[-1] != tokenizer.eos_token_id for s in solutions])
    return Rollout(prompt_ids, prompt_mask, completion_ids, completion_mask, truncated, [s for _, s in pairs])


def warm_up(mtp: MTPStack, backbone: Any, tokenizer: Any, pairs: Sequence[tuple[str, str]], settings: WarmupSettings,
            *, add_special_tokens: bool = False, log: Callable[[dict[str, Any]], None] | None = None) -> list[float]:
    """MPO's Stage 1 (Alg. 1): train the MTP modules alone on (prompt, reference solution) pairs; returns the losses.

    The backbone is frozen (no gradient, eval mode); AdamW on the modules, `settings.steps` batches
    drawn at random from `pairs`. `log` receives one record per step.
    """
    if not pairs:
        raise UsageError("the MTP warm-up needs reference solutions, and the task has none")
    device = next(backbone.parameters()).device
    rng = random.Random(settings.seed)
    alphas = warmup_loss_weights(len(mtp), settings.alpha_decay)
    optimizer = torch.optim.AdamW(mtp.parameters(), lr=settings.lr, weight_decay=0.0)
    backbone.eval()
    losses = []
    for step in range(1, settings.steps + 1):
        start = time.perf_counter()
        chosen = rng.sample(list(pairs), min(settings.batch_size, len(pairs)))
        batch = solution_batch(tokenizer, chosen, max_tokens=settings.max_tokens,
                               add_special_tokens=add_special_tokens).to(device)
        loss, per_module = mtp_loss(mtp, backbone, batch, alphas)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(mtp.parameters(), settings.max_grad_norm)
        optimizer.step()
        losses.append(float(loss.detach()))
        if log is not None:
            log({"mtp_warmup_step": step, "mtp_loss": losses[-1], "mtp_nll": per_module,
                 "time_s": time.perf_counter() - start})
    optimizer.zero_grad(set_to_none=True)
    return losses


@torch.no_grad()
def heldout_loss(mtp: MTPStack, backbone: Any, tokenizer: Any, pairs: Sequence[tuple[str, str]], *,
                 alpha_decay: float = 0.8, max_tokens: int = 256, batch_size: int = 8,
                 add_special_tokens: bool = False) -> float:
    """L_MTP averaged over `pairs` (batches of `batch_size`), e.g. on the test split's reference solutions."""
    device = next(backbone.parameters()).device
    alphas = warmup_loss_weights(len(mtp), alpha_decay)
    total, count = 0.0, 0
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start:start + batch_size]
        batch = solution_batch(tokenizer, chunk, max_tokens=max_tokens, add_special_tokens=add_special_tokens)
        loss, _ = mtp_loss(mtp, backbone, batch.to(device), alphas)
        total += float(loss) * len(chunk)
        count += len(chunk)
    return total / max(count, 1)


# ----------------------------------------------------------------------------- checkpoints


def save(mtp: MTPStack, checkpoint: Path) -> Path:
    """Write the modules to `checkpoint/mtp/` (safetensors + a small config), beside the plain HF model."""
    from safetensors.torch import save_file

    path = Path(checkpoint) / MTP_DIR
    path.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().contiguous().cpu() for name, tensor in mtp.state_dict().items()}
    save_file(state, str(path / MTP_WEIGHTS))
    config = {"format": MTP_FORMAT, "modules": len(mtp), "block_tokens": len(mtp) + 1,
              "paper": "arXiv 2602.14386v1 (MPO), DeepSeek-V3-style MTP modules"}
    (path / MTP_CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return path


def load(checkpoint: Path, backbone: Any) -> MTPStack:
    """The modules saved in `checkpoint/mtp/` (or `checkpoint` itself), on `backbone`'s device and dtype."""
    from safetensors.torch import load_file

    path = Path(checkpoint)
    path = path / MTP_DIR if (path / MTP_DIR / MTP_CONFIG).is_file() else path
    config_file = path / MTP_CONFIG
    if not config_file.is_file():
        raise UsageError(f"no MTP modules at {checkpoint}: expected {MTP_DIR}/{MTP_CONFIG} (written by evalkit train "
                         "with --loss-option future=mtp)")
    config = json.loads(config_file.read_text(encoding="utf-8"))
    if config.get("format") != MTP_FORMAT:
        raise UsageError(f"{config_file}: unknown MTP format {config.get('format')!r}")
    mtp = build(backbone, int(config["modules"]))
    state = load_file(str(path / MTP_WEIGHTS))
    try:
        mtp.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise UsageError(f"the MTP modules at {path} do not fit this model ({str(exc).splitlines()[0]})") from None
    return mtp


def check_depth(mtp: MTPStack, n_modules: int) -> MTPStack:
    """Loaded modules must match the block size the loss asks for (k = modules + 1)."""
    if len(mtp) != n_modules:
        raise UsageError(f"the MTP modules hold {len(mtp)} depth(s) but MPO k={n_modules + 1} needs {n_modules}; "
                         f"set --loss-option k={len(mtp) + 1} or start from fresh modules")
    return mtp
