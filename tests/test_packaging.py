"""What a wheel carries: every code package, and the bundled files at the paths the code uses
(.ci/wheel builds and installs one and lifts a photo with it)."""
from pathlib import Path

import tomllib
from setuptools import find_packages

from vvipe_core.api import BUNDLED_CHECKPOINT
from vvipe_core.bundled import PACKAGES, REPOSITORY, bundled
from vvipe_core.classify import BUNDLED_CLASSIFIER
from vvipe_core.detect import BUNDLED_MODEL
from vvipe_core.gallery import BUNDLED_GALLERY

CONFIG = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_code_package_is_in_the_wheel():
    code = find_packages(str(REPOSITORY), include=["vvipe_core*", "app*"])
    assert set(code) <= set(CONFIG["packages"])


def folder_of(package: str) -> Path:
    """The repository folder setuptools takes a package from (package-dir, else its name)."""
    mapped = CONFIG["package-dir"]
    for prefix in sorted(mapped, key=len, reverse=True):
        if package == prefix or package.startswith(prefix + "."):
            return Path(mapped[prefix], *package[len(prefix):].split(".")[1:])
    return Path(*package.split("."))


def test_every_bundled_file_is_package_data_at_the_path_the_code_uses():
    shipped = {path.relative_to(REPOSITORY) for path in (
        BUNDLED_CHECKPOINT, BUNDLED_CLASSIFIER, BUNDLED_MODEL, BUNDLED_GALLERY,
        bundled("assets/sample.jpg"))}
    assert all((REPOSITORY / path).is_file() for path in shipped)
    assert {folder: package for package, folder in CONFIG["package-dir"].items()} == PACKAGES
    data = {folder_of(package) / name
            for package, names in CONFIG["package-data"].items() for name in names}
    assert shipped <= data
