"""Offline demo material: synthetic four-stem songs and a small model trained on them.

``generate_song(seed)`` renders a deterministic song (drums, bass, other, vocals) with exact
stems using numpy alone; ``write_song`` writes it as a MUSDB-style folder. The demo model's
weights live in ``weights/demo.safetensors`` (see ``docs/demo.md``).
"""

from .songs import STEMS, DemoSong, generate_song, write_song

__all__ = ["STEMS", "DemoSong", "generate_song", "write_song"]
