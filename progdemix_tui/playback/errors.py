"""The one exception the audio layer raises: :class:`AudioUnavailable`.

Every failure to produce sound (no PortAudio, no output device, a busy or vanished device, a
broken stream) is reported as ``AudioUnavailable(kind, reason)``; the host app shows
``str(err)`` (one or two sentences: what is wrong and what to do) and keeps running.
"""

from __future__ import annotations

import os

from progdemix_tui.engine.errors import ProgdemixError

#: The values of :attr:`AudioUnavailable.kind`.
KINDS = ("no_portaudio", "no_device", "invalid_device", "device_busy", "device_lost",
         "stream_error")

SSH_HINT = (
    "You are connected over SSH (SSH_CONNECTION is set), so sound would play on the remote "
    "machine. See the README section 'Listening over SSH': forward PulseAudio through the SSH "
    "tunnel, or export the A/B clips (Player.export_ab) and listen locally."
)


class AudioUnavailable(ProgdemixError):
    """Sound cannot be played. ``kind`` is one of :data:`KINDS`; ``reason`` says why.

    ``hint`` (may be empty) says what to do; ``str(err)`` joins both. Like every
    :class:`~progdemix_tui.engine.errors.ProgdemixError`, the CLI exits with code 2.
    """

    def __init__(self, kind: str, reason: str, hint: str = "") -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown AudioUnavailable kind {kind!r}")
        self.kind = kind
        self.reason = reason
        self.hint = hint
        super().__init__(f"{reason}. {hint}".strip() if hint else reason)


def over_ssh() -> bool:
    """True when this process runs inside an SSH session."""
    return bool(os.environ.get("SSH_CONNECTION"))


def no_device(reason: str) -> AudioUnavailable:
    """An ``AudioUnavailable('no_device')``; points to 'Listening over SSH' when over SSH."""
    hint = SSH_HINT if over_ssh() else (
        "Connect or enable a sound card (check `aplay -l`), choose another output device, "
        "or export the A/B clips (Player.export_ab) and listen elsewhere"
    )
    return AudioUnavailable("no_device", reason, hint)
