"""Waiting on a test server's recorded state (the push receiver, the
provider stand-ins): each keeps a threading.Condition `cond`, notified as it
records, and a list `errors` of what it found wrong. Every wait is bounded."""

import time


class Watched:
    label = ""

    def wait(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("%s%s not within %ss (errors: %s)" % (self.label, what, timeout, self.errors))
                self.cond.wait(left)

    def stays(self, predicate, seconds):
        """True when predicate holds throughout `seconds` (a bounded check
        that something does NOT happen)."""
        deadline = time.monotonic() + seconds
        with self.cond:
            while predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return True
                self.cond.wait(left)
            return False
