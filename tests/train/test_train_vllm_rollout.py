"""vLLM rollouts for the trainer, run on a stand-in that accepts exactly vLLM 0.33.0's parameters.

No GPU here, so vLLM itself never runs: `vllm_standin` checks every call against vLLM's source and puts a
real tiny model behind the API, so the tests can check what matters for RL: rollouts hold the tokens the
sampler drew with the log-probs it drew them with, weights follow every update (also through sleep
mode), and the trainer's loop runs on these rollouts. The last tests read the vLLM facts the design
relies on straight from its source.
"""

from __future__ import annotations

import ast
import sys

import pytest
import torch
from vllm_source import find_class, method, parse, real_api, source_text
from vllm_standin import standin_vllm

from evalkit.errors import UsageError
from evalkit.train.config import TrainConfig
from evalkit.train.rollout import SamplingSettings, token_logprobs
from evalkit.train.tasks import AdditionTask
from evalkit.train.toy import char_tokenizer, tiny_llama
from evalkit.train.trainer import make_generator, train
from evalkit.train.vllm_rollout import VLLMGenerator, build_rollout, import_vllm


@pytest.fixture(scope="module")
def api() -> dict[str, set[str]]:
    return real_api()


@pytest.fixture
def vllm(api, monkeypatch: pytest.MonkeyPatch):
    module = standin_vllm(api)
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "1")  # the generator must switch it off itself
    return module


@pytest.fixture(scope="module")
def tokenizer():
    return char_tokenizer()


def small_model(tokenizer, seed: int = 0):
    return tiny_llama(tokenizer, hidden=32, layers=1, heads=2, context=32, seed=seed)


def same_weights(llm, model) -> bool:
    theirs = dict(llm.model.named_parameters())
    return all(torch.equal(theirs[name], p) for name, p in model.named_parameters())


def test_rollouts_hold_the_sampled_tokens_and_their_logprobs(vllm, tokenizer):
    model = small_model(tokenizer)
    generator = VLLMGenerator(model, tokenizer, seed=3)
    (llm,) = vllm.instances
    kwargs = llm.kwargs
    assert kwargs["load_format"] == "dummy" and kwargs["generation_config"] == "vllm"
    assert kwargs["logprobs_mode"] == "processed_logprobs" and kwargs["dtype"] == "float32"
    assert not same_weights(llm, model)  # dummy weights until the first push

    prompts = ["1+2=", "11+22+3="]
    out = generator.generate(prompts, 8, SamplingSettings(max_new_tokens=6, temperature=1.0))
    assert generator.pushes == 1 and same_weights(llm, model)
    assert llm.calls[1:] == [("apply_model",), ("load_weights", len(list(model.parameters()))),
                             ("reset_prefix_cache",), ("generate", 2)]

    # prompts: the HF tokenization, left-padded, each repeated G times in a contiguous group
    enc = tokenizer(prompts, padding=True, add_special_tokens=False, return_tensors="pt")
    assert torch.equal(out.prompt_ids, enc["input_ids"].repeat_interleave(8, dim=0))
    assert torch.equal(out.prompt_mask, enc["attention_mask"].repeat_interleave(8, dim=0))
    # completions: the sampler's tokens in its order (the stand-in returns them reversed), EOS kept
    drawn = [llm.sampled[g * 8 + j] for g in range(2) for j in range(8)]
    for row, tokens in enumerate(drawn):
        mask = out.completion_mask[row].bool()
        assert out.completion_ids[row][mask].tolist() == tokens
        assert out.truncated[row].item() == (tokens[-1] != tokenizer.eos_token_id)
        assert out.texts[row] == tokenizer.decode(tokens, skip_special_tokens=True)
    assert out.truncated.any() and (~out.truncated).any()  # both kinds occur with this seed
    # the sampler's log-probs are the trainer's log-probs of the same tokens at the same positions
    logp, _ = token_logprobs(model, out)
    mask = out.completion_mask.bool()
    assert torch.allclose(out.sampling_logprobs[mask], logp[mask], atol=1e-5)
    assert torch.all(out.sampling_logprobs[~mask] == 0)


def test_greedy_rollouts_ask_for_no_logprobs_and_repeat(vllm, tokenizer):
    generator = VLLMGenerator(small_model(tokenizer), tokenizer)
    first = generator.generate(["1+2=", "1+2="], 1, SamplingSettings(max_new_tokens=5, temperature=0.0))
    again = generator.generate(["1+2="], 1, SamplingSettings(max_new_tokens=5, temperature=0.0))
    assert first.sampling_logprobs is None
    assert first.texts[0] == first.texts[1] == again.texts[0]
    assert generator.pushes == 1  # the policy did not change


