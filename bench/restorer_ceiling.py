"""How much recall the restorer could add at most: on the spun side of the synthetic dev set,
the swaps it restores exactly (an edit at the swap's span whose replacement is the original),
behind the pipeline's gate and on every eligible sentence, and how many of those the rules and
thesaurus cannot restore (their best-scored candidate at that span is not the original, in
bench/out/lm_calibration/sites.jsonl from `bench/calibrate_lm.py collect`). No scorer: an
upper bound on what any calibration can confirm.

    .venv/bin/python bench/restorer_ceiling.py [--docs N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, OUT, read_jsonl  # noqa: E402

from mtfix.options import Options  # noqa: E402
from mtfix.pipeline import propose, segment  # noqa: E402
from mtfix.restorer import propose as restorer_propose  # noqa: E402
from mtfix.restorer.model import load_restorer  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=None, help="first N spun dev documents (default all)")
    args = ap.parse_args(argv)
    restorer = load_restorer()
    collected = {}
    for line in (OUT / "lm_calibration" / "sites.jsonl").open(encoding="utf-8"):
        d = json.loads(line)
        collected[d["id"]] = {tuple(s["span"]) for s in d["sites"] if s["correct"]}
    rows = [r for r in read_jsonl(DATA / "dev.jsonl") if r.get("spins")][: args.docs]
    counts = dict(documents=len(rows), swaps=0, sentences_gated=0, sentences_all=0,
                  restored_gated=0, restored_all=0, new_gated=0, new_all=0)
    started = time.perf_counter()
    for r in rows:
        text, restorable = r["damaged"], collected[r["id"] + "/spun"]
        ctx = segment(text, Options(mode="full"))
        propose(ctx)  # full mode's proposers, which the restorer runs after
        gated = restorer_propose.suspicious_sentences(ctx)  # the pipeline's own gate
        edits = restorer_propose.propose_restorer(ctx, generator=restorer.restore,
                                                  gate=restorer_propose.eligible_sentences)
        counts["swaps"] += len(r["spins"])
        counts["sentences_gated"] += len(gated)
        counts["sentences_all"] += len(ctx.notes["restorer_spans"])
        for s in r["spins"]:
            if not any((e.start, e.end) == (s["start"], s["end"]) and e.replacement.lower() == s["original"].lower()
                       for e in edits):
                continue
            new = (s["start"], s["end"]) not in restorable
            in_gate = any(a <= s["start"] and s["end"] <= b for a, b in gated)
            counts["restored_all"] += 1
            counts["new_all"] += new
            counts["restored_gated"] += in_gate
            counts["new_gated"] += in_gate and new
    counts["seconds"] = round(time.perf_counter() - started)
    print(json.dumps(counts, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
