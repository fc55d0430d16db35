"""Every parse in a worker process under hard limits, so that a parser bomb costs one `failed` file and not
the batch: `pool.py` (this side: the worker's lifetime, the wall-clock deadline, what may come back),
`worker.py` (the other side: its address-space and CPU limits, one file at a time), `frames.py` (the
length-prefixed JSON both speak)."""
