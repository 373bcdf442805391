"""2D drawings with QPainter: a picture with its keypoints, and bare skeleton sketches.

Points stay in their own frame (image pixels); a QTransform maps them into the widget, and
cosmetic pens keep line widths in screen pixels.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap, QPolygonF, QTransform
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.people import PersonLabel, paint_person_labels
from app.skeleton_view import BONES, JOINT_COLOURS

MISSING = QColor(150, 150, 150)
OVERLAY = QColor(255, 214, 0)  # a gallery pose laid on the picture: one colour, apart from joints


def _qcolor(rgba: np.ndarray, alpha: float = 1.0) -> QColor:
    r, g, b, _ = (float(c) for c in rgba)
    return QColor.fromRgbF(r, g, b, alpha)


def fit_transform(source: QRectF, target: QRectF, margin: float = 6.0) -> QTransform:
    """Uniform scale + translation putting `source` centred inside `target`."""
    inner = target.adjusted(margin, margin, -margin, -margin)
    scale = min(inner.width() / max(source.width(), 1e-6), inner.height() / max(source.height(), 1e-6))
    transform = QTransform()
    transform.translate(inner.center().x(), inner.center().y())
    transform.scale(scale, scale)
    transform.translate(-source.center().x(), -source.center().y())
    return transform


def paint_skeleton(
    painter: QPainter, points: np.ndarray, transform: QTransform,
    confidence: np.ndarray | None = None, missing: np.ndarray | None = None, width: float = 3.0,
) -> None:
    """Bones and joints of (17, 2) points. Confidence sets each joint's size and opacity;
    missing joints (their guessed position) are drawn as grey rings."""
    confidence = np.ones(len(points)) if confidence is None else np.nan_to_num(confidence)
    missing = np.zeros(len(points), bool) if missing is None else missing
    mapped = [transform.map(QPointF(float(x), float(y))) for x, y in np.nan_to_num(points)]
    known = np.isfinite(points).all(axis=1)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    for parent, child in BONES:
        if not (known[parent] and known[child]):
            continue
        faint = missing[parent] or missing[child]
        pen = QPen(MISSING if faint else _qcolor(JOINT_COLOURS[child]), width)
        pen.setStyle(Qt.PenStyle.DashLine if faint else Qt.PenStyle.SolidLine)
        painter.setPen(pen)
        painter.drawLine(mapped[parent], mapped[child])
    for j, point in enumerate(mapped):
        if not known[j]:
            continue
        radius = width * (0.8 + 1.2 * confidence[j])
        if missing[j]:
            painter.setPen(QPen(MISSING, 1.5))
            painter.setBrush(Qt.BrushStyle.NoBrush)
        else:
            painter.setPen(QPen(Qt.GlobalColor.white, 1.0))
            painter.setBrush(_qcolor(JOINT_COLOURS[j], 0.35 + 0.65 * confidence[j]))
        painter.drawEllipse(point, radius, radius)


def paint_overlay(painter: QPainter, points: np.ndarray, transform: QTransform,
                  width: float = 2.5) -> None:
    """Bones and joints of (17, 2) points in one colour (a fitted projection)."""
    mapped = [transform.map(QPointF(float(x), float(y))) for x, y in points]
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(OVERLAY, width))
    for parent, child in BONES:
        painter.drawLine(mapped[parent], mapped[child])
    painter.setBrush(OVERLAY)
    for point in mapped:
        painter.drawEllipse(point, width, width)


def bounds(points: np.ndarray) -> QRectF:
    finite = points[np.isfinite(points).all(axis=1)]
    return QPolygonF([QPointF(float(x), float(y)) for x, y in finite]).boundingRect()


def sketch_pixmap(points: np.ndarray, size: QSize, background: QColor = QColor("white")) -> QPixmap:
    """A skeleton drawing fitted into a pixmap (gallery thumbnails)."""
    pixmap = QPixmap(size)
    pixmap.fill(background)
    painter = QPainter(pixmap)
    paint_skeleton(painter, points, fit_transform(bounds(points), QRectF(pixmap.rect())),
                   width=2.0)
    painter.end()
    return pixmap


def to_qimage(rgb: np.ndarray) -> QImage:
    height, width, _ = rgb.shape
    return QImage(np.ascontiguousarray(rgb).data, width, height, 3 * width,
                  QImage.Format.Format_RGB888).copy()  # copy: the array may go away


class PictureView(QWidget):
    """A picture (or an empty frame of the given size) with one person's keypoints over it."""

    def __init__(self, parent: QWidget | None = None, placeholder: str = "") -> None:
        super().__init__(parent)
        self.placeholder = placeholder
        self._image: QImage | None = None
        self._size = (1, 1)
        self._points: np.ndarray | None = None
        self._confidence: np.ndarray | None = None
        self._missing: np.ndarray | None = None
        self._overlay: np.ndarray | None = None
        self._others: list[np.ndarray] = []  # everyone else's keypoints, drawn faintly
        self._labels: list[PersonLabel] = []
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_picture(self, rgb: np.ndarray | None, size: tuple[int, int]) -> None:
        self._image = None if rgb is None else to_qimage(rgb)
        self._size = size
        self.update()

    def set_keypoints(self, points: np.ndarray | None, confidence: np.ndarray | None = None,
                      missing: np.ndarray | None = None) -> None:
        self._points, self._confidence, self._missing = points, confidence, missing
        self.update()

    def set_people(self, others: list[np.ndarray], labels: list[PersonLabel]) -> None:
        """The other people's keypoints (drawn faintly) and everyone's numbered badge."""
        self._others, self._labels = others, labels
        self.update()

    def labels(self) -> list[PersonLabel]:
        return list(self._labels)

    def keypoints(self) -> np.ndarray | None:
        return None if self._points is None else self._points.copy()

    def set_overlay(self, points: np.ndarray | None) -> None:
        """(17, 2) points in the picture's pixels drawn over it (None: nothing)."""
        self._overlay = points
        self.update()

    def image_transform(self) -> QTransform:
        """Picture pixels -> widget pixels."""
        return fit_transform(QRectF(0, 0, *self._size), QRectF(self.rect()), margin=2.0)

    def image(self) -> QImage | None:
        return self._image

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#2b2b2b"))
        if self._image is None and self._points is None:
            painter.setPen(QColor("#bbbbbb"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self.placeholder)
            painter.end()
            return
        frame = QRectF(0, 0, *self._size)
        transform = self.image_transform()
        if self._image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(transform.mapRect(frame), self._image)
        else:
            painter.fillRect(transform.mapRect(frame), QColor("#444444"))
        painter.setOpacity(0.45)
        for points in self._others:
            paint_skeleton(painter, points, transform, width=2.0)
        painter.setOpacity(1.0)
        if self._points is not None:
            paint_skeleton(painter, self._points, transform, self._confidence, self._missing)
        if self._overlay is not None:
            paint_overlay(painter, self._overlay, transform)
        paint_person_labels(painter, transform, self._labels)
        painter.end()


class SketchView(QWidget):
    """A bare 2D skeleton fitted into the widget (virtual camera views)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._points: np.ndarray | None = None
        self._frame: QRectF | None = None
        self.title = ""
        self.setMinimumSize(120, 160)

    def set_points(self, points: np.ndarray | None, frame: QRectF | None = None,
                   title: str = "") -> None:
        """`frame`: the image rectangle the points live in (else their bounding box)."""
        self._points, self._frame, self.title = points, frame, title
        self.update()

    def points(self) -> np.ndarray | None:
        return None if self._points is None else self._points.copy()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("white"))
        if self._points is not None:
            frame = self._frame or bounds(self._points)
            transform = fit_transform(frame, QRectF(self.rect()).adjusted(0, 16, 0, 0))
            painter.setPen(QPen(QColor("#cccccc"), 1))
            painter.drawRect(transform.mapRect(frame))
            paint_skeleton(painter, self._points, transform, width=2.5)
        painter.setPen(QColor("#333333"))
        painter.drawText(QRectF(self.rect()).adjusted(4, 2, 0, 0), self.title)
        painter.end()
