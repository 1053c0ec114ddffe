"""Summary helpers shared by the bench scripts (scripts/bench-chat,
scripts/bench-cross-region): a cell is the median of the runs' values with
[min – max] when there are several; rows print as aligned `name  value  (n=runs)`."""

import statistics


def cell(runs, f, fmt):
    """The median of f(run) over the runs where it is not None, as fmt, with [min – max]."""
    values = [f(r) for r in runs if f(r) is not None]
    if not values:
        return "-"
    m = statistics.median(values)
    return (fmt % m) + ("" if len(values) == 1 else " [%s – %s]" % (fmt % min(values), fmt % max(values)))


class Rows:
    """Summary rows: add() one per figure, then print() them aligned."""

    def __init__(self):
        self.rows = []

    def add(self, name, runs, f, fmt):
        if runs:
            self.rows.append((name, cell(runs, f, fmt), str(len(runs))))

    def add_text(self, name, text, n):
        self.rows.append((name, text, str(n)))

    def print(self):
        width = max((len(r[0]) for r in self.rows), default=0)
        for name, value, n in self.rows:
            print("%s  %s  (n=%s)" % (name.ljust(width), value, n))
