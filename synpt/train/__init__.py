"""train stage of the synpt pipeline."""
