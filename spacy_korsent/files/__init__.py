"""Reading the files the command line works on (NSMC, CSV/TSV, JSON Lines, plain text)."""
