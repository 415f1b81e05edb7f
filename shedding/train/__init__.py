"""Training: the loop, its callbacks, optimisers, LR schedules and checkpoints."""
