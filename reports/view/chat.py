"""The exact prompt a run sent -> the chat turns it encodes, for display.

prompts.jsonl keeps the text the model saw: a chat template already applied (hf, llama.cpp, vLLM) or
JSON messages (a chat API). The common templates are recognised by their role markers (ChatML, Llama 3,
Gemma, Phi-3, DeepSeek, Mistral `[INST]`); anything else is one plain "prompt" turn. The split is for
reading only: the page always offers the exact text as well.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Turn:
    role: str
    content: str


@dataclass(frozen=True)
class ChatPrompt:
    """`format` names the template recognised ("plain" when none); `generation_role` is the open turn
    the template ends with (the role the model answered as), or None."""

    turns: list[Turn]
    format: str
    generation_role: str | None = None


#: format name -> a pattern whose matches are (role, content) turns; the last turn may be open (no end marker)
_TEMPLATES: dict[str, re.Pattern[str]] = {
    "chatml": re.compile(r"<\|im_start\|>([^\n<]*)\n(.*?)(?:<\|im_end\|>|(?=<\|im_start\|>)|\Z)", re.S),
    "llama3": re.compile(r"<\|start_header_id\|>([^<]*)<\|end_header_id\|>\n?\n?(.*?)(?:<\|eot_id\|>|"
                         r"(?=<\|start_header_id\|>)|\Z)", re.S),
    "gemma": re.compile(r"<start_of_turn>([^\n<]*)\n(.*?)(?:<end_of_turn>|(?=<start_of_turn>)|\Z)", re.S),
    "phi3": re.compile(r"<\|(system|user|assistant)\|>\n?(.*?)(?:<\|end\|>|(?=<\|(?:system|user|assistant)\|>)|\Z)",
                       re.S),
    "deepseek": re.compile(r"<｜(User|Assistant)｜>(.*?)(?:<｜end▁of▁sentence｜>|(?=<｜(?:User|Assistant)｜>)|\Z)",
                           re.S),
}
_MARKERS = {"chatml": "<|im_start|>", "llama3": "<|start_header_id|>", "gemma": "<start_of_turn>",
            "phi3": "<|user|>", "deepseek": "<｜User｜>"}
_INST = re.compile(r"\[INST\](.*?)\[/INST\]", re.S)


def _json_messages(text: str) -> list[Turn] | None:
    body = text.removeprefix("<chat>").strip()
    if not body.startswith("["):
        return None
    try:
        messages = json.loads(body)
    except ValueError:
        return None
    if not isinstance(messages, list) or not all(isinstance(m, dict) and "role" in m for m in messages):
        return None
    turns = []
    for m in messages:
        content = m.get("content", "")
        if isinstance(content, list):  # OpenAI content parts
            content = "".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
        turns.append(Turn(str(m["role"]), "" if content is None else str(content)))
    return turns


def split_turns(text: str) -> ChatPrompt:
    """The turns of a rendered prompt; a prompt in no known chat format is one "prompt" turn."""
    messages = _json_messages(text)
    if messages is not None:
        return ChatPrompt(messages, "json")
    for name, marker in _MARKERS.items():
        if marker not in text:
            continue
        turns = [Turn(role.strip() or "?", content) for role, content in _TEMPLATES[name].findall(text)]
        system = text.split(marker, 1)[0].removeprefix("<｜begin▁of▁sentence｜>")
        if name == "deepseek" and system.strip():  # DeepSeek puts the system prompt before the first marker
            turns.insert(0, Turn("system", system))
        return _close(turns, name)
    if "[INST]" in text:
        turns = []
        pieces = _INST.split(text)  # text before, then alternately user content and what follows
        for i in range(1, len(pieces), 2):
            turns.append(Turn("user", pieces[i].strip()))
            answer = re.sub(r"</s>\s*(<s>)?\s*$", "", pieces[i + 1]).strip()
            if answer:
                turns.append(Turn("assistant", answer))
        return ChatPrompt(turns, "mistral", None if turns and turns[-1].role == "assistant" else "assistant")
    return ChatPrompt([Turn("prompt", text)], "plain")


def _close(turns: list[Turn], name: str) -> ChatPrompt:
    """Drop the template's trailing open turn (the generation prompt) and remember its role."""
    if turns and not turns[-1].content.strip():
        return ChatPrompt(turns[:-1], name, turns[-1].role)
    return ChatPrompt(turns, name)
