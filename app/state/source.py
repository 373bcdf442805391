"""What is open (the Pose tab's source): the model and gallery, a picture and its people, or a
sequence and its frame."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from psygnal import Signal, SignalGroup

from app.state.evented import Evented, same
from app.state.values import Picture, Sequence

if TYPE_CHECKING:  # torch comes with these: imported off the window's thread
    from vvipe_core.api import VVIPE
    from vvipe_core.detect import Pose2D
    from vvipe_core.gallery import Gallery
    from vvipe_core.generation import NamedDirections


class SourceEvents(SignalGroup):
    model = Signal()
    gallery = Signal()  # the gallery and its named directions
    picture = Signal()  # the picture and its people (the first person selected)
    person = Signal()
    sequence = Signal()  # a new sequence starts at frame 0
    frame = Signal()
    video_frame = Signal()  # the picture of the current video frame


class SourceState(Evented):
    def __init__(self) -> None:
        self.events = SourceEvents()
        self.model: VVIPE | None = None
        self.gallery: Gallery | None = None
        self.axes: NamedDirections | None = None
        self.picture: Picture | None = None
        self.people: list[Pose2D] = []
        self.person = 0
        self.sequence: Sequence | None = None
        self.frame = 0
        self.video_frame: np.ndarray | None = None  # (h, w, 3) RGB of the current video frame

    def set_model(self, model: VVIPE, gallery: Gallery | None,
                  axes: NamedDirections | None) -> None:
        """Model and gallery change together: a gallery's embeddings belong to one model, so
        both are in place before either event goes out."""
        gallery_changed = not (same(self.gallery, gallery) and same(self.axes, axes))
        model_changed = not same(self.model, model)
        self.model, self.gallery, self.axes = model, gallery, axes
        if gallery_changed:
            self.events.gallery.emit()
        if model_changed:
            self.events.model.emit()

    def set_gallery(self, gallery: Gallery | None, axes: NamedDirections | None) -> None:
        self._update("gallery", gallery=gallery, axes=axes)

    def set_picture(self, picture: Picture | None, people: list[Pose2D]) -> None:
        self._update("picture", picture=picture, people=people, person=0)

    def set_person(self, index: int) -> None:
        self._update("person", person=index)

    def set_sequence(self, sequence: Sequence | None) -> None:
        self._update("sequence", sequence=sequence, frame=0)

    def set_frame(self, frame: int) -> None:
        self._update("frame", frame=int(frame))

    def set_video_frame(self, rgb: np.ndarray | None) -> None:
        self._update("video_frame", video_frame=rgb)
