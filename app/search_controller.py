"""The gallery search (the Similar poses dock): the gallery loaded and embedded by the model,
the k nearest poses to what is shown, a hit shown or laid over the picture."""
from __future__ import annotations

from pathlib import Path

from app import tasks
from app.feature import FeatureController
from app.state import Anchor, AppState
from app.walk_controller import WalkController
from app.workers import Jobs
from vvipe_core.gallery import Gallery, Hit, LatentAxes


class SearchController(FeatureController):
    def __init__(self, state: AppState, jobs: Jobs, walk: WalkController) -> None:
        super().__init__(state, jobs)
        self.walk = walk
        self._raw_gallery: Gallery | None = None
        self._selected: Hit | None = None
        state.search.events.hits.connect(self._refresh_overlay)
        source = state.source
        for event in (source.events.picture, source.events.person, source.events.frame):
            event.connect(lambda: state.search.set_overlay(None))  # the hits were for another one
        source.events.model.connect(self._embed_gallery)
        walk.settled.connect(self._settled)

    def open_gallery(self, path: Path | None) -> None:
        self.jobs.start("gallery", "loading gallery", tasks.load_gallery, path,
                        on_result=self.gallery_loaded)

    def gallery_loaded(self, gallery: Gallery) -> None:
        self._raw_gallery = gallery
        self._embed_gallery()

    def _embed_gallery(self) -> None:
        """The gallery's poses embedded by the current model (off the window's thread: a few
        hundred milliseconds), then searched."""
        model = self.state.source.model
        if model is not None and self._raw_gallery is not None:
            self.jobs.start("embed gallery", "embedding the gallery", tasks.embed_gallery,
                            self._raw_gallery, model, on_result=self._gallery_embedded)

    def _gallery_embedded(self, embedded: tuple[Gallery | None, LatentAxes | None]) -> None:
        self.state.source.set_gallery(*embedded)
        self.search()

    def set_k(self, k: int) -> None:
        self.state.search.set_k(k)
        self.search()

    def _settled(self, search_due: bool) -> None:
        if search_due:
            self.search()

    def search(self) -> None:
        gallery, walk = self.state.source.gallery, self.state.walk
        if gallery is None or walk.latent is None:
            return
        # What was seen checks the hits, until the walk moves away from it.
        anchor = walk.anchor
        seen = anchor is not None and anchor.keypoints is not None and self.walk.at_anchor()
        evidence = (anchor.keypoints, anchor.confidence) if seen else (None, None)
        self.jobs.start("search", "searching the gallery", tasks.search, gallery,
                        walk.latent, self.state.search.k, *evidence, quiet=True,
                        on_result=lambda found: self.state.search.set_hits(*found))

    def show_hit(self, hit: Hit) -> None:
        label = f"gallery: {hit.sequence} #{hit.frame} ({hit.activity})"
        latent = self.state.source.gallery.embeddings[hit.index]
        self.state.walk.set_anchor(Anchor(latent, label, hit.pose, keep_hits=True))
        self._selected = hit
        self._refresh_overlay()

    def set_overlay(self, on: bool) -> None:
        """Draw the selected hit (the best one until another is clicked) over the picture,
        through the camera fitted to it."""
        self.state.search.set_show_overlay(on)
        self._refresh_overlay()

    def _refresh_overlay(self) -> None:
        search = self.state.search
        selected = next((h for h in search.hits if h is self._selected),
                        search.hits[0] if search.hits else None)
        on = search.show_overlay and selected is not None
        search.set_overlay(selected.projected if on else None)
