"""The GUI's evented state (app/state/), without Qt: one event per change, none for the same
value, values that change together in place before their one event."""
from pathlib import Path

import numpy as np
import pytest

from app.state import AppState, Picture
from app.state.evented import same


def recorder(event):
    fired = []
    event.connect(lambda: fired.append(True))
    return fired


# (feature, event, setter, a first value's arguments, a different value's arguments)
CHANGES = [
    ("source", "person", "set_person", (1,), (2,)),
    ("source", "frame", "set_frame", (3,), (4,)),
    ("walk", "walk", "set_walk", (np.ones(3), 0.5, 1), (np.ones(3), 0.5, 2)),
    ("walk", "walk", "set_keep_near", (False,), (True,)),
    ("search", "k", "set_k", (5,), (6,)),
    ("search", "overlay", "set_overlay", (np.full((17, 2), np.nan),), (np.zeros((17, 2)),)),
    ("virtual", "cameras", "set_cameras", (3, 10.0), (3, 20.0)),
    ("status", "message", "show_message", ("done",), ("done", True)),
    ("status", "history", "set_history", (True, False), (True, True)),
    ("generation", "score", "set_score", (0.5,), (None,)),
    ("generation", "pins", "set_pins", ({"r_elbow"},), ({"r_elbow", "l_knee"},)),
    ("generation", "undo", "set_undo", (True, False), (False, False)),
]


@pytest.mark.parametrize("feature, event, setter, first, second", CHANGES,
                         ids=[f"{c[0]}.{c[2]}" for c in CHANGES])
def test_an_event_fires_once_per_change_and_not_for_the_same_value(feature, event, setter,
                                                                   first, second):
    state = getattr(AppState(), feature)
    fired = recorder(getattr(state.events, event))
    set_value = getattr(state, setter)
    set_value(*first)
    assert len(fired) == 1
    set_value(*first)  # the same again (NaN equals NaN, a new equal set is the same set)
    assert len(fired) == 1
    set_value(*second)
    assert len(fired) == 2


def test_values_that_change_together_are_in_place_before_their_one_event():
    source = AppState().source
    source.set_person(2)
    picture = Picture(Path("a.jpg"), np.zeros((4, 4, 3), np.uint8), (4, 4))
    people = ["someone"]
    seen = []
    source.events.picture.connect(lambda: seen.append((source.picture, source.people,
                                                       source.person)))
    person_fired = recorder(source.events.person)
    source.set_picture(picture, people)
    assert seen == [(picture, people, 0)]  # the first person selected, in the same event
    assert person_fired == []


def test_a_new_model_and_its_gallery_are_both_in_place_when_either_event_goes_out():
    source = AppState().source
    model, gallery, axes = object(), object(), object()
    seen = []
    source.events.gallery.connect(lambda: seen.append(("gallery", source.model, source.gallery)))
    source.events.model.connect(lambda: seen.append(("model", source.model, source.gallery)))
    source.set_model(model, gallery, axes)
    assert seen == [("gallery", model, gallery), ("model", model, gallery)]
    source.set_model(model, gallery, axes)
    assert len(seen) == 2


def test_a_library_updated_in_place_is_announced_again():
    library = AppState().library
    fired = recorder(library.events.library)
    shelf = object()
    library.set_library(shelf)
    library.set_library(shelf)
    assert len(fired) == 2


def test_same_compares_arrays_by_value_and_results_by_identity():
    a = np.array([1.0, np.nan])
    assert same(a, a.copy()) and not same(a, a[:1]) and not same(a, None)
    assert not same(1, 1.0) and same((1, 2), (1, 2))
    results = [1, 2]
    assert same(results, results) and not same(results, [1, 2])
