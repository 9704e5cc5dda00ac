"""Text: word lists, WordNet and GCIDE readers, word vectors and their evaluation."""
from .bleu import corpus_bleu, sentence_bleu  # noqa: F401
from .code import python_source_files, python_sources  # noqa: F401
from .decoding import beam_search, greedy_search  # noqa: F401,E402
from .lm import BigramModel, LMBatches, RNNLanguageModel, batchify, detach_state, evaluate_bits, sample, train_epoch  # noqa: F401,E501
from .vocab import Vocab, tokenize  # noqa: F401
from .words import read_words  # noqa: F401
