"""The benchmark's "other load" (bench/procs.py): CPU of this process's descendants that
exit inside a window is ours, not other work's."""

import subprocess
import sys

from imgpool_host.bench.procs import _own_cpu

#: Burns this much CPU time (not wall time: a busy machine only makes it take longer).
BURN = ("import time\nt = time.process_time()\n"
        "while time.process_time() - t < 0.4:\n    pass\n")


def test_descendants_that_exited_in_the_window_count_as_ours():
    before = _own_cpu()
    subprocess.run([sys.executable, "-c", BURN], check=True)             # a child
    subprocess.run(["sh", "-c", f'"{sys.executable}" -c "$0"', BURN],   # a grandchild
                   check=True)
    # Both are gone; before the fix their 0.8 s went to "other load" (the delta was ~0).
    assert _own_cpu() - before >= 0.75
