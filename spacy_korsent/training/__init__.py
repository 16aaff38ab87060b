"""Training: the labelled data ``korsent train`` reads and its training loop."""
