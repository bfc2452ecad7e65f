"""`--ray` on the command line without a cluster: the no-Ray path untouched, settings refused early, replicas sized.

None of these start Ray: bad settings are refused before connecting, and plain `evalkit run` must never
even import it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest
from ray_helpers import EVALKIT, error_lines
from typer.testing import CliRunner
from vllm_source import real_api

from evalkit.cli import app
from evalkit.distributed.replica import ReplicaSpec, build_engine, replica_spec
from evalkit.engines.base import EngineOptions
from evalkit.errors import UsageError
from evalkit.models import ResolvedModel
from evalkit.options import fill_optional_values

NO_RAY_RUN = r"""
import sys
from evalkit.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    loaded = sorted(m for m in sys.modules if m == "ray" or m.startswith(("ray.", "evalkit.distributed")))
    print("LOADED", loaded)
"""


def test_evalkit_run_without_ray_never_imports_ray(shared_data, smollm2_gguf, tmp_path):
    done = subprocess.run([sys.executable, "-c", NO_RAY_RUN, "run", "-m", "smollm2-135m", "-b", "gsm8k", "--limit", "1",
                           "--max-tokens", "4", "--threads", "1", "--data-dir", str(shared_data), "-o",
                           str(tmp_path / "run")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "LOADED []" in done.stdout
    assert (tmp_path / "run" / "metrics.json").is_file()


def test_a_bare_ray_flag_means_auto():
    assert fill_optional_values(["-m", "x", "--ray"]) == ["-m", "x", "--ray=auto"]
    assert fill_optional_values(["--ray", "--replicas", "2"]) == ["--ray=auto", "--replicas", "2"]
    assert fill_optional_values(["--ray", "10.0.0.1:6379"]) == ["--ray", "10.0.0.1:6379"]
    assert fill_optional_values(["--", "--ray"]) == ["--", "--ray"]


@pytest.mark.parametrize(("args", "message"), [
    (["--replicas", "2"], "error: --replicas, --chunk-size and --code-actors need --ray (add --ray, or drop them)"),
    (["--ray", "--replicas", "0"], "error: --replicas must be at least 1 (got 0)"),
    (["--ray", "--chunk-size", "0"], "error: --chunk-size must be at least 1 (got 0)"),
    (["--ray", "--engine", "openai"], "error: --ray runs engines on the cluster's nodes; --engine openai talks to a "
                                      "server that already serves requests in parallel: drop --ray and raise "
                                      "--concurrency instead"),
])
def test_settings_are_refused_before_any_cluster(args, message, tmp_path):
    done = subprocess.run([EVALKIT, "run", "-m", "smollm2-135m", "-o", str(tmp_path / "run"), *args],
                          capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 2, done.stderr
    assert error_lines(done.stderr) == [message]
    assert not (tmp_path / "run").exists()


def test_help_explains_the_cluster_options():
    result = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    for flag in ("--ray", "--replicas", "--chunk-size", "--ray-start-timeout", "--code-actors"):
        assert flag in result.output


def test_replicas_reserve_their_threads_or_their_gpus():
    gguf = ResolvedModel(spec="m.gguf", path="/m.gguf", name="m", gguf_file="/m.gguf")
    cpu = replica_spec("llamacpp", "m.gguf", gguf, EngineOptions(), cluster_has_gpus=False)
    assert cpu.resources() == {"CPU": 1.0} and cpu.options.threads == 1  # not every core of the node
    assert replica_spec("llamacpp", "m.gguf", gguf, EngineOptions(threads=4), False).resources() == {"CPU": 4.0}
    hub = ResolvedModel(spec="org/m", path="org/m", name="org/m", is_local=False)
    gpu = replica_spec("vllm", "org/m", hub, EngineOptions(tensor_parallel_size=4), cluster_has_gpus=True)
    assert gpu.resources() == {"CPU": 1.0, "GPU": 4.0}
    assert replica_spec("hf", "org/m", hub, EngineOptions(), cluster_has_gpus=True).resources() == \
        {"CPU": 1.0, "GPU": 1.0}
    with pytest.raises(UsageError, match="needs GPUs"):
        replica_spec("vllm", "org/m", hub, EngineOptions(), cluster_has_gpus=False)


def test_vllm_replica_keeps_tensor_parallelism_in_its_own_processes(monkeypatch: pytest.MonkeyPatch):
    """Inside an actor, TP > 1 uses vLLM's multiprocessing executor (no nested Ray); checked on vLLM's source."""
    api = real_api()
    calls: list[dict] = []

    class LLM:
        def __init__(self, **kwargs):
            assert not set(kwargs) - api["LLM.__init__"], set(kwargs) - api["LLM.__init__"]
            calls.append(kwargs)

        def get_tokenizer(self):
            return object()

    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(LLM=LLM, SamplingParams=dict))
    hub = ResolvedModel(spec="org/m", path="org/m", name="org/m", is_local=False)
    build_engine(ReplicaSpec("vllm", "org/m", hub, EngineOptions(tensor_parallel_size=2), use_gpu=True))
    build_engine(ReplicaSpec("vllm", "org/m", hub, EngineOptions(tensor_parallel_size=1), use_gpu=True))
    assert calls[0]["distributed_executor_backend"] == "mp" and calls[0]["tensor_parallel_size"] == 2
    assert "distributed_executor_backend" not in calls[1]


def test_a_replica_reports_a_model_its_node_cannot_see(tmp_path: Path):
    missing = ResolvedModel(spec="x.gguf", path=str(tmp_path / "x.gguf"), name="x", gguf_file=str(tmp_path / "x.gguf"))
    from evalkit.distributed.replica import EngineReplica

    replica = EngineReplica(ReplicaSpec("llamacpp", "x.gguf", missing, EngineOptions(threads=1)))
    assert replica.engine is None
    assert replica.error == f"model {tmp_path / 'x.gguf'} does not exist on this node; every node must see the " \
                            "checkpoints (a shared filesystem)"
    assert json.dumps(replica.error)  # plain text, one line


def test_train_ray_grades_code_rewards_on_the_pool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """`evalkit train --ray ADDRESS` hands the address to the training run, which grades code on the pool."""
    seen = {}
    monkeypatch.setattr("evalkit.train.command.run_training",
                        lambda cfg, log, ray_address=None: seen.update(cfg=cfg, address=ray_address))
    result = CliRunner().invoke(app, ["train", "-b", "humaneval", "-m", "smollm2-135m", "-o", str(tmp_path / "o"),
                                      "--ray", "10.1.2.3:6379"])
    assert result.exit_code == 0, result.output
    assert seen["address"] == "10.1.2.3:6379"
    result = CliRunner().invoke(app, ["train", "-b", "humaneval", "-m", "smollm2-135m", "-o", str(tmp_path / "p"),
                                      "--ray"])
    assert result.exit_code == 0 and seen["address"] == "auto", result.output
