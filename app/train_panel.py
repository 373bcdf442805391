"""The Training tab: a form bound to TrainConfig, Start / Cancel / Resume, live curves, a log.

The form only reads and writes TrainConfig fields; the run, its curves and time left are
app.training's (and behind it vvipe_core's)."""
from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import tasks
from app.controller import Controller
from app.places import PROJECT, Places, resolve_config_paths
from app.training import Outcome, Training
from app.widgets import ProgressBar
from vvipe_core.atomic import WriteError, write_text
from vvipe_core.cameras import CameraRanges
from vvipe_core.canonical import Realign
from vvipe_core.config import ConfigError, TrainConfig
from vvipe_core.train import STAGES

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
# The curves worth a plot of their own: (title, which series, y axis label).
PLOTS = (
    ("Losses", "losses", None, "loss"),
    ("Validation MPJPE", "val", "mpjpe_mm", "mm"),
    ("Validation Hit@1", "val", "hit@1", "fraction"),
)


def _spin(low: int, high: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    return box


def _real(low: float, high: float, decimals: int) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setDecimals(decimals)
    box.setSingleStep(10.0 ** -decimals * 10)
    return box


class FileField(QWidget):
    """A path in a line edit with a browse button (its dialog starts at the path shown)."""

    def __init__(self, places: Places, caption: str, name_filter: str, save: bool = False) -> None:
        super().__init__()
        self.places = places
        self.edit = QLineEdit(toolTip=caption)
        browse = QToolButton(text="…", toolTip=f"Choose: {caption.lower()}")
        browse.clicked.connect(lambda: self._browse(caption, name_filter, save))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(browse)

    def _browse(self, caption: str, name_filter: str, save: bool) -> None:
        if save:
            path = self.places.save_file(self, caption, str(self.path()), name_filter)
        else:
            path = self.places.open_file(self, caption, name_filter)
        if path:
            self.edit.setText(str(path))

    def path(self) -> Path:
        return Path(self.edit.text())


class TrainPanel(QWidget):
    def __init__(self, controller: Controller, training: Training) -> None:
        super().__init__()
        self.controller = controller
        self.training = training
        # Fields the form does not show (model width, ...); the defaults' data paths are
        # relative to the project folder, wherever the app was started from.
        self._base = resolve_config_paths(TrainConfig(), PROJECT)
        self._build_form()
        self._build_run()
        training.runningChanged.connect(self._running_changed)
        training.curvesChanged.connect(self._redraw)
        training.progress.connect(self._progress)
        training.log.connect(self.log.appendPlainText)
        training.finished.connect(self._finished)
        self.set_config(self._base)
        self._running_changed(False)

    # -- layout ------------------------------------------------------------------------------
    def _build_form(self) -> None:
        places = self.controller.places
        self.train_data = FileField(places, "Training poses", "Pose files (*.npz)")
        self.val_data = FileField(places, "Validation poses", "Pose files (*.npz)")
        self.out = FileField(places, "Checkpoint to write", "Checkpoints (*.pt)", save=True)
        self.out.edit.setText(str(places.data("runs", "studio.pt")))
        self.stages = {stage: QCheckBox(stage, checked=True) for stage in STAGES}
        stages = QHBoxLayout()
        for box in self.stages.values():
            stages.addWidget(box)
        self.vae_epochs, self.mapper_epochs = _spin(1, 10_000), _spin(1, 10_000)
        self.batch_size = _spin(1, 1 << 16)
        self.steps_per_epoch = _spin(0, 1 << 24)
        self.steps_per_epoch.setSpecialValueText("all data")
        self.vae_lr, self.mapper_lr = _real(1e-6, 1.0, 6), _real(1e-6, 1.0, 6)
        self.embedding_dim = _spin(2, 1024)
        self.beta = _real(0.0, 10.0, 6)
        self.triplet = QCheckBox("triplet loss")
        self.realign = QComboBox()
        self.realign.addItems([r.value for r in Realign])
        self.elevation_low, self.elevation_high = _real(-90, 90, 1), _real(-90, 90, 1)
        elevation = QHBoxLayout()
        elevation.addWidget(self.elevation_low)
        elevation.addWidget(QLabel("to"))
        elevation.addWidget(self.elevation_high)
        self.device = QComboBox()
        self.device.addItems(["auto", *tasks.devices()])
        self.seed = _spin(0, 2**31 - 1)
        load = QPushButton("Load TOML…", toolTip="Fill the form from a training config file")
        save = QPushButton("Save TOML…", toolTip="Save the form as a training config file")
        load.clicked.connect(self._load_dialog)
        save.clicked.connect(self._save_dialog)
        files = QHBoxLayout()
        files.addWidget(load)
        files.addWidget(save)
        self.form = QWidget()
        form = QFormLayout(self.form)
        for label, field, tip in (
            ("Training data", self.train_data, None), ("Validation data", self.val_data, None),
            ("Checkpoint", self.out, None), ("Stages", stages, None),
            ("VAE epochs", self.vae_epochs, "Passes of the 3D pose VAE over the training poses"),
            ("Mapper epochs", self.mapper_epochs, "Passes of the 2D → embedding network"),
            ("Batch size", self.batch_size, "Poses per training step"),
            ("Steps per epoch", self.steps_per_epoch, "Steps in an epoch (all data: one pass)"),
            ("VAE learning rate", self.vae_lr, "Adam step size of the VAE stage"),
            ("Mapper learning rate", self.mapper_lr, "Adam step size of the mapper stage"),
            ("Embedding size", self.embedding_dim, "Dimensions of the pose embedding"),
            ("β (KL weight)", self.beta, "Weight of the VAE's KL term (small: sharper poses)"),
            ("", self.triplet, "Pull poses alike together in the embedding (VAE stage)"),
            ("Realignment", self.realign, "How training poses are turned before embedding"),
            ("Camera elevation (°)", elevation, None),
            ("Device", self.device, "Where training runs (auto: the GPU when there is one)"),
            ("Seed", self.seed, "Random seed: the same seed repeats a run"),
            ("Config", files, None),
        ):
            if tip and isinstance(field, QWidget):
                field.setToolTip(tip)
            form.addRow(label, field)
        for box in self.stages.values():
            box.setToolTip(f"Train the {box.text()} stage")
        self.elevation_low.setToolTip("Lowest virtual camera elevation in training (degrees)")
        self.elevation_high.setToolTip("Highest virtual camera elevation in training (degrees)")
        scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        scroll.setWidget(self.form)  # the form scrolls on a small screen
        self.form_area = scroll

    def _build_run(self) -> None:
        self.start = QPushButton("Start", toolTip="Train from scratch into the checkpoint")
        self.start.clicked.connect(self._start)
        self.cancel = QPushButton("Cancel", toolTip="Stop; the checkpoint is saved and can be "
                                  "resumed")
        self.cancel.clicked.connect(self.training.cancel)
        self.resume = QPushButton("Resume", toolTip="Continue the run saved in the checkpoint")
        self.resume.clicked.connect(self._resume)
        self.load_result = QPushButton("Load into viewer")
        self.load_result.setToolTip("Show the new model in the Pose tab, gallery and sliders")
        self.load_result.clicked.connect(self._load_result)
        self.bar = ProgressBar(maximum=1000)
        self.eta = QLabel()
        buttons = QHBoxLayout()
        for widget in (self.start, self.cancel, self.resume, self.load_result):
            buttons.addWidget(widget)
        buttons.addWidget(self.bar, 1)
        buttons.addWidget(self.eta)
        self.plots: dict[str, pg.PlotWidget] = {}
        plots = QHBoxLayout()
        for title, _, _, unit in PLOTS:
            plot = pg.PlotWidget(title=title, background="w")
            plot.addLegend(offset=(-10, 10))
            plot.setLabel("bottom", "step")
            plot.setLabel("left", unit)
            plot.getAxis("left").enableAutoSIPrefix(False)  # "fraction (x0.001)" misleads
            plot.showGrid(x=True, y=True, alpha=0.3)
            self.plots[title] = plot
            plots.addWidget(plot)
        self.log = QPlainTextEdit(readOnly=True, maximumBlockCount=5000)
        right = QWidget()
        layout = QVBoxLayout(right)
        layout.addLayout(buttons)
        layout.addLayout(plots, 3)
        layout.addWidget(self.log, 1)
        splitter = QSplitter()
        splitter.addWidget(self.form_area)
        splitter.addWidget(right)
        splitter.setSizes([380, 1000])
        QVBoxLayout(self).addWidget(splitter)

    # -- the form <-> TrainConfig ------------------------------------------------------------
    def set_config(self, cfg: TrainConfig) -> None:
        self._base = cfg
        self.train_data.edit.setText(cfg.train_data)
        self.val_data.edit.setText(cfg.val_data)
        for box, value in ((self.vae_epochs, cfg.vae_epochs), (self.mapper_epochs, cfg.mapper_epochs),
                           (self.batch_size, cfg.batch_size), (self.steps_per_epoch, cfg.steps_per_epoch),
                           (self.vae_lr, cfg.vae_lr), (self.mapper_lr, cfg.mapper_lr),
                           (self.embedding_dim, cfg.model.embedding_dim), (self.beta, cfg.beta),
                           (self.elevation_low, cfg.cameras.elevation[0]),
                           (self.elevation_high, cfg.cameras.elevation[1]), (self.seed, cfg.seed)):
            box.setValue(value)
        self.triplet.setChecked(cfg.triplet)
        self.realign.setCurrentText(cfg.realign)
        if self.device.findText(cfg.device) < 0:
            self.device.addItem(cfg.device)
        self.device.setCurrentText(cfg.device)

    def config(self) -> TrainConfig:
        cameras = CameraRanges(**{**vars(self._base.cameras), "elevation": (
            self.elevation_low.value(), self.elevation_high.value())})
        return self._base.replace(
            train_data=self.train_data.edit.text(), val_data=self.val_data.edit.text(),
            vae_epochs=self.vae_epochs.value(), mapper_epochs=self.mapper_epochs.value(),
            batch_size=self.batch_size.value(), steps_per_epoch=self.steps_per_epoch.value(),
            vae_lr=self.vae_lr.value(), mapper_lr=self.mapper_lr.value(), beta=self.beta.value(),
            model={"embedding_dim": self.embedding_dim.value()}, triplet=self.triplet.isChecked(),
            realign=self.realign.currentText(), cameras=cameras, device=self.device.currentText(),
            seed=self.seed.value(),
        )

    def selected_stages(self) -> tuple[str, ...]:
        return tuple(stage for stage, box in self.stages.items() if box.isChecked())

    def load_config(self, path: Path) -> None:
        """A TOML config; its relative data paths are relative to the file's folder."""
        try:
            self.set_config(resolve_config_paths(TrainConfig.from_file(path),
                                                 Path(path).resolve().parent))
        except ConfigError as error:
            self.controller.error(str(error))

    def save_config(self, path: Path) -> None:
        try:
            write_text(path, self.config().to_toml())
        except WriteError as error:
            self.controller.error(str(error))

    def _load_dialog(self) -> None:
        path = self.controller.places.open_file(self, "Load training config", "TOML (*.toml)")
        if path:
            self.load_config(path)

    def _save_dialog(self) -> None:
        path = self.controller.places.save_file(self, "Save training config", "train.toml",
                                                "TOML (*.toml)")
        if path:
            self.save_config(path)

    # -- running -----------------------------------------------------------------------------
    def _start(self) -> None:
        self.out.path().parent.mkdir(parents=True, exist_ok=True)
        self.training.start(self.config(), self.out.path(), self.selected_stages())

    def _resume(self) -> None:
        self.training.resume(self.out.path(), self.selected_stages())

    def _load_result(self) -> None:
        if self.training.result is not None:
            self.controller.files.open_checkpoint(self.training.result.checkpoint)

    def _running_changed(self, running: bool) -> None:
        self.form.setEnabled(not running)
        self.start.setEnabled(not running)
        self.resume.setEnabled(not running)
        self.cancel.setEnabled(running)
        self.load_result.setEnabled(not running and self.training.result is not None
                                    and not self.training.result.cancelled)

    def _finished(self, outcome: Outcome) -> None:
        self._running_changed(False)
        if outcome.cancelled:
            self.eta.setText("cancelled")

    def _progress(self, fraction: float, eta_s: float | None) -> None:
        self.bar.setValue(round(fraction * self.bar.maximum()))
        self.eta.setText("" if eta_s is None else f"{eta_s:.0f} s left")

    def _redraw(self) -> None:
        curves = self.training.curves
        for (title, group, suffix, _), plot in zip(PLOTS, self.plots.values()):
            plot.clear()
            series = getattr(curves, group) if curves is not None else {}
            shown = {k: s for k, s in series.items() if suffix is None or k.endswith(suffix)}
            for colour, (name, points) in zip(COLOURS * 4, shown.items()):
                plot.plot(points.x, points.y, pen=pg.mkPen(colour, width=2), name=name,
                          symbol="o" if group == "val" else None, symbolSize=5,
                          symbolBrush=colour)

    def curve(self, plot: str, name: str) -> tuple[list[float], list[float]]:
        """The points drawn for one curve (for tests)."""
        for item in self.plots[plot].listDataItems():
            if item.name() == name:
                x, y = item.getData()
                return list(x), list(y)
        return [], []
