"""Text: word lists, WordNet and GCIDE readers, word vectors and their evaluation."""
