from .bleu import corpus_bleu, sentence_bleu  # noqa: F401
