"""Guided density-ratio preference annotation as an Apache Beam batch pipeline.

``config`` (validated settings), ``options`` (Beam flags), ``pipeline`` (graph),
``run`` (launcher: run, publish, summary), ``cli`` (the ``gdr`` command).
"""
