"""NR-IQA vs human judgement (paper 1, part 1): loaders, statistics, a score cache and the ``iqa-eval`` runner."""
