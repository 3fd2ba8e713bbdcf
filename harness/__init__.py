"""crossgrad's harness: cases, running, comparison, diagnosis, reports and the CLI."""

import os

# crossgrad runs several implementations back to back, and each library's idle threads spin for a
# while after a call, on cores the next implementation needs: OpenBLAS (NumPy's BLAS) for about 0.1 s
# of a core after every multi-threaded product, torch's OpenMP threads for ~4 ms after each op (GNU
# OpenMP's default 300 000 spins). Shorter spins, measured here: manual's next step 25% faster, torch's
# own step unchanged. These are read when each library loads — `import harness` comes first in the
# CLI; a value the user sets is kept.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
os.environ.setdefault("GOMP_SPINCOUNT", "10000")
# torch's CPU allocator hands large buffers back to the OS and faults them in again page by page on
# the next step (array_api's unfolded arrays: ~40 000 faults a step on (32,64,64,32,3)); with this
# set (read when torch first allocates) it asks for transparent huge pages: 1/512 of the faults.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
