"""A one-line progress bar for the command line, redrawn in place on a terminal.

Only ``fastbp train`` uses it, and only when standard output is a terminal: written to a
file or a pipe, carriage returns would leave garbage in the log.
"""
import time


class ProgressBar:
    """``[#######.........]  12,000/50,000  1.2 s, about 3.8 s left``, redrawn in place.

    Parameters
    ----------
    total : int
        The count that means done (examples in an epoch).
    stream : text stream
        Where to draw; the caller decides that it is a terminal.
    prefix : str
        Text before the bar (``"epoch  3/30"``).
    width : int
        Characters inside the brackets.
    """

    def __init__(self, total, stream, prefix="", width=30):
        self.total, self.stream, self.prefix, self.width = max(int(total), 1), stream, prefix, width
        self._start = time.perf_counter()
        self._drawn = 0

    def update(self, done):
        """Redraw the bar for ``done`` of ``total``."""
        done = min(max(int(done), 0), self.total)
        filled = self.width * done // self.total
        elapsed = time.perf_counter() - self._start
        text = (f"{self.prefix} [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{done:,}/{self.total:,}  {elapsed:.1f} s")
        if 0 < done < self.total:
            text += f", about {elapsed * (self.total - done) / done:.1f} s left"
        # Pad with spaces to wipe a longer previous line.
        self.stream.write("\r" + text.ljust(self._drawn))
        self.stream.flush()
        self._drawn = len(text)

    def close(self):
        """Erase the bar, leaving the cursor at the start of an empty line."""
        if self._drawn:
            self.stream.write("\r" + " " * self._drawn + "\r")
            self.stream.flush()
            self._drawn = 0


class NoBar:
    """Stands in for ``ProgressBar`` when there is no terminal to draw on."""

    def update(self, done):
        pass

    def close(self):
        pass
