"""Text: word lists, WordNet and GCIDE readers, word vectors and their evaluation."""
from .bleu import corpus_bleu, sentence_bleu  # noqa: F401
from .decoding import beam_search, greedy_search  # noqa: F401,E402