def test_weights_are_pushed_after_every_policy_change(vllm, tokenizer):
    model = small_model(tokenizer)
    generator = VLLMGenerator(model, tokenizer)
    (llm,) = vllm.instances
    settings = SamplingSettings(max_new_tokens=3)
    generator.generate(["1+1="], 2, settings)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01)
    assert not same_weights(llm, model)
    generator.policy_changed()
    generator.generate(["1+1="], 2, settings)
    assert generator.pushes == 2 and same_weights(llm, model)
    loads = [i for i, c in enumerate(llm.calls) if c[0] == "load_weights"]
    assert all(llm.calls[i + 1] == ("reset_prefix_cache",) for i in loads)


def test_sleep_mode_frees_the_gpu_between_generations_and_restores_the_weights(vllm, tokenizer):
    model = small_model(tokenizer)
    generator = VLLMGenerator(model, tokenizer, sleep=True)
    (llm,) = vllm.instances
    assert llm.kwargs["enable_sleep_mode"] is True and llm.calls == [("LLM",), ("sleep", 2)]
    settings = SamplingSettings(max_new_tokens=3)
    for _ in range(2):  # no policy change in between: the weights were discarded, so they are pushed again
        del llm.calls[:]
        generator.generate(["1+1="], 2, settings)
        assert [c[0] if c[0] != "wake_up" else c for c in llm.calls] == [
            ("wake_up", ("weights",)), "apply_model", "load_weights", "reset_prefix_cache",
            ("wake_up", ("kv_cache",)), "generate", "sleep"]
    assert generator.pushes == 2


def test_a_push_that_misses_a_parameter_is_an_error(api, monkeypatch, tokenizer):
    model = small_model(tokenizer)
    skipped = next(name for name, _ in model.named_parameters() if "q_proj" in name)
    monkeypatch.setitem(sys.modules, "vllm", standin_vllm(api, skip_on_load=skipped))
    generator = VLLMGenerator(model, tokenizer)
    with pytest.raises(RuntimeError, match="q_proj"):
        generator.generate(["1+1="], 2, SamplingSettings(max_new_tokens=3))


def test_build_rollout_never_reads_padding_as_eos():
    """A row cut short without EOS (vLLM's max_model_len) stays truncated even when pad == EOS."""
    tok = char_tokenizer()
    tok.pad_token = tok.eos_token
    eos = tok.eos_token_id
    rollout = build_rollout([[5, 6], [7]], [[3, 4, eos], [3]], [[-0.1, -0.2, -0.3], [-0.5]], tok, [eos])
    assert rollout.completion_mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert rollout.truncated.tolist() == [False, True]
    assert rollout.prompt_ids.tolist() == [[5, 6], [eos, 7]] and rollout.prompt_mask.tolist() == [[1, 1], [0, 1]]
    assert torch.allclose(rollout.sampling_logprobs, torch.tensor([[-0.1, -0.2, -0.3], [-0.5, 0, 0]]))


def toy_config(tmp_path, **overrides) -> TrainConfig:
    base = dict(benchmark="addition", output=str(tmp_path / "run"), steps=2, prompts_per_step=4, group_size=4,
                lr=1e-3, max_new_tokens=3, epochs=2, minibatches=2, eval_every=2, eval_size=8)
    return TrainConfig(**{**base, **overrides})


@pytest.mark.parametrize("sleep", [False, True], ids=["awake", "sleep-mode"])
def test_the_trainer_runs_on_vllm_rollouts_and_vllm_follows_the_policy(vllm, tokenizer, tmp_path, sleep):
    task = AdditionTask(digits=1, n_heldout=20, seed=0)
    model = small_model(tokenizer)
    cfg = toy_config(tmp_path)
    generator = VLLMGenerator(model, tokenizer, sleep=sleep)
    lines: list[str] = []
    history = train(cfg, model, tokenizer, task, generator=generator, log=lines.append)
    assert "sampler-gap 0.0000" in lines[-1]
    (llm,) = vllm.instances
    assert [e["step"] for e in history] == [0, 1, 2] and history[-1]["updates"] == 4
    for entry in history[1:]:
        assert entry["sampler_logp_gap"] < 1e-5  # same weights, same float32 math: no mismatch
    # eval at step 0, step 1's rollout (same weights), step 2's rollout and eval after one update each
    assert generator.pushes == (4 if sleep else 3)
    assert all(torch.equal(llm.generated_with[name], p) for name, p in model.named_parameters())  # the final policy


