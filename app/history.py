"""Back / Forward over the poses the window has shown (a photo's person, a gallery or library
hit, a sequence at its frame), as a browser does over pages. Qt-free: plain values."""
from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from app.state import Anchor, Picture, Sequence
from vvipe_core.detect import Pose2D

LIMIT = 100


@dataclass(frozen=True)
class View:
    """Everything needed to show a pose again. `anchor` None: it follows from the picture's
    person (a photo not shown yet, e.g. the rest of a dropped folder)."""

    picture: Picture | None
    people: list[Pose2D] = field(default_factory=list)
    person: int = 0
    sequence: Sequence | None = None
    frame: int = 0
    anchor: Anchor | None = None

    def key(self) -> Hashable:
        """Views with the same key are one place (a sequence at another frame, the same photo
        re-lifted by a new model): the newer replaces the older instead of adding a step."""
        if self.anchor is not None and self.anchor.keep_hits:  # a gallery hit
            return "hit", self.anchor.label
        if self.sequence is not None:
            return "sequence", id(self.sequence)
        return "picture", id(self.picture), self.person

    def anchor_for(self, embedding_dim: int, embed_3d) -> Anchor | None:
        """The anchor in the current model's embedding (a hit is re-embedded from its pose;
        a photo or frame is re-lifted by the window itself: None)."""
        anchor = self.anchor
        if anchor is None or len(anchor.latent) == embedding_dim:
            return anchor
        if anchor.keep_hits and anchor.pose is not None:
            return Anchor(embed_3d(anchor.pose[None])[0], anchor.label, anchor.pose,
                          keep_hits=True)
        return None


class History:
    def __init__(self, limit: int = LIMIT) -> None:
        self.views: list[View] = []
        self.index = -1
        self.limit = limit

    @property
    def can_back(self) -> bool:
        return self.index > 0

    @property
    def can_forward(self) -> bool:
        return self.index < len(self.views) - 1

    def record(self, view: View) -> None:
        """The window now shows `view`: a new step after the current one (dropping the
        steps ahead), or the current step updated when it is the same place."""
        if self.index >= 0 and self.views[self.index].key() == view.key():
            self.views[self.index] = view
            return
        self.insert([view])

    def insert(self, views: list[View]) -> None:
        """Steps after the current one (those ahead are dropped); the first becomes current."""
        if not views:
            return
        del self.views[self.index + 1:]
        self.views += views
        self.index = len(self.views) - len(views)
        overflow = max(0, len(self.views) - self.limit)
        del self.views[:overflow]
        self.index = max(0, self.index - overflow)

    def back(self) -> View | None:
        if not self.can_back:
            return None
        self.index -= 1
        return self.views[self.index]

    def forward(self) -> View | None:
        if not self.can_forward:
            return None
        self.index += 1
        return self.views[self.index]

