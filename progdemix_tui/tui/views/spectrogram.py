"""S: the spectrogram of the selected step's selected source under the timeline
(:class:`..widgets.spectrogram_view.SpectrogramView`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..widgets.spectrogram_view import SpectrogramView
from . import View

if TYPE_CHECKING:
    from ..audition_controller import AuditionController
    from ..host import Host


def toggle(host: Host) -> None:
    """S: show or hide it."""
    view = host.pane(SpectrogramView)
    view.display = not view.display
    if view.display:
        host.sync_selection()
        view.show_cue(host.player.selection)
        view.set_position(host.player.position)


def follow(view: SpectrogramView, audition: AuditionController) -> None:
    """The selection changes what it shows; the playhead follows the player."""
    if view.cue != audition.selection:
        view.show_cue(audition.selection)
    view.set_position(audition.position)


VIEW = View("spectrogram", {"spectrogram": toggle}, pane=lambda: SpectrogramView(id="spectrogram"),
            follow=follow)
