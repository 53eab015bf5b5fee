"""data stage of the synpt pipeline."""
