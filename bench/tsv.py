"""Reading a bench's raw results (key<TAB>value lines) and formatting rates; shared by
benchlib.py, webdav_lib.py and s3_lib.py (imported from the same directory)."""


def load(path):
    """The results file as a dict: numbers as floats, anything else as text."""
    r = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "\t" not in line:
                continue
            k, v = line.split("\t", 1)
            try:
                r[k] = float(v)
            except ValueError:
                r[k] = v
    return r


def fmt_rate(x, unit="MB/s"):
    """A rate for the table: MB/s above 1000 reads as GB/s."""
    return f"{x:.1f} {unit}" if x < 1000 or unit != "MB/s" else f"{x / 1000:.2f} GB/s"
