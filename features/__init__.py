"""The features stage: events in, point-in-time feature frames out.

``population`` says who is scored on which day; ``source`` reads the store (no
free text); ``build`` computes every feature as of a day from what was known at
its end; ``catalogue`` names each feature with its reason in words.
"""
