"""Publishing the book: MathJax from a digest-checked wheel, `make publish`, the CI workflow."""

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from orbitnet.book import vendor
from orbitnet.data import paths

BIN = Path(sys.executable).parent
WORKFLOW = paths.ROOT / ".github" / "workflows" / "book.yml"


def _fake_wheel(folder: Path, js: str = "window.MathJax = {};") -> Path:
    wheel = folder / "sphinx_mathjax_offline-0.0.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(vendor.WHEEL_PREFIX + "tex-chtml.js", js)
        zf.writestr(vendor.WHEEL_PREFIX + "output/chtml/fonts/woff-v2/MathJax_Main.woff", "font")
        zf.writestr("sphinx-mathjax-offline/__init__.py", "")
    return wheel


def _downloader(built: Path):
    def download(requirement, folder):
        return Path(shutil.copy(built, folder))
    return download


def test_mathjax_is_unpacked_only_from_the_pinned_wheel(tmp_path):
    built = _fake_wheel(tmp_path)
    digest = hashlib.sha256(built.read_bytes()).hexdigest()
    dest = tmp_path / "book" / "mathjax"
    vendor.fetch_mathjax(dest, sha256=digest, download=_downloader(built), log=lambda *_: None)
    assert (dest / "tex-chtml.js").read_text() == "window.MathJax = {};"
    assert (dest / "output/chtml/fonts/woff-v2/MathJax_Main.woff").is_file()
    assert "Apache License" in (dest / "LICENSE").read_text()
    assert not (dest / "__init__.py").exists()
    assert vendor.is_vendored(dest, digest)

    # a wheel with other content (another digest) is refused and the folder stays as it was
    (tmp_path / "other").mkdir()
    other = _fake_wheel(tmp_path / "other", js="evil()")
    with pytest.raises(vendor.VendorError, match="is not the pinned"):
        vendor.fetch_mathjax(dest, sha256="0" * 64, download=_downloader(other),
                             log=lambda *_: None)
    assert (dest / "tex-chtml.js").read_text() == "window.MathJax = {};"
    assert [p.name for p in dest.parent.iterdir()] == ["mathjax"]  # no temporary left


def test_the_pinned_digest_is_of_the_wheel_pip_serves():
    """The pin names MathJax 3.2.2's wheel; the Makefile fetches through this module."""
    assert vendor.WHEEL_REQUIREMENT == "sphinx-mathjax-offline==0.0.2"
    assert len(vendor.WHEEL_SHA256) == 64
    makefile = (paths.ROOT / "Makefile").read_text()
    assert "npm pack" not in makefile and "npm install" not in makefile
    assert "-m orbitnet.book.vendor" in makefile


def _actionlint(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "actionlint"), "-no-color", "-shellcheck",
                           str(BIN / "shellcheck"), *map(str, files)],
                          capture_output=True, text=True, cwd=paths.ROOT)


def test_workflow_passes_actionlint():
    proc = _actionlint(WORKFLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    """The linter really reads the workflow: a typo in a key and a shell bug are reported."""
    broken = WORKFLOW.read_text().replace("branches: [main]", "branchs: [main]")
    broken = broken.replace("make publish", 'cd $(git rev-parse --show-toplevel) && make publish')
    path = tmp_path / ".github" / "workflows" / "book.yml"
    path.parent.mkdir(parents=True)
    path.write_text(broken)
    proc = _actionlint(path)
    assert proc.returncode == 1
    assert 'unexpected key "branchs"' in proc.stdout
    assert "SC2046" in proc.stdout  # shellcheck: quote the command substitution


def test_workflow_builds_the_quick_book_and_publishes():
    wf = yaml.safe_load(WORKFLOW.read_text())
    runs = [s.get("run", "") for s in wf["jobs"]["book"]["steps"]]
    assert any("make test" in r for r in runs)
    assert any("make book PROFILE=quick" in r for r in runs)
    assert any("make publish" in r for r in runs)


def test_make_publish_pushes_the_html_to_gh_pages(tmp_path):
    """`make publish` in a clone whose `origin` is a local bare repository."""
    def git(*args, cwd):
        return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                              text=True).stdout

    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote), cwd=tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(paths.ROOT / "Makefile", work / "Makefile")
    (work / ".venv").symlink_to(BIN.parent)
    html = work / "_build" / "html"
    html.mkdir(parents=True)
    (html / "index.html").write_text("<html>the book</html>")
    (html / "_static").mkdir()
    (html / "_static" / "style.css").write_text("body {}")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    git("init", "-q", cwd=work)
    git("remote", "add", "origin", str(remote), cwd=work)
    git("add", "Makefile", cwd=work)
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "init", cwd=work)
    proc = subprocess.run(["make", "publish"], cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    files = git("ls-tree", "-r", "--name-only", "gh-pages", cwd=remote).split()
    assert sorted(files) == [".nojekyll", "_static/style.css", "index.html"]

    shutil.rmtree(work / "_build")
    proc = subprocess.run(["make", "publish"], cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode != 0 and "run make book first" in proc.stdout


def test_book_metadata():
    config = yaml.safe_load((paths.ROOT / "_config.yml").read_text())
    assert "orbitnet" in config["title"] and config["author"]
    assert config["repository"]["url"].startswith("https://")
    assert config["html"]["use_repository_button"] is True
    assert "MIT" in config["copyright"] or "MIT" in config.get("license", "")
    toc = (paths.ROOT / "_toc.yml").read_text()
    assert "book/cite" in toc
    cite = (paths.ROOT / "book" / "cite.md").read_text()
    assert "skusa2023" in cite and "10.25365/thesis.73468" in cite
