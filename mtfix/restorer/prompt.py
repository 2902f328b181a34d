"""The restorer's prompt, shared by training (`train`), data building (`data`) and inference
(`model`, `propose`). Changing anything here invalidates trained adapters: bump
`PROMPT_VERSION`, which the adapter folder records in restorer.json.

    [<|endoftext|>]Context: <up to CONTEXT_CHARS characters of preceding text>
    Restore: <the sentence>
    Restored: <the restored sentence><eos>

The "Context:" line is left out when there is no preceding text. Whitespace inside the
context and the sentence is collapsed to single spaces. During training the loss covers only
" <restored sentence><eos>" (tokenised separately from the prompt, as at inference).
"""

from __future__ import annotations

PROMPT_VERSION = 1
# Preceding text shown to the model (about 40 tokens); cut at a word boundary.
CONTEXT_CHARS = 200


def normalise(text: str) -> str:
    return " ".join(text.split())


def context_window(before: str, max_chars: int = CONTEXT_CHARS) -> str:
    """The last `max_chars` characters of the text before a sentence, whole words only."""
    text = normalise(before)
    if len(text) <= max_chars:
        return text
    cut = text[-max_chars:]
    space = cut.find(" ")
    return cut[space + 1 :] if space >= 0 else ""


def format_prompt(sentence: str, context: str = "") -> str:
    lines = []
    context = normalise(context)
    if context:
        lines.append(f"Context: {context}")
    lines.append(f"Restore: {normalise(sentence)}")
    lines.append("Restored:")
    return "\n".join(lines)


def format_target(target: str) -> str:
    """The text after the prompt (the end-of-sequence token is appended as an id)."""
    return " " + normalise(target)
