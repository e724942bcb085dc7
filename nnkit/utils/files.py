"""``get_file``: Keras' cached download of one file (hash check, tar / zip extraction). The download itself is
``nnkit.datasets.download``'s, the one place nnkit downloads."""
import os
import pathlib
import shutil
import tarfile
import tempfile
import urllib.parse
import zipfile

from ..datasets import download


def get_file(fname=None, origin=None, file_hash=None, cache_subdir="datasets", hash_algorithm="auto",
             extract=False, cache_dir=None, force_download=False):
    """Downloads a file from a URL unless it is already in the cache, and returns its path (Keras 3's function).

    The file lands in ``<cache_dir>/<cache_subdir>/<fname>``. A cached file is used as it is, unless ``file_hash``
    is given and it does not match (then it is downloaded again, as Keras does). A download is written under a
    temporary name and moved into place only when complete and (with ``file_hash``) checked.

    Args:
        fname: the local file name; None takes the last part of ``origin``'s path. With ``extract``, a name
            without an extension names the extraction folder (the archive is kept as ``<fname>_archive``); a name
            with one is the archive's name, extracted into ``<stem>_extracted``.
        origin: the URL (``http://``, ``https://`` or ``file://``).
        file_hash: the expected SHA-256 or MD5 hex digest of the file.
        cache_subdir: the folder under ``cache_dir``; an absolute path is used as it is.
        hash_algorithm: ``"sha256"``, ``"md5"`` or ``"auto"`` (SHA-256 for a 64-digit hash, else MD5).
        extract: extract the archive (tar, tar.gz, tar.bz2, tar.xz or zip) and return the extraction folder.
            Members that would land outside it are refused (tar's "data" filter; zip names are made safe).
        cache_dir: the cache root. Default: ``~/.nnkit``, whose ``datasets`` folder is ``$NNKIT_DATA_DIR`` when that
            is set (where nnkit's data sets live); ``/tmp/.nnkit`` when the root cannot be written.
        force_download: download even when the file is cached.

    Returns:
        The path of the downloaded file, or with ``extract`` of the folder it was extracted into (a string).

    Example:
        >>> path = nnkit.utils.get_file(origin="https://storage.googleapis.com/download.tensorflow.org/"
        ...                             "example_images/flower_photos.tgz", extract=True)
    """
    if origin is None:
        raise ValueError('Please specify the "origin" argument (URL of the file to download).')
    download.new_hasher(hash_algorithm, file_hash)  # an unknown algorithm fails before anything is written
    provided = fname is not None and os.fspath(fname) != ""
    fname = os.fspath(fname) if provided else os.path.basename(urllib.parse.urlsplit(origin).path)
    if not fname:
        raise ValueError(f"Can't parse the file name from the origin provided: '{origin}'. Please specify the "
                         f"`fname` argument.")
    if os.sep in fname or (os.altsep and os.altsep in fname):
        raise ValueError(f"Paths are not accepted as the `fname` argument. To specify the file's parent directory, "
                         f"use the `cache_dir` argument. Received: fname={fname}")
    folder = _cache_folder(cache_dir, cache_subdir)
    if extract and provided and "." in fname:
        archive, extraction = folder / fname, folder / f"{fname[:fname.find('.')]}_extracted"
    elif extract:
        archive, extraction = folder / f"{fname}_archive", folder / fname
    else:
        archive, extraction = folder / fname, None

    fetched = force_download or not archive.exists() or (
        file_hash is not None and download.hash_file(archive, hash_algorithm, file_hash) != file_hash)
    if fetched:
        if archive.exists() and not force_download:
            print(f"A local file was found, but it seems to be incomplete or outdated because the {hash_algorithm} "
                  f"file hash does not match the original value of {file_hash} so we will re-download the data.")
        download.download([origin], archive, file_hash, hash_algorithm)
    if extraction is None:
        return os.fspath(archive)
    if fetched or not extraction.exists():
        extract_archive(archive, extraction)
    return os.fspath(extraction)


def _cache_folder(cache_dir, cache_subdir):
    if os.path.isabs(cache_subdir):
        folder = pathlib.Path(cache_subdir)
    elif cache_dir is not None:
        folder = pathlib.Path(cache_dir).expanduser() / cache_subdir
    elif cache_subdir == "datasets":
        folder = download.datasets_root()
    else:
        folder = pathlib.Path.home() / ".nnkit" / cache_subdir
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except PermissionError:  # as Keras: a cache root nobody may write falls back to the temporary folder
        folder = pathlib.Path(tempfile.gettempdir()) / ".nnkit" / cache_subdir
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def extract_archive(archive, destination):
    """Extract the tar or zip file ``archive`` into the folder ``destination``, which appears only once complete.

    Raises:
        ValueError: naming the file, when it is neither a tar nor a zip archive, or a member would be written
            outside ``destination`` (an absolute path, ``..``, or a link leading out).
    """
    archive, destination = pathlib.Path(archive), pathlib.Path(destination)
    if not (tarfile.is_tarfile(archive) or zipfile.is_zipfile(archive)):
        raise ValueError(f"{archive}: cannot extract it: it is neither a tar (.tar, .tar.gz, .tar.bz2, .tar.xz) nor "
                         f"a zip archive.")
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        if tarfile.is_tarfile(archive):
            with tarfile.open(archive) as opened:
                opened.extractall(staging, filter="data")
        else:
            with zipfile.ZipFile(archive) as opened:
                opened.extractall(staging)  # zipfile drops absolute paths and ".." from member names
        if destination.exists():
            shutil.rmtree(destination)
        os.replace(staging, destination)
    except tarfile.FilterError as error:
        raise ValueError(f"{archive}: refused to extract a member outside {destination}: {error}") from error
    finally:
        if staging.exists():
            shutil.rmtree(staging)


