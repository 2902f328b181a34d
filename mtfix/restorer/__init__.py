"""The seq2seq restorer: a LoRA adapter on the default SmolLM2 model that rewrites a damaged
sentence into the sentence before spinning or machine translation damaged it (issue 7).

- `prompt`: the one prompt format shared by training and inference;
- `data`: training pairs (spinner simulator on MLQE-PE train, small real MT edits, identity);
- `train`: `mtfix train`, LoRA fine-tuning with `peft` (seeded, resumable);
- `model`: the base model plus the merged adapter, greedy decoding;
- `align`: a restored sentence as minimal word-level edits of the input;
- `propose`: the "restorer" proposer (opt-in: `--enable restorer`).

Importing this package loads neither torch nor the model.
"""
