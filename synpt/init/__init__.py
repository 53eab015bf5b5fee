"""init stage of the synpt pipeline."""
