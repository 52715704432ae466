"""``eels_helpers.files.file_digest`` against known digests (FIPS 180 test vector "abc") and
against re-reading a file that was rewritten in place; ``atomic_write_text`` whole or not at all, and ``read_json_table`` back."""

from __future__ import annotations

import os

import pytest

from eels_helpers.files import file_digest

#: SHA-256 and SHA-1 of b"abc" (FIPS 180-2, appendix B.1 / FIPS 180-1, appendix A)
ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
ABC_SHA1 = "a9993e364706816aba3e25717850c26c9cd0d89d"


def test_digest_of_a_known_vector(tmp_path):
    f = tmp_path / "abc.bin"
    f.write_bytes(b"abc")
    assert file_digest(f) == ABC_SHA256
    assert file_digest(str(f), "sha1") == ABC_SHA1
    assert file_digest(f, "SHA256") == ABC_SHA256


def test_a_file_rewritten_in_place_is_read_again(tmp_path):
    f = tmp_path / "x.bin"
    f.write_bytes(b"abc")
    first = file_digest(f)
    f.write_bytes(b"abcd")
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))   # a new version even on coarse clocks
    assert file_digest(f) != first


def test_large_files_are_read_in_blocks(tmp_path):
    import hashlib

    data = bytes(range(256)) * 9000            # > 2 MiB: several 1 MiB blocks
    f = tmp_path / "big.bin"
    f.write_bytes(data)
    assert file_digest(f) == hashlib.sha256(data).hexdigest()


def test_bad_input_names_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.bin"):
        file_digest(tmp_path / "missing.bin")
    (tmp_path / "a").write_bytes(b"a")
    with pytest.raises(ValueError, match="unknown hash algorithm 'sha-nope'"):
        file_digest(tmp_path / "a", "sha-nope")
    with pytest.raises(ValueError, match="unknown hash algorithm 'shake_128'"):   # no fixed length
        file_digest(tmp_path / "a", "shake_128")


def test_atomic_write_text_replaces_whole_and_leaves_the_old_file_on_failure(tmp_path, monkeypatch):
    from eels_helpers.files import atomic_write_text

    f = tmp_path / "sub" / "table.json"
    assert atomic_write_text(f, "old\n") == f and f.read_text() == "old\n"     # the folder is created
    umask = os.umask(0o022)
    os.umask(umask)
    assert f.stat().st_mode & 0o777 == 0o666 & ~umask                       # as open() makes it, not 0600
    f.chmod(0o640)
    atomic_write_text(f, "new\n")
    assert f.read_text() == "new\n" and f.stat().st_mode & 0o777 == 0o640   # its permissions kept

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(f, "half\n")
    assert f.read_text() == "new\n" and sorted(p.name for p in f.parent.iterdir()) == ["table.json"]


def test_read_json_table_reads_back_what_was_written_and_names_a_broken_file(tmp_path):
    from eels_helpers.files import atomic_write_text, read_json_table

    f = tmp_path / "t.json"
    assert read_json_table(f, "rules file") == {}                       # no file yet
    atomic_write_text(f, '{"rules": {"default": [1, 2]}}\n')
    assert read_json_table(f, "rules file") == {"rules": {"default": [1, 2]}}
    f.write_text("{half")
    with pytest.raises(ValueError, match=r"t\.json: not a valid rules file \("):
        read_json_table(f, "rules file")
