"""Audition: play sources (mixture, stems, estimates, residuals) with instant A/B switching.

No Textual or Rich here; sounddevice/PortAudio is loaded only when a stream is opened or
devices are listed, so everything else (sources, export, blind tests) works without it.

    from progdemix_tui.playback import Player, AudioUnavailable
    player = Player(44100)
    player.add("mixture", "song/mixture.wav")           # read lazily from disk
    player.add("step3/vocals", estimate, 44100)          # [channels, time] array or tensor
    player.set_ab("mixture", "step3/vocals", level_match=True)
    try:
        player.play()
    except AudioUnavailable as err:                      # no PortAudio / device / busy
        print(err)                                      # then e.g. player.export_ab(...)
    player.toggle_ab()                                   # same position, 10 ms crossfade
    print(player.state.position)

See docs/audition.md.
"""

from .blind import BLIND_MODES, BlindState, BlindTest, Tally
from .devices import OutputDevice, list_output_devices
from .errors import KINDS, SSH_HINT, AudioUnavailable
from .export import write_wav_atomic
from .levels import LevelMatch, match_levels
from .mixer import Event
from .player import Player, PlayerState
from .sources import FileSource, MemorySource, ResampledSource, Source, as_source

__all__ = [
    "BLIND_MODES", "KINDS", "SSH_HINT", "AudioUnavailable", "BlindState", "BlindTest",
    "Event", "FileSource", "LevelMatch", "MemorySource", "OutputDevice", "Player", "PlayerState",
    "ResampledSource", "Source", "Tally", "as_source", "list_output_devices",
    "match_levels", "write_wav_atomic",
]
