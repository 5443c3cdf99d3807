import pytest

from orbitnet import data, paths
from orbitnet.galaxy import DataError


def test_copy_from_shared_and_verify(tmp_path):
    src = data.shared_source()
    if src is None:
        pytest.fail("../shared/data/ngc6278 is missing on this machine")
    dest = tmp_path / "ngc6278"
    data.fetch(dest=dest, source=src, log=lambda *_: None)
    assert data.check(dest=dest) == []
    (dest / "inputs" / "bins.dat").write_text("corrupt\n")
    assert data.check(dest=dest) == [str(dest / "inputs" / "bins.dat")]
    data.fetch(dest=dest, source=src, log=lambda *_: None)  # repairs it
    assert data.check(dest=dest) == []


def test_offline_without_shared_names_make_data(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "shared_source", lambda galaxy=paths.GALAXY: None)
    with pytest.raises(DataError, match="make data"):
        data.fetch(dest=tmp_path / "g", offline=True, log=lambda *_: None)


def test_manifest_pins_the_download():
    dl = data.manifest()["download"]
    assert len(dl["commit"]) == 40
    assert set(dl["files"]) == {"mge.ecsv", "gauss_hermite_kins.ecsv", "aperture.dat", "bins.dat"}
    with pytest.raises(DataError, match="no data manifest"):
        data.manifest("ngc0000")
