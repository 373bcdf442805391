"""What the person is doing: the shown pose's best activity labels, and a sequence's label
track under the timeline (one colour per label)."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QHelpEvent, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QLabel, QSizePolicy, QToolTip, QWidget

from app.controller import Controller
from app.state import AppState
from vvipe_core.classify import segment_at

NO_CLASSIFIER = "no activity classifier for this model"
# One colour per class of the classifier (by its index), well apart from each other.
PALETTE = [QColor(c) for c in ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
                               "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#86bcb6", "#d4a6c8")]
UNKNOWN = QColor(160, 160, 160)  # a label of another classifier, while a new track comes
TRACK_HEIGHT = 18


def activity_name(label: str) -> str:
    """A class name as people read it: "lie_crawl_acrobatic" -> "lie / crawl / acrobatic"."""
    return label.replace("_", " / ")


class ActivityLabels(QLabel):
    """"walk 0.62 · gesture 0.21 · dance 0.08" for the shown pose; in a sequence, first the
    label of the track at the current frame (windows of frames read motion, a pose cannot)."""

    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        # Long labels are cut, not allowed to widen the panel (and squeeze the other one).
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        events = state.activity.events
        for signal in (events.classifier, events.labels, state.source.events.frame, events.track):
            signal.connect(self._refresh)
        self._refresh()

    def _refresh(self) -> None:
        state = self.state
        if state.activity.classifier is None:  # the reason, in full, in the tooltip
            self.setText(NO_CLASSIFIER if state.activity.note else "")
            self.setToolTip(state.activity.note)
            self.setEnabled(False)  # greyed: a fact about the model, not an error
            return
        self.setEnabled(True)
        self.setToolTip("Activities recognised from the embedding, with the classifier's scores")
        pose = " · ".join(f"{activity_name(label)} {score:.0%}"
                          for label, score in state.activity.labels)
        segment = segment_at(state.activity.track, state.source.frame)
        if segment is None:
            self.setText(pose)
        else:
            self.setText(f"clip: {activity_name(segment.label)} {segment.score:.0%}   │   "
                         f"pose: {pose}")


class ActivityTrack(QWidget):
    """A sequence's label track: coloured stretches named as far as the name fits, the current
    frame marked; hover for the label and its score, click to go to that frame."""

    def __init__(self, state: AppState, controller: Controller) -> None:
        super().__init__()
        self.state, self.controller = state, controller
        self.setFixedHeight(TRACK_HEIGHT)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        state.activity.events.track.connect(self._track_changed)
        state.source.events.sequence.connect(self._track_changed)
        state.source.events.frame.connect(lambda: self.update())
        self.setVisible(False)

    def _track_changed(self) -> None:
        self.setVisible(self.state.source.sequence is not None and bool(self.state.activity.track))
        self.update()

    def _frames(self) -> int:
        sequence = self.state.source.sequence
        return len(sequence.poses) if sequence is not None else 1

    def _x(self, frame: float) -> float:
        return frame * self.width() / self._frames()

    def frame_at(self, x: float) -> int:
        return min(self._frames() - 1, max(0, int(x * self._frames() / max(self.width(), 1))))

    def colour(self, label: str) -> QColor:
        classifier = self.state.activity.classifier
        classes = classifier.classes if classifier is not None else ()
        return PALETTE[classes.index(label) % len(PALETTE)] if label in classes else UNKNOWN

    def tooltip_at(self, x: float) -> str:
        segment = segment_at(self.state.activity.track, self.frame_at(x))
        if segment is None:
            return "no usable pose here"
        text = (f"{activity_name(segment.label)} (score {segment.score:.0%}), "
                f"frames {segment.start + 1}–{segment.stop}")
        sequence = self.state.source.sequence
        if sequence.keypoints is not None:  # a video: its frame rate is real
            text += f" ({segment.start / sequence.fps:.1f}–{segment.stop / sequence.fps:.1f} s)"
        return text

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(235, 235, 235))
        painter.setPen(QColor(20, 20, 20))
        for segment in self.state.activity.track:
            left, right = self._x(segment.start), self._x(segment.stop)
            rect = QRectF(left, 0, right - left, self.height())
            painter.fillRect(rect, self.colour(segment.label))
            name = painter.fontMetrics().elidedText(activity_name(segment.label), Qt.TextElideMode.ElideRight,
                                                    int(rect.width()) - 6)
            if len(name) > 1:  # more than the ellipsis
                painter.drawText(rect.adjusted(3, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, name)
        x = self._x(self.state.source.frame + 0.5)
        painter.setPen(QPen(QColor(0, 0, 0), 2))
        painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            QToolTip.showText(event.globalPos(), self.tooltip_at(event.pos().x()), self)
            return True
        return super().event(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.controller.pose.set_frame(self.frame_at(event.position().x()))
