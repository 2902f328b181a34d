"""The restorer on its own: every sentence of the first N synthetic documents is rewritten
(no gate) and every edit it proposes is applied (no scorer). This is the figure training
should raise: how often the model's own rewrites are right, before the pipeline filters them.

    .venv/bin/python bench/restorer_alone.py --docs 25 [--split dev] [--adapter DIR]

Prints the `mtfix eval` summary (edits, precision, recall, harmful edits) as JSON.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, read_jsonl  # noqa: E402

from mtfix import pipeline  # noqa: E402
from mtfix.evaluate import evaluate_pairs, summarise  # noqa: E402
from mtfix.options import Options  # noqa: E402
from mtfix.restorer import propose as restorer_propose  # noqa: E402


def apply_everything(ctx, edits):
    return [e.with_(auto=True, confidence=1.0) for e in edits]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=25)
    ap.add_argument("--split", choices=("dev", "test"), default="dev")
    ap.add_argument("--adapter", default=None, help="adapter folder (default: models/restorer)")
    args = ap.parse_args(argv)
    if args.adapter:
        os.environ["MTFIX_RESTORER"] = args.adapter
    # Under its own name, so re-checks around the fixes skip it (pipeline.RECHECK_SKIPS) as
    # they skip the gated one: one generation per sentence.
    pipeline.register_proposer(
        "restorer", functools.partial(restorer_propose.propose_restorer, gate=restorer_propose.eligible_sentences)
    )
    pipeline.register_scorer("apply-everything", apply_everything)
    rows = read_jsonl(DATA / f"{args.split}.jsonl")[: args.docs]
    pairs = [{"id": r["id"], "damaged": r["damaged"], "reference": r["reference"]} for r in rows]
    options = Options(mode="full", proposers=("restorer",), scorer="apply-everything")
    started = time.perf_counter()
    scores = evaluate_pairs(pairs, options)
    report = summarise(scores, with_ter=False)
    keep = ("edits", "edit_precision", "edit_recall", "harmful_edits", "wrong_edits", "wer_before", "wer_after",
            "sentences_improved", "sentences_worsened")
    summary = {k: report[k] for k in keep if k in report}
    summary.update(documents=len(pairs), words=sum(s.words for s in scores),
                   seconds=round(time.perf_counter() - started, 1), adapter=args.adapter or "models/restorer")
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