def test_dynamic_sampling_keeps_each_row_with_its_own_sampler_logprobs(vllm, tokenizer, tmp_path):
    """DAPO drops and refills groups (Rollout.select / cat): a misaligned row would show as a large gap."""
    task = AdditionTask(digits=1, n_heldout=20, seed=0)
    model = small_model(tokenizer)
    cfg = toy_config(tmp_path, algo="dapo", steps=3, max_gen_batches=3, eval_every=0, temperature=1.5)
    history = train(cfg, model, tokenizer, task, generator=VLLMGenerator(model, tokenizer), log=lambda line: None)
    trained = [e for e in history if "sampler_logp_gap" in e]
    assert trained and all(e["sampler_logp_gap"] < 1e-5 for e in trained)
    assert any(e["gen_rounds"] > 1 for e in history)  # groups were dropped and refilled


def test_make_generator_passes_the_vllm_settings(vllm, tokenizer):
    cfg = TrainConfig(rollout_engine="vllm", vllm_gpu_memory=0.5, vllm_max_model_len=64,
                      vllm_sleep=True, seed=7)
    generator = make_generator(cfg, small_model(tokenizer), tokenizer)
    assert isinstance(generator, VLLMGenerator)
    kwargs = vllm.instances[0].kwargs
    assert (kwargs["gpu_memory_utilization"], kwargs["max_model_len"], kwargs["enable_sleep_mode"],
            kwargs["seed"]) == (0.5, 64, True, 7)


@pytest.mark.parametrize("settings,message", [
    (dict(rollout_engine="vllm"), "--device cuda"),
    (dict(rollout_engine="vllm", device="cuda:1"), "CUDA_VISIBLE_DEVICES"),
    (dict(rollout_engine="vllm", device="cuda", vllm_gpu_memory=1.2), "in \\(0, 1\\)"),
    (dict(rollout_engine="vllm", device="cuda", vllm_max_model_len=100, max_new_tokens=256), "must exceed"),
    (dict(rollout_engine="sglang"), "one of hf, vllm"),
])
def test_bad_rollout_settings_are_refused(settings, message):
    with pytest.raises(UsageError, match=message):
        TrainConfig(**settings).resolved()


def test_missing_vllm_is_a_usage_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm raises ImportError
    with pytest.raises(UsageError, match=r"pip install 'evalkit\[vllm\]'"):
        import_vllm()


# ----------------------------------------------------------------------------- what vLLM 0.33.0's source says


def test_vllm_keeps_the_stop_token_in_the_output_ids():
    """check_stop reads the token already appended to output_token_ids: EOS ends the completion and stays in it."""
    tree = parse("v1/core/sched/utils.py")
    text = ast.unparse(next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check_stop"))
    assert "last_token_id = request.output_token_ids[-1]" in text
    assert "last_token_id in (sampling_params.stop_token_ids or ())" in text


def test_vllm_runs_apply_model_in_this_process_without_multiprocessing():
    engine = find_class(parse("v1/engine/llm_engine.py"), "LLMEngine")
    llm_init = ast.unparse(method(find_class(parse("entrypoints/llm.py"), "LLM"), "__init__"))
    assert "LLMEngine.from_engine_args(" in llm_init
    from_args = ast.unparse(method(engine, "from_engine_args"))
    assert "if envs.VLLM_ENABLE_V1_MULTIPROCESSING:" in from_args
    assert "multiprocess_mode=enable_multiprocessing" in from_args
    in_process = "self.model_executor = self.engine_core.engine_core.model_executor"
    assert in_process in ast.unparse(method(engine, "__init__"))
    assert "collective_rpc('apply_model'" in ast.unparse(method(engine, "apply_model"))
    rpc = ast.unparse(method(find_class(parse("v1/executor/uniproc_executor.py"), "UniProcExecutor"),
                             "collective_rpc"))
    assert "run_method(self.driver_worker, method, args, kwargs)" in rpc  # a direct call: tensors are not copied
    worker_apply = ast.unparse(method(find_class(parse("v1/worker/worker_base.py"), "WorkerBase"), "apply_model"))
    assert "return fn(self.get_model())" in worker_apply
    assert "'VLLM_ENABLE_V1_MULTIPROCESSING'" in ast.unparse(parse("envs.py"))


def test_our_push_check_is_the_one_vllm_makes_when_loading_a_checkpoint():
    loader = ast.unparse(find_class(parse("model_executor/model_loader/default_loader.py"), "DefaultModelLoader"))
    assert "loaded_weights = model.load_weights(" in loader
    assert "weights_not_loaded = weights_to_load - loaded_weights" in loader
    assert "for name, _ in model.named_parameters()" in loader
    llama = find_class(parse("model_executor/models/llama.py"), "LlamaForCausalLM")
    assert ast.unparse(method(llama, "load_weights").returns) == "set[str]"
    assert '"dummy"' in source_text("model_executor/model_loader/__init__.py")
