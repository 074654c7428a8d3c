"""imgpool.shared: what the page, the workers and the host all use. Standard library only.

- `options`: what the user asks for (`Options`, its fields, limits and defaults).
- `config`: how the pool runs (`PoolConfig`, sizes and thresholds, their defaults).
- `protocol`: the page ⇄ worker messages, typed both ways, and the status board layout.
- `imageinfo`: what the header probe learnt (`ImageInfo`); `probe/`: the probe itself,
  one module per container format behind a magic-byte registry.
- `plan`: the pipeline plan (which libvips calls, with which arguments) for one image.
- `reasons`: why a task failed (`FailureReason`) and the sentence shown by default.
"""
