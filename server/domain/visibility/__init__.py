"""Who sees what: the visibility predicate, its storage on resources, and fan-out routing."""
