"""A directory as file names and bytes: names from outside never lead out of the directory."""

from pathlib import Path

import pytest

from spacy_korsent.files.packing import member_path, pack_directory, unpack_files


@pytest.mark.parametrize(
    "name, problem",
    [
        ("/etc/escaped", "is absolute"),
        ("\\escaped", "is absolute"),
        ("C:escaped", "holds a NUL byte or ':'"),
        ("C:\\escaped", "holds a NUL byte or ':'"),
        ("../escaped", "has an empty, '.' or '..' part"),
        ("a/../../escaped", "has an empty, '.' or '..' part"),
        ("a\\..\\..\\escaped", "has an empty, '.' or '..' part"),
        ("a/./b", "has an empty, '.' or '..' part"),
        ("a//b", "has an empty, '.' or '..' part"),
        ("a/", "has an empty, '.' or '..' part"),
        ("a\0b", "holds a NUL byte or ':'"),
        ("", "is empty"),
        (b"cfg", "is not a string"),
    ],
)
def test_names_that_could_lead_out_are_refused(tmp_path, name, problem):
    with pytest.raises(ValueError, match=f"{problem}"):
        member_path(tmp_path, name)


def test_a_directory_comes_back_file_for_file(tmp_path):
    source = tmp_path / "source"
    (source / "model").mkdir(parents=True)
    (source / "cfg").write_bytes(b"{}")
    (source / "model" / "config.json").write_bytes(b'{"a": 1}')
    (tmp_path / "weights").write_bytes(b"\x00\x01")
    (source / "model" / "model.safetensors").symlink_to(tmp_path / "weights")
    files = pack_directory(source)
    assert files == {
        "cfg": b"{}",
        "model/config.json": b'{"a": 1}',
        "model/model.safetensors": b"\x00\x01",  # a link travels as the file it points to
    }
    unpack_files(files, tmp_path / "copy")
    unpacked = sorted(p for p in (tmp_path / "copy").rglob("*") if p.is_file())
    assert [p.relative_to(tmp_path / "copy").as_posix() for p in unpacked] == sorted(files)
    assert not any(p.is_symlink() for p in unpacked)
    # Names written on Windows (backslashes) unpack into the same directories.
    unpack_files({"model\\config.json": b"{}"}, tmp_path / "from-windows")
    assert (tmp_path / "from-windows" / "model" / "config.json").read_bytes() == b"{}"


def test_a_link_to_a_directory_is_refused_when_packing(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "source").mkdir()
    (tmp_path / "source" / "model").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="is a link to a directory"):
        pack_directory(tmp_path / "source")


@pytest.mark.parametrize(
    "files, message",
    [
        ({"a/b": b"", "a\\b": b""}, "'a\\\\\\\\b' is given twice"),
        ({"a": b"", "a/b": b""}, "'a' is given both as a file and a directory"),
        ({"a": b"", "../escaped": b""}, "has an empty, '.' or '..' part"),
    ],
)
def test_nothing_is_written_when_one_entry_is_refused(tmp_path, files, message):
    with pytest.raises(ValueError, match=message):
        unpack_files(files, tmp_path / "new")
    assert list(tmp_path.iterdir()) == []


def test_unpacking_never_writes_through_a_directory_that_has_files(tmp_path):
    root = tmp_path / "used"
    root.mkdir()
    (root / "model").symlink_to(tmp_path)  # a link planted where a file will be written
    with pytest.raises(ValueError, match="is not empty"):
        unpack_files({"model/x": b"owned"}, root)
    assert not (tmp_path / "x").exists()


def test_names_inside_are_joined_to_the_directory(tmp_path):
    assert member_path(tmp_path, "model/config.json") == Path(tmp_path, "model", "config.json")
    assert member_path(tmp_path, "..foo/b..") == Path(tmp_path, "..foo", "b..")
