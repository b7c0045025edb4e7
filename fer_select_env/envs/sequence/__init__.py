"""FERSequence-v0: early expression recognition on face sequences."""
