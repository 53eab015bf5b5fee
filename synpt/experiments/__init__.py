"""experiments stage of the synpt pipeline."""
