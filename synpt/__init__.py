"""synpt: synthetic pre-training research on T5 encoder-decoders.

The sub-packages are the pipeline in the order data flows:
tasks -> data -> model -> init -> train -> experiments (and cli.py on top).
"""

__version__ = "0.2.0"
