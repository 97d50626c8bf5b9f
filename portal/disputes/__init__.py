"""Disputes (objections): filing, evidence, deadlines and the lifecycle.
The domain core only; routes, the officer console and the furnisher API
build on `services`, `lifecycle` and `evidence`."""
