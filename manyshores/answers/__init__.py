"""What a person reads: replies composed from evidence, survey spreads, clean generated text."""
