"""The local S3: S3Prefix downloads, mapped objects, and errors that name the URI."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_pipeline.errors import S3Error
from local_pipeline.s3 import LocalS3, relative_key


@pytest.mark.parametrize(
    ("prefix", "key", "lands_as"),
    [
        ("runs/1/train", "runs/1/train/train.csv", "train.csv"),
        ("runs/1/train/", "runs/1/train/sub/a.csv", "sub/a.csv"),
        ("runs/1/model.tar.gz", "runs/1/model.tar.gz", "model.tar.gz"),
        ("assets/abc.gz", "assets/abc.gz", "abc.gz"),
        ("runs/1/tra", "runs/1/train/a.csv", "train/a.csv"),
        ("", "top/a.csv", "top/a.csv"),
    ],
)
def test_relative_key(prefix: str, key: str, lands_as: str) -> None:
    assert relative_key(prefix, key) == lands_as


def test_s3_prefix_download_keeps_paths_and_overrides_win(tmp_path: Path) -> None:
    s3 = LocalS3(tmp_path / "s3")
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "a.csv").write_text("a")
    (source / "sub" / "b.csv").write_text("b")
    assert s3.seed("s3://bkt/data/", source) == ["s3://bkt/data/a.csv", "s3://bkt/data/sub/b.csv"]
    elsewhere = tmp_path / "elsewhere.gz"
    elsewhere.write_text("asset")
    s3.objects["s3://bkt/data/c.gz"] = elsewhere
    s3.objects["s3://other/data/d.csv"] = elsewhere
    landed = s3.download("s3://bkt/data", tmp_path / "dst")
    assert sorted(p.relative_to(tmp_path / "dst").as_posix() for p in landed) == ["a.csv", "c.gz", "sub/b.csv"]
    assert (tmp_path / "dst" / "c.gz").read_text() == "asset"
    exact = s3.download("s3://bkt/data/c.gz", tmp_path / "one")
    assert [p.name for p in exact] == ["c.gz"]


def test_s3_errors_name_the_uri(tmp_path: Path) -> None:
    s3 = LocalS3(tmp_path / "s3", {"s3://b/folder-asset.zip": tmp_path})
    with pytest.raises(S3Error, match=r"no object at or under s3://b/missing/"):
        s3.download("s3://b/missing/", tmp_path / "dst")
    with pytest.raises(S3Error, match="mapped to the folder"):
        s3.get("s3://b/folder-asset.zip")
    with pytest.raises(S3Error, match="not an S3 URI"):
        s3.local_path("/local/file")
    with pytest.raises(S3Error, match="malformed"):
        s3.local_path("s3://b/../escape")


def test_map_objects_serves_local_files_without_copying(tmp_path: Path) -> None:
    s3 = LocalS3(tmp_path / "s3")
    data = tmp_path / "german.data"
    data.write_text("x")
    uri = s3.map_objects("s3://local-input/run1/", data)
    assert uri == "s3://local-input/run1/german.data"
    assert s3.get(uri) == data
    assert not (tmp_path / "s3").exists()
