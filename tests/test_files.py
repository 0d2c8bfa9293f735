"""tinygrad_act.files: writes that land whole or not at all, reads only from plain files."""

import os
import stat

import pytest

from tinygrad_act.files import open_regular_file, write_atomically


def test_an_interrupted_write_leaves_the_old_content_and_no_temporary_file(tmp_path):
    path = tmp_path / "checkpoint.bin"
    path.write_bytes(b"old and good")

    def half_then_ctrl_c(f):
        f.write(b"new but ")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, half_then_ctrl_c)
    assert path.read_bytes() == b"old and good"
    assert os.listdir(tmp_path) == ["checkpoint.bin"]


def test_a_write_replaces_the_file_whole_and_keeps_its_permissions(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    write_atomically(path, lambda f: f.write(b"new"))
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_new_file_gets_the_permissions_a_plain_open_gives(tmp_path):
    write_atomically(tmp_path / "a", lambda f: f.write(b"x"))
    with open(tmp_path / "b", "wb") as f:
        f.write(b"x")
    assert (tmp_path / "a").stat().st_mode == (tmp_path / "b").stat().st_mode


def test_writing_through_a_symlink_replaces_the_file_it_points_to(tmp_path):
    real = tmp_path / "real.bin"
    real.write_bytes(b"old")
    link = tmp_path / "link.bin"
    link.symlink_to(real)
    write_atomically(link, lambda f: f.write(b"new"))
    assert link.is_symlink() and real.read_bytes() == b"new"


def test_opening_refuses_what_is_not_a_plain_file(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ValueError, match="load: .*fifo is a FIFO"):
        open_regular_file(tmp_path / "fifo", "load")
    with pytest.raises(ValueError, match="is a character device, not a file"):
        open_regular_file("/dev/null", "load")
    with pytest.raises(TypeError, match=r"not a file descriptor number \(0\)"):
        open_regular_file(0, "load")
    with pytest.raises(TypeError, match=r"not list"):
        write_atomically([], lambda f: None)
