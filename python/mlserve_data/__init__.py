"""Data sets for mlserve's sample models and parity suite (SpamAssassin, sentiment)."""
