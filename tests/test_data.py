import pytest

from orbitnet.data import fetch, paths
from orbitnet.data.galaxy import DataError


def test_copy_from_shared_and_verify(tmp_path):
    src = fetch.shared_source()
    if src is None:
        pytest.fail("../shared/data/ngc6278 is missing on this machine")
    dest = tmp_path / "ngc6278"
    fetch.fetch(dest=dest, source=src, log=lambda *_: None)
    assert fetch.check(dest=dest) == []
    (dest / "inputs" / "bins.dat").write_text("corrupt\n")
    assert fetch.check(dest=dest) == [str(dest / "inputs" / "bins.dat")]
    fetch.fetch(dest=dest, source=src, log=lambda *_: None)  # repairs it
    assert fetch.check(dest=dest) == []


def test_offline_without_shared_names_make_data(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch, "shared_source", lambda galaxy=paths.GALAXY: None)
    with pytest.raises(DataError, match="make data"):
        fetch.fetch(dest=tmp_path / "g", offline=True, log=lambda *_: None)


def test_manifest_pins_the_download():
    dl = fetch.manifest()["download"]
    assert len(dl["commit"]) == 40
    assert set(dl["files"]) == {"mge.ecsv", "gauss_hermite_kins.ecsv", "aperture.dat", "bins.dat"}
    with pytest.raises(DataError, match="no data manifest"):
        fetch.manifest("ngc0000")
