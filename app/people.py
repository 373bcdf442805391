"""Several people on screen: one colour per person number, numbered badges over a picture.

A person's skeleton in the 3D view takes its number's colour, darker on the left side and
lighter on the right, so that the sides stay readable; the picture shows the same number, in the
same colour, at the top of each person's box.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QTransform

from vvipe_core.skeleton import H36M17

# Tableau's qualitative colours, less the blue and orange that mean "left" and "right" elsewhere.
PALETTE = np.array([
    (0.17, 0.63, 0.17), (0.84, 0.15, 0.16), (0.58, 0.40, 0.74), (0.55, 0.34, 0.29),
    (0.89, 0.47, 0.76), (0.74, 0.74, 0.13), (0.09, 0.75, 0.81), (0.50, 0.50, 0.50),
])
_SIDE = np.array([-1.0 if n.startswith("l_") else 1.0 if n.startswith("r_") else 0.0
                  for n in H36M17.joints])


def person_colour(number: int) -> np.ndarray:
    """(4,) RGBA of person `number` (1, 2, ...; numbers beyond the palette repeat it)."""
    return np.append(PALETTE[(number - 1) % len(PALETTE)], 1.0)


def person_joint_colours(number: int) -> np.ndarray:
    """(17, 4) RGBA: the person's colour, 35 % darker on the left side, lighter on the right."""
    rgb = PALETTE[(number - 1) % len(PALETTE)][None, :]
    dark, light = rgb * 0.65, rgb + (1 - rgb) * 0.45
    side = _SIDE[:, None]
    colours = np.where(side < 0, dark, np.where(side > 0, light, rgb))
    return np.column_stack([colours, np.ones(len(colours))])


@dataclass(frozen=True)
class PersonLabel:
    """A number to show at the top of a box (picture pixels)."""

    number: int
    box: tuple[float, float, float, float]
    selected: bool = False


def paint_person_labels(painter: QPainter, transform: QTransform,
                        labels: list[PersonLabel]) -> None:
    """A filled circle with the person's number above each box's top centre; the selected
    person's badge is ringed in white."""
    font = QFont(painter.font())
    font.setBold(True)
    font.setPointSizeF(10)
    painter.setFont(font)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    radius = 11.0
    for label in labels:
        x0, y0, x1, _ = label.box
        top = transform.map(QPointF((x0 + x1) / 2, y0))
        centre = QPointF(top.x(), max(top.y() - radius - 2, radius + 1))
        r, g, b, _ = person_colour(label.number)
        pen = QPen(QColor("white"), 2.5) if label.selected else Qt.PenStyle.NoPen
        painter.setPen(pen)
        painter.setBrush(QColor.fromRgbF(r, g, b, 0.95))
        painter.drawEllipse(centre, radius, radius)
        painter.setPen(QColor("white"))
        painter.drawText(QRectF(centre.x() - radius, centre.y() - radius, 2 * radius, 2 * radius),
                         Qt.AlignmentFlag.AlignCenter, str(label.number))


def picture_people(people: list, selected: int) -> tuple[list[np.ndarray], list[PersonLabel]]:
    """For PictureView.set_people: the unselected people's keypoints and everyone's badge,
    numbered 1, 2, ... as the person chooser lists them (largest first)."""
    others = [person.keypoints_raw for i, person in enumerate(people) if i != selected]
    labels = [PersonLabel(i + 1, person.box, i == selected) for i, person in enumerate(people)]
    return others, labels


def tracked_people(sequence, frame: int) -> tuple[list[np.ndarray], list[PersonLabel]]:
    """For PictureView.set_people in a video: the other tracked people's keypoints at `frame`
    and everyone's badge (track ids), when more than one person is tracked."""
    if len(sequence.people) <= 1:
        return [], []
    others, labels = [], []
    for person, followed in sequence.people.items():
        points = followed.keypoints[frame]
        if not np.isfinite(points).any():
            continue
        if person != sequence.person:
            others.append(points)
        x0, y0 = np.nanmin(points, axis=0)
        x1, y1 = np.nanmax(points, axis=0)
        labels.append(PersonLabel(person, (x0, y0, x1, y1), person == sequence.person))
    return others, labels


def shown_poses(state) -> tuple[np.ndarray | None, np.ndarray | None]:
    """For SkeletonView.set_poses: the shown pose alone, or, in a video with several tracked
    people, everyone at the current frame side by side (the chosen one as shown, which the
    latent walk may have moved) in their colours."""
    sequence, pose = state.source.sequence, state.walk.pose
    if sequence is None or len(sequence.people) <= 1:
        return (None if pose is None else pose[None]), None
    nothing = np.full((H36M17.n, 3), np.nan, dtype=np.float32)
    poses = [(nothing if pose is None else pose) if person == sequence.person
             else followed.poses[state.source.frame]
             for person, followed in sequence.people.items()]
    colours = [person_joint_colours(person) for person in sequence.people]
    return np.stack(poses), np.stack(colours)
