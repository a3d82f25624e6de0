"""Deterministic builders of the v2 labelled preference sets (``dev_v2.jsonl``, ``heldout_v2.jsonl``).

One module per domain (:mod:`.chat`, :mod:`.safety`, :mod:`.reasoning`, with the reasoning
problems in :mod:`.math_items` and :mod:`.code_items`), shared balancing in :mod:`.common`,
the program checks behind the reasoning labels in :mod:`.verify`, and the command in
:mod:`.build`: ``python -m beam_pipeline.evalsets.build --out beam_pipeline/data/eval/``.
"""
