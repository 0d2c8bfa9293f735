"""What the built package carries (issue 23, item 9): the LICENSE that setup.cfg's `license = MIT`
promises, in the wheel and in the sdist, and (issue 28) the scripts the widgets load. Builds with
setuptools' own backend from a copy of the package's files (about 2 s, no network: the backend is
the one installed here)."""

import configparser
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LICENSE = (ROOT / "LICENSE").read_text(encoding="utf-8")

pytest.importorskip("setuptools")


def test_the_license_is_mit_with_the_projects_copyright_and_setup_cfg_names_it():
    assert LICENSE.startswith("MIT License\n\nCopyright (c) 2026 the tinygrad_act developers\n")
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in LICENSE
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    assert cfg["metadata"]["license"] == "MIT"
    assert cfg["metadata"]["license_files"].split() == ["LICENSE"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The wheel and the sdist, built from a copy of what a checkout holds for them."""
    src = tmp_path_factory.mktemp("src")
    for name in ("setup.cfg", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "tinygrad_act", src / "tinygrad_act", ignore=shutil.ignore_patterns("__pycache__")
    )
    code = "from setuptools import build_meta as b; b.build_wheel('dist'); b.build_sdist('dist')"
    (src / "dist").mkdir()
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=src, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,), (sdist,) = (list((src / "dist").glob(pattern)) for pattern in ("*.whl", "*.tar.gz"))
    return wheel, sdist


def test_the_wheel_carries_the_license_and_names_it_in_its_metadata(built):
    wheel, _ = built
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
        licenses = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        assert len(licenses) == 1, names
        assert whl.read(licenses[0]).decode("utf-8") == LICENSE
        metadata = whl.read(licenses[0].replace("licenses/LICENSE", "METADATA")).decode("utf-8")
    assert "License-File: LICENSE" in metadata.splitlines()


def test_the_sdist_carries_the_license(built):
    _, sdist = built
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/LICENSE"))
        assert tar.extractfile(member).read().decode("utf-8") == LICENSE


def test_the_wheel_carries_what_the_widgets_load(built):
    # The widgets' ES modules are built from the lab's plot.js and their own scripts, read from
    # the installed package: a wheel without them would give widgets that cannot import.
    wheel, _ = built
    widgets = ROOT / "tinygrad_act" / "widgets" / "static"
    wanted = {f"tinygrad_act/widgets/static/{p.name}" for p in widgets.iterdir()}
    wanted.add("tinygrad_act/lab/static/js/plot.js")
    with zipfile.ZipFile(wheel) as whl:
        assert wanted <= set(whl.namelist())
