"""Separator families beyond demucs, each a loaded model following one contract.

A loaded model has ``name``, ``family``, ``module`` (the weights), ``sources``,
``samplerate``, ``audio_channels``, ``origin``, ``max_segment``, ``chunks(...)`` and
``apply(...)``; the :class:`~progdemix_tui.engine.separator.Separator` calls ``apply``.
"""
