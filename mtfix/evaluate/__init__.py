"""`mtfix eval`: measure a repair against reference texts (see metrics.py for the definitions).

mtfix eval pairs.jsonl                       # {"damaged": ..., "reference": ...} a line
mtfix eval --damaged a.txt --reference b.txt # parallel lines
mtfix eval --clean clean.txt                 # false positives on clean text
"""

from .command import eval_command
from .metrics import TOKENISATION, clean_report, evaluate_pairs, score_pair, summarise, tokenize, word_diff

__all__ = [
    "TOKENISATION",
    "clean_report",
    "eval_command",
    "evaluate_pairs",
    "score_pair",
    "summarise",
    "tokenize",
    "word_diff",
]
