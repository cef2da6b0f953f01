"""What a user would run with Hugging Face transformers to see the same numbers: the
tokenizer and the model from the same folder, every hidden state and attention matrix.
Timed as a whole process against `encoder explain SENTENCE --model DIR -f json` by
benchmarks/model_vs_transformers.py. Prints nothing big.

    python benchmarks/transformers_reference.py DIR "SENTENCE"
"""

import sys

import torch
from transformers import AutoModel, AutoTokenizer

folder, sentence = sys.argv[1], sys.argv[2]
tokenizer = AutoTokenizer.from_pretrained(folder)
model = AutoModel.from_pretrained(folder, attn_implementation="eager").eval()
with torch.no_grad():
    out = model(**tokenizer(sentence, return_tensors="pt"), output_hidden_states=True, output_attentions=True)
print(len(out.hidden_states), len(out.attentions), tuple(out.last_hidden_state.shape))
