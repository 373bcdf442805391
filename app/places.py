"""Where the app reads and writes, whatever directory it was launched from: the user's
standard folders (QStandardPaths), the last folder a dialog used (remembered in the settings),
and training configs whose relative paths mean "next to this file"."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtWidgets import QFileDialog, QWidget

from vvipe_core.config import TrainConfig

PROJECT = Path(__file__).resolve().parent.parent  # the defaults' paths are relative to it
LAST_FOLDER = "last_folder"


def user_folder(kind: QStandardPaths.StandardLocation) -> Path:
    return Path(QStandardPaths.writableLocation(kind))


def resolve_config_paths(cfg: TrainConfig, base: Path) -> TrainConfig:
    """The config with relative data paths made absolute against `base` (the config file's
    folder; the project folder for the built-in defaults)."""
    def absolute(path: str) -> str:
        return path if not path or Path(path).is_absolute() else str((base / path).resolve())

    return cfg.replace(train_data=absolute(cfg.train_data), val_data=absolute(cfg.val_data))


class Places:
    """File dialogs that open where the user last was, and the app's own data folder."""

    def __init__(self, settings: QSettings) -> None:
        self.settings = settings

    def data(self, *parts: str) -> Path:
        """A path in the app's data folder (libraries, training runs)."""
        return user_folder(QStandardPaths.StandardLocation.AppDataLocation).joinpath(*parts)

    def folder(self) -> Path:
        """Where dialogs open: the last folder used, else the user's documents."""
        last = Path(str(self.settings.value(LAST_FOLDER, "") or ""))
        if str(last) not in ("", ".") and last.is_dir():
            return last
        return user_folder(QStandardPaths.StandardLocation.DocumentsLocation)

    def remember(self, path: Path) -> None:
        """`path` (a file or a folder) was used: dialogs open in its folder from now on."""
        path = Path(path).resolve()
        self.settings.setValue(LAST_FOLDER, str(path if path.is_dir() else path.parent))

    def open_files(self, parent: QWidget, caption: str, name_filter: str = "") -> list[Path]:
        names, _ = QFileDialog.getOpenFileNames(parent, caption, str(self.folder()), name_filter)
        return self._used([Path(n) for n in names])

    def open_file(self, parent: QWidget, caption: str, name_filter: str = "") -> Path | None:
        name, _ = QFileDialog.getOpenFileName(parent, caption, str(self.folder()), name_filter)
        return next(iter(self._used([Path(name)] if name else [])), None)

    def save_file(self, parent: QWidget, caption: str, name: str,
                  name_filter: str = "") -> Path | None:
        """`name`: the suggested file name, in the last folder used (or a full path)."""
        chosen, _ = QFileDialog.getSaveFileName(parent, caption, str(self.folder() / name),
                                                name_filter)
        return next(iter(self._used([Path(chosen)] if chosen else [])), None)

    def directory(self, parent: QWidget, caption: str, start: Path | None = None) -> Path | None:
        chosen = QFileDialog.getExistingDirectory(parent, caption, str(start or self.folder()))
        return next(iter(self._used([Path(chosen)] if chosen else [])), None)

    def _used(self, paths: list[Path]) -> list[Path]:
        if paths:
            self.remember(paths[0])
        return paths
