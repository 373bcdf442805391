"""The Compare photos tab: 2-4 photos, each person lifted, and their embedding distances."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from app import tasks
from app.feature import FeatureController
from app.state import AppState, Comparison, Picture
from app.workers import Jobs
from vvipe_core.gallery import embedding_distances

MAX_COMPARED = 4


class CompareController(FeatureController):
    def __init__(self, state: AppState, jobs: Jobs) -> None:
        super().__init__(state, jobs)
        state.source.events.model.connect(self._refresh)

    def add(self, paths: list[Path]) -> None:
        free = MAX_COMPARED - len(self.state.compare.comparisons)
        if len(paths) > free:
            self.error(f"at most {MAX_COMPARED} photos can be compared; "
                       f"{len(paths) - max(free, 0)} were left out")
        if free > 0 and paths:
            self.jobs.start("compare", f"finding people in {len(paths[:free])} photo(s)",
                            tasks.detect_pictures, paths[:free], on_result=self._detected)

    def clear(self) -> None:
        self.state.compare.set_comparisons([], None)

    def _detected(self, results: list[tuple[Picture, list]]) -> None:
        model = self.state.source.model
        if model is None:
            self.error("the model is not loaded yet: add the photos again in a moment")
            return
        comparisons = list(self.state.compare.comparisons)
        for picture, people in results:
            latent = tasks.embed_person(model, people[0]) if people else None
            if latent is None:
                self.error(f"{picture.path}: nobody who can be lifted in the picture")
                continue
            pose = model.decode(latent[None])[0]
            comparisons.append(Comparison(picture, people[0], latent, pose))
        self._set(comparisons)

    def _refresh(self) -> None:
        """A new model lifts the photos again."""
        model = self.state.source.model
        self._set([
            Comparison(c.picture, c.person, latent, model.decode(latent[None])[0])
            for c in self.state.compare.comparisons
            if (latent := tasks.embed_person(model, c.person)) is not None
        ])

    def _set(self, comparisons: list[Comparison]) -> None:
        latents = np.stack([c.latent for c in comparisons]) if comparisons else None
        distances = embedding_distances(latents) if latents is not None else None
        self.state.compare.set_comparisons(comparisons, distances)
