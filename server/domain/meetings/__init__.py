"""Meeting polls: the poll, participants (users and guests), cells, results and access."""
