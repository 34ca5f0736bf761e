"""Container images of the local node, made without Docker and without any registry.

Owns: the node's sandbox image (``localhost/pause:3.10``, our static ``pause`` program packed with umoci
and skopeo), the stand-in Python base (a Debian bookworm root made with mmdebstrap, cached in the
buildah storage under the cache directory), building the project's Dockerfile with buildah on that
stand-in, and importing images into the node's containerd with ``ctr``.

The stand-in base exists because Docker Hub is unreachable here: the Dockerfile keeps the official
``python:*-slim`` image for users, and only the tests pass ``--build-arg PYTHON_IMAGE=<stand-in>``.
The stand-in also trusts this host's CA bundle (``/etc/pip.conf`` points pip at it), so that pip inside
the build reaches the package index the way the host does.

Does not own: containerd itself (``node``), building Go programs (``build``).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from nylas_operator.devcluster.build import cache_root

PAUSE_IMAGE = "localhost/pause:3.10"
PROJECT_IMAGE = "localhost/nylas-operator"
CONTAINERD_NAMESPACE = "k8s.io"
STANDIN_REPOSITORY = "localhost/nylas-operator-standin-python"
STANDIN_SUITE = "bookworm"
STANDIN_PACKAGES = ("python3", "python3-venv", "ca-certificates")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# A Python prefix at /usr/local, like the official image: pip and the entry points in /usr/local/bin.
_STANDIN_HOOKS = (
    'chroot "$1" python3 -m venv --without-pip /usr/local',
    'chroot "$1" /usr/local/bin/python3 -m ensurepip --default-pip',
)
_STANDIN_PATH = "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"
_DEBIAN_PACKAGE = {
    "buildah": "buildah",
    "ctr": "containerd",
    "mmdebstrap": "mmdebstrap",
    "skopeo": "skopeo",
    "umoci": "umoci",
}


class ImageError(RuntimeError):
    """A tool is missing or a step failed; one human line (plus the failing tool's last lines)."""


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        package = _DEBIAN_PACKAGE.get(name, name)
        raise ImageError(f"`{name}` is missing; install it (Debian: apt-get install {package})")
    return path


def _run(args: list[str], *, timeout: float, cwd: Path | None = None) -> str:
    try:
        result = subprocess.run(
            args,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ImageError(f"{Path(args[0]).name} {args[1]} timed out after {timeout:.0f}s") from None
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-10:]
        raise ImageError(f"{Path(args[0]).name} {args[1]} failed: " + " | ".join(tail))
    return result.stdout


# --- containerd ------------------------------------------------------------------------------------------


def ctr_args(address: Path) -> list[str]:
    return [tool("ctr"), f"--address={address}", f"--namespace={CONTAINERD_NAMESPACE}"]


def import_archive(address: Path, archive: Path) -> None:
    """Import a docker-archive into the node's containerd (the CRI namespace)."""
    _run([*ctr_args(address), "images", "import", "--no-unpack", str(archive)], timeout=300)


def has_image(address: Path, ref: str) -> bool:
    out = _run([*ctr_args(address), "images", "list", "--quiet"], timeout=60)
    return ref in out.split()


# --- images from a root filesystem (umoci + skopeo) ------------------------------------------------------


def rootfs_archive(files: dict[str, Path], entrypoint: str, ref: str, out: Path) -> Path:
    """A docker-archive of a one-layer image holding ``files`` (path in image -> host file)."""
    umoci, skopeo = tool("umoci"), tool("skopeo")
    with tempfile.TemporaryDirectory(prefix="nylas-operator-umoci-") as tmp:
        layout, bundle = Path(tmp) / "layout", Path(tmp) / "bundle"
        image = f"{layout}:latest"
        _run([umoci, "init", f"--layout={layout}"], timeout=60)
        _run([umoci, "new", f"--image={image}"], timeout=60)
        _run([umoci, "unpack", f"--image={image}", str(bundle)], timeout=60)
        for inside, source in files.items():
            target = bundle / "rootfs" / inside.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        _run([umoci, "repack", f"--image={image}", str(bundle)], timeout=60)
        _run([umoci, "config", f"--image={image}", f"--config.entrypoint={entrypoint}"], timeout=60)
        out.unlink(missing_ok=True)
        _run([skopeo, "copy", "--quiet", f"oci:{image}", f"docker-archive:{out}:{ref}"], timeout=120)
    return out


def load_pause(address: Path, pause_binary: Path) -> None:
    """Put the sandbox image into the node's containerd (0.4 s); reused when already there."""
    if has_image(address, PAUSE_IMAGE):
        return
    with tempfile.TemporaryDirectory(prefix="nylas-operator-pause-") as tmp:
        archive = rootfs_archive({"/pause": pause_binary}, "/pause", PAUSE_IMAGE, Path(tmp) / "pause.tar")
        import_archive(address, archive)
    # Pinned: kubelet's image garbage collection never removes the sandbox image.
    _run([*ctr_args(address), "images", "label", PAUSE_IMAGE, "io.cri-containerd.pinned=pinned"], timeout=60)


# --- the project's image (buildah on the stand-in base) --------------------------------------------------


def buildah_args() -> list[str]:
    """buildah with its storage under the cache directory (the stand-in base survives between runs)."""
    root = cache_root() / "buildah"
    return [
        tool("buildah"),
        f"--root={root / 'storage'}",
        f"--runroot={root / 'run'}",
        "--storage-driver=overlay",
    ]


def standin_tag() -> str:
    """The stand-in's tag names its inputs: packages, hooks and the host CA bundle it trusts."""
    digest = hashlib.sha256()
    for part in (STANDIN_SUITE, *STANDIN_PACKAGES, *_STANDIN_HOOKS):
        digest.update(part.encode() + b"\0")
    if HOST_CA_BUNDLE.is_file():
        digest.update(HOST_CA_BUNDLE.read_bytes())
    return f"{STANDIN_REPOSITORY}:{STANDIN_SUITE}-{digest.hexdigest()[:12]}"


def _buildah_has_image(ref: str) -> bool:
    try:
        _run([*buildah_args(), "inspect", "--type=image", ref], timeout=60)
    except ImageError:
        return False
    return True


def ensure_standin_base() -> str:
    """The stand-in Python base in buildah's storage (made once, ~25 s); returns its reference."""
    ref = standin_tag()
    if _buildah_has_image(ref):
        return ref
    mmdebstrap, buildah = tool("mmdebstrap"), buildah_args()
    with tempfile.TemporaryDirectory(prefix="nylas-operator-standin-") as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        hooks = [f"--customize-hook={hook}" for hook in _STANDIN_HOOKS]
        if HOST_CA_BUNDLE.is_file():
            hooks += [
                f'--customize-hook=cp {HOST_CA_BUNDLE} "$1/etc/ssl/certs/ca-certificates.crt"',
                """--customize-hook=printf '[global]\\ncert = /etc/ssl/certs/ca-certificates.crt\\n' """
                '> "$1/etc/pip.conf"',
            ]
        _run(
            [
                mmdebstrap, "--quiet", "--variant=minbase", f"--include={','.join(STANDIN_PACKAGES)}",
                *hooks, STANDIN_SUITE, str(rootfs),
            ],
            timeout=900,
        )  # fmt: skip
        container = _run([*buildah, "from", "scratch"], timeout=60).strip()
        try:
            _run([*buildah, "add", container, str(rootfs), "/"], timeout=300)
            _run(
                [*buildah, "config", f"--env=PATH={_STANDIN_PATH}", "--env=LANG=C.UTF-8",
                 "--cmd=python3", container],
                timeout=60,
            )  # fmt: skip
            _run([*buildah, "commit", "--quiet", container, ref], timeout=300)
        finally:
            subprocess.run([*buildah, "rm", container], capture_output=True, timeout=60, check=False)
    return ref


def context_digest(context: Path, base: str) -> str:
    """A digest of what the build reads: the Dockerfile, the base, and the files .dockerignore lets in
    (pyproject.toml, README.md, operator/ without caches). Same digest, same image."""
    digest = hashlib.sha256(base.encode() + b"\0")
    files = [context / "Dockerfile", context / "pyproject.toml", context / "README.md"]
    files += sorted(
        p
        for p in (context / "operator").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc" and ".egg-info" not in str(p)
    )
    for path in files:
        digest.update(str(path.relative_to(context)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build_project_image(context: Path, tag: str) -> str:
    """``buildah bud`` of the project's Dockerfile on the stand-in base; returns the image reference.

    An image already built from the same inputs (``context_digest``) is reused and only tagged.
    """
    base = ensure_standin_base()
    ref = f"{PROJECT_IMAGE}:{tag}"
    built = f"{PROJECT_IMAGE}:src-{context_digest(context, base)}"
    if not _buildah_has_image(built):
        _run(
            [
                *buildah_args(), "bud", "--quiet", "--isolation=chroot", "--network=host", "--pull=never",
                # No layer cache: buildah 1.28 keys a `RUN --mount=from=build` step by its text alone,
                # so a cached runtime stage would keep the wheels of an older source tree.
                "--layers=false", f"--build-arg=PYTHON_IMAGE={base}", f"--tag={built}",
                f"--file={context / 'Dockerfile'}", str(context),
            ],
            timeout=1200,
        )  # fmt: skip
    _run([*buildah_args(), "tag", built, ref], timeout=60)
    _prune_other_builds(built)
    return ref


def _prune_other_builds(keep: str) -> None:
    """Drop images of older source trees (the cache directory would otherwise grow by ~100 MB a build)."""
    buildah = buildah_args()
    listing = _run([*buildah, "images", "--format={{.Name}}:{{.Tag}}"], timeout=60).split()
    old = [ref for ref in listing if ref.startswith(f"{PROJECT_IMAGE}:src-") and ref != keep]
    for ref in old:
        _run([*buildah, "rmi", "--force", ref], timeout=120)
    if old:
        _run([*buildah, "rmi", "--prune"], timeout=300)


def load_project_image(address: Path, ref: str) -> None:
    """Copy an image from buildah's storage into the node's containerd."""
    with tempfile.TemporaryDirectory(prefix="nylas-operator-image-") as tmp:
        archive = Path(tmp) / "image.tar"
        _run([*buildah_args(), "push", "--quiet", ref, f"docker-archive:{archive}:{ref}"], timeout=300)
        import_archive(address, archive)


def retag_and_load(address: Path, ref: str, tag: str) -> str:
    """The image ``ref`` under another tag of the same repository, loaded into the node's containerd."""
    new_ref = f"{ref.rsplit(':', 1)[0]}:{tag}"
    _run([*buildah_args(), "tag", ref, new_ref], timeout=60)
    load_project_image(address, new_ref)
    return new_ref
