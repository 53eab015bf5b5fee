"""model stage of the synpt pipeline."""
