"""Natural-text pre-training: the paper's 100 % reference row, T5 span corruption over real English prose."""
