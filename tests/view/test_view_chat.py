"""Prompts as the engines render them -> the chat turns the page shows.

The templates are real: SmolLM2's own (from its GGUF, through evalkit's llama.cpp engine), the JSON the
OpenAI engine records, and the Llama 3, Gemma, Phi-3 and Mistral templates as published in
chujiezheng/chat_templates, rendered the way transformers renders chat templates (a sandboxed Jinja
environment with trim_blocks and lstrip_blocks).
"""

from __future__ import annotations

import importlib.util

import pytest

from evalkit.engines.base import Prompt
from reports.view.chat import Turn, split_turns

MESSAGES = (("system", "Answer briefly."), ("user", "What is $1+1$?\nPlease reason step by step."),
            ("assistant", "It is $\\boxed{2}$."), ("user", "And <b>2+2</b>?"))

# chujiezheng/chat_templates @ 7e915e20 / c1c97d9f / be656846 / 267b6b52 (MIT), as its README loads them:
# indentation and newlines outside the string literals removed.
TEMPLATES = {
    "llama3": "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
              "{% set system_message = '<|start_header_id|>' + 'system' + '<|end_header_id|>\\n\\n' + "
              "messages[0]['content'].strip() + '<|eot_id|>' %}{% else %}{% set loop_messages = messages %}"
              "{% set system_message = '' %}{% endif %}{% for message in loop_messages %}{% if loop.index0 == 0 %}"
              "{{ system_message }}{% endif %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + "
              "message['content'].strip() + '<|eot_id|>' }}{% if loop.last and message['role'] == 'user' and "
              "add_generation_prompt %}{{ '<|start_header_id|>' + 'assistant' + '<|end_header_id|>\\n\\n' }}{% endif %}"
              "{% endfor %}",
    "gemma": "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'assistant') %}"
             "{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
             "{{ '<start_of_turn>' + role + '\\n' + "
             "message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}"
             "{{'<start_of_turn>model\\n'}}{% endif %}",
    "phi3": "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] | trim + "
            "'<|end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}",
    "mistral": "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
               "messages[0]['content'].strip() + '\\n\\n' %}{% else %}{% set loop_messages = messages %}"
               "{% set system_message = '' %}{% endif %}{{ bos_token }}{% for message in loop_messages %}"
               "{% if loop.index0 == 0 %}{% set content = system_message + message['content'] %}{% else %}"
               "{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}"
               "{{ '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
               "{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
}


def render(template: str, messages, bos: str = "", eos: str = "") -> str:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(template).render(messages=[{"role": r, "content": c} for r, c in messages],
                                            add_generation_prompt=True, bos_token=bos, eos_token=eos)


def test_smollm2_template_from_its_gguf_splits_into_its_turns(smollm2_gguf):
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed")
    from evalkit.engines.llamacpp_engine import LlamaCppEngine
    from evalkit.models import resolve_model

    engine = LlamaCppEngine(resolve_model(str(smollm2_gguf)), max_model_len=256, threads=1)
    try:
        text = engine.render(Prompt(messages=MESSAGES[1:]))
    finally:
        engine.close()
    chat = split_turns(text)
    assert chat.format == "chatml" and chat.generation_role == "assistant"
    # SmolLM2's template adds its own system turn when the conversation has none
    assert chat.turns[0].role == "system" and "SmolLM" in chat.turns[0].content
    assert chat.turns[1:] == [Turn(r, c) for r, c in MESSAGES[1:]]


def test_json_messages_of_the_openai_engine():
    from evalkit.engines.openai_engine import OpenAIEngine

    text = OpenAIEngine.render(None, Prompt(messages=MESSAGES))  # render reads nothing from the instance
    chat = split_turns(text)
    assert chat.format == "json" and chat.turns == [Turn(r, c) for r, c in MESSAGES]
    parts = split_turns('[{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]')
    assert parts.turns == [Turn("user", "ab")]


@pytest.mark.parametrize("name,bos,eos", [("llama3", "<|begin_of_text|>", "<|eot_id|>"), ("gemma", "<bos>", "<eos>"),
                                          ("phi3", "<s>", "</s>"), ("mistral", "<s>", "</s>")])
def test_published_templates_split_into_the_messages(name, bos, eos):
    messages = MESSAGES if name != "gemma" else MESSAGES[1:]  # Gemma has no system role
    chat = split_turns(render(TEMPLATES[name], messages, bos, eos))
    assert chat.format == name
    expected = [Turn(r, c.strip()) for r, c in messages]
    if name == "gemma":
        expected = [Turn("model" if t.role == "assistant" else t.role, t.content) for t in expected]
    if name == "mistral":  # Mistral folds the system prompt into the first user turn
        expected = [Turn("user", f"{messages[0][1]}\n\n{messages[1][1]}"), *expected[2:]]
    assert chat.turns == expected
    assert chat.generation_role == ({"gemma": "model", "mistral": "assistant"}.get(name, "assistant"))


def test_deepseek_markers_and_plain_prompts():
    text = "<｜begin▁of▁sentence｜>Be brief.<｜User｜>What is 2+2?<｜Assistant｜>"
    chat = split_turns(text)
    assert chat.format == "deepseek" and chat.generation_role == "Assistant"
    assert chat.turns == [Turn("system", "Be brief."), Turn("User", "What is 2+2?")]
    plain = split_turns("Question: 1+1?\nAnswer:")
    assert plain.format == "plain" and plain.turns == [Turn("prompt", "Question: 1+1?\nAnswer:")]
    assert split_turns("[not json").format == "plain"
