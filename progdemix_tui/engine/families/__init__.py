"""Model families beyond demucs, one module each, on the separator seam.

A loaded model of any family offers the same surface: ``name``, ``family``, ``module`` (the
weights), ``sources``, ``samplerate``, ``audio_channels``, ``origin``, ``max_segment``,
``chunks(length, segment, overlap, shifts)`` (model forwards per apply, for progress) and
``apply(module, mix, *, segment, overlap, shifts, batch_chunks, device, before, done)``
(``[batch, channels, time]`` → ``[batch, sources, channels, time]``, the family's own
normalisation, chunking and post-filter inside). Each family module also has a source: it
tells whether it handles a model spec, whether that model is available offline, and loads it.
"""

OPENUNMIX_NAMES = ("umxhq", "umx", "umxl", "umxse")
"""The published Open-Unmix names (:data:`.openunmix.PUBLISHED`'s keys), known here without
importing torch, so the hub's checks leave them alone."""
