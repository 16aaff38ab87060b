"""Ways to run the analysis on other engines; each module imports its engine only when used."""
