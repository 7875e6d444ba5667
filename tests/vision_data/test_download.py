"""download(): success, checksum mismatch, HTTP errors, truncated transfers, unreachable host; never a partial file."""
import hashlib
import os

import pytest

from lamina.data.download import DownloadError, check_file, download, file_digest

BODY = bytes(range(256)) * 1000  # 256 kB: several read chunks would be needed at small sizes too


def _leftovers(directory):
    return sorted(os.listdir(directory))


def test_download_success_sha256_and_md5(file_server, tmp_path):
    url = file_server.add("/data/file.bin", BODY)
    target = tmp_path / "sub" / "file.bin"  # missing parent directories are created
    out = download(url, target, sha256=hashlib.sha256(BODY).hexdigest())
    assert out == str(target) and target.read_bytes() == BODY
    assert _leftovers(target.parent) == ["file.bin"]  # no temporary file left behind
    download(url, tmp_path / "b.bin", md5=hashlib.md5(BODY).hexdigest())
    assert (tmp_path / "b.bin").read_bytes() == BODY
    download(url, tmp_path / "c.bin")  # no checksum: just fetched
    assert file_digest(tmp_path / "c.bin") == hashlib.sha256(BODY).hexdigest()
    assert check_file(tmp_path / "c.bin", sha256=hashlib.sha256(BODY).hexdigest())
    assert not check_file(tmp_path / "c.bin", md5="0" * 32) and not check_file(tmp_path / "missing")


def test_checksum_mismatch_leaves_no_file(file_server, tmp_path):
    url = file_server.add("/f.bin", BODY)
    with pytest.raises(DownloadError, match=r"checksum mismatch.*expected sha256 0{64}, got " +
                       hashlib.sha256(BODY).hexdigest()):
        download(url, tmp_path / "f.bin", sha256="0" * 64)
    assert _leftovers(tmp_path) == []


def test_checksum_mismatch_keeps_a_previous_file(file_server, tmp_path):
    url = file_server.add("/f.bin", BODY)
    (tmp_path / "f.bin").write_bytes(b"old content")
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download(url, tmp_path / "f.bin", md5="0" * 32)
    assert (tmp_path / "f.bin").read_bytes() == b"old content" and _leftovers(tmp_path) == ["f.bin"]


def test_http_404_names_the_status(file_server, tmp_path):
    with pytest.raises(DownloadError, match=r"HTTP 404") as info:
        download(file_server.url + "/nope.gz", tmp_path / "nope.gz")
    assert "/nope.gz" in str(info.value)
    assert _leftovers(tmp_path) == []


def test_truncated_transfer_is_an_error_and_leaves_nothing(file_server, tmp_path):
    url = file_server.add_truncated("/short.bin", BODY[:1000], declared=5000)
    with pytest.raises(DownloadError, match=r"(truncated: received 1000 of 5000 bytes|cut off after 1000 bytes)"):
        download(url, tmp_path / "short.bin")
    assert _leftovers(tmp_path) == []


def test_unreachable_host_says_offline_and_where_to_put_the_file(closed_port_url, tmp_path):
    target = tmp_path / "x.gz"
    with pytest.raises(DownloadError) as info:
        download(closed_port_url + "/x.gz", target, timeout=5)
    msg = str(info.value)
    host = closed_port_url.split("//")[1]
    assert f"cannot reach {host}" in msg and "you may be offline" in msg and str(target) in msg
    assert _leftovers(tmp_path) == []
    assert isinstance(info.value, OSError)
