"""Loading MNIST and Fashion-MNIST (mlp.data): local folders, the cache, the IDX format and damaged files."""
import gzip

import numpy as np
import pytest

from mlp.data import (ENV_CACHE, ENV_DATA, ENV_MIRRORS, FILES, ChecksumError, CorruptFileError, DatasetError,
                      find_local, load_dataset, read_idx)


MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def idx_bytes(array: np.ndarray) -> bytes:
    header = (2048 + array.ndim).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, np.uint8).tobytes()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in (ENV_DATA, ENV_CACHE, ENV_MIRRORS):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def raw_dir(mnist, tmp_path_factory):
    """MNIST as uncompressed IDX files."""
    folder = tmp_path_factory.mktemp("raw")
    for fname, array in zip(FILES, mnist[:4]):
        (folder / fname).write_bytes(idx_bytes(array))
    return folder


@pytest.fixture
def broken_dir(raw_dir, tmp_path):
    """Build a folder of good raw MNIST files where some are replaced by the given bytes."""
    def build(**replaced):
        replaced = {k.replace("_", "-"): v for k, v in replaced.items()}
        for fname in FILES:
            for key, content in replaced.items():
                if fname.startswith(key.removesuffix(".gz")):
                    (tmp_path / (fname + (".gz" if key.endswith(".gz") else ""))).write_bytes(content)
                    break
            else:
                (tmp_path / fname).symlink_to(raw_dir / fname)
        return tmp_path
    return build


# ---------------------------------------------------------------- real files


def test_mnist_from_shared_root(mnist, shared_data_dir):
    assert mnist.name == "mnist"
    assert mnist.classes == tuple("0123456789")
    assert str(shared_data_dir / "mnist") in mnist.source
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.x_test.shape == (10000, 28, 28)
    assert mnist.y_train.shape == (60000,) and mnist.y_test.shape == (10000,)
    for array in mnist[:4]:
        assert array.dtype == np.uint8
        assert not array.flags.writeable
    with pytest.raises(ValueError):
        mnist.x_train[0, 0, 0] = 1
    with pytest.raises(ValueError):
        mnist.y_test[0] = 1
    assert np.bincount(mnist.y_train).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(mnist.y_test).tolist() == MNIST_TEST_COUNTS
    assert mnist.x_train.max() == 255 and mnist.x_train.min() == 0


def test_fashion_mnist_from_shared_root(shared_data_dir):
    ds = load_dataset("fashion-mnist", shared_data_dir)
    assert ds.name == "fashion-mnist"
    assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot" and len(ds.classes) == 10
    assert ds.x_train.shape == (60000, 28, 28) and ds.x_test.shape == (10000, 28, 28)
    assert not ds.x_train.flags.writeable and ds.x_train.dtype == np.uint8
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10


def test_dataset_folder_from_environment(mnist, shared_data_dir, monkeypatch):
    monkeypatch.setenv(ENV_DATA, str(shared_data_dir / "mnist"))
    ds = load_dataset("mnist")
    assert ds.source == f"{shared_data_dir / 'mnist'} (local copy)"
    assert np.array_equal(ds.x_test, mnist.x_test) and np.array_equal(ds.y_train, mnist.y_train)


def test_find_local(shared_data_dir, tmp_path):
    assert find_local("mnist", shared_data_dir) == shared_data_dir / "mnist"
    assert find_local("fashion-mnist", shared_data_dir) == shared_data_dir / "fashion-mnist"
    assert find_local("mnist", shared_data_dir / "mnist") == shared_data_dir / "mnist"
    assert find_local("mnist", tmp_path) is None


def test_raw_files_load(mnist, raw_dir):
    ds = load_dataset("mnist", raw_dir)
    for loaded, expected in zip(ds[:4], mnist[:4]):
        assert np.array_equal(loaded, expected)
        assert not loaded.flags.writeable


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_small(tmp_path, compress):
    array = np.arange(12, dtype=np.uint8).reshape(3, 2, 2)
    content = idx_bytes(array)
    path = tmp_path / "small"  # no .gz suffix: compression is detected from the content
    path.write_bytes(gzip.compress(content) if compress else content)
    loaded = read_idx(path)
    assert loaded.dtype == np.uint8 and loaded.shape == (3, 2, 2)
    assert np.array_equal(loaded, array) and not loaded.flags.writeable


def test_unknown_dataset_name():
    with pytest.raises(DatasetError, match="mnist, fashion-mnist"):
        load_dataset("cifar")


# ---------------------------------------------------------------- damaged files


def test_truncated_gzip(shared_data_dir, broken_dir):
    content = (shared_data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes()
    folder = broken_dir(**{"t10k-labels.gz": content[: len(content) // 2]})
    with pytest.raises(CorruptFileError, match="not a valid gzip.*Delete it or replace it"):
        read_idx(folder / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(CorruptFileError, match="t10k-labels-idx1-ubyte.gz is not a valid gzip"):
        load_dataset("mnist", folder)


def test_empty_file(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(CorruptFileError, match="not an IDX file"):
        read_idx(tmp_path / "empty")


def test_wrong_magic(raw_dir, broken_dir):
    content = bytearray((raw_dir / "train-labels-idx1-ubyte").read_bytes())
    content[2] = 0x09  # signed bytes: not a format of this data
    folder = broken_dir(train_labels=bytes(content))
    with pytest.raises(CorruptFileError, match="magic number 0x00000901"):
        load_dataset("mnist", folder)


def test_labels_in_place_of_images(raw_dir, broken_dir):
    folder = broken_dir(t10k_images=(raw_dir / "t10k-labels-idx1-ubyte").read_bytes())
    with pytest.raises(CorruptFileError, match=r"t10k-images-idx3-ubyte holds \(10000,\) \(magic 2049\), "
                                               r"expected \(10000, 28, 28\) \(magic 2051\)"):
        load_dataset("mnist", folder)


def test_truncated_raw_data(raw_dir, broken_dir):
    content = (raw_dir / "t10k-images-idx3-ubyte").read_bytes()
    folder = broken_dir(t10k_images=content[:-100])
    with pytest.raises(CorruptFileError, match="t10k-images-idx3-ubyte is truncated"):
        load_dataset("mnist", folder)


def test_trailing_bytes(raw_dir, broken_dir):
    content = (raw_dir / "train-labels-idx1-ubyte").read_bytes()
    folder = broken_dir(train_labels=content + b"\0" * 5)
    with pytest.raises(CorruptFileError, match="followed by 5 trailing bytes"):
        load_dataset("mnist", folder)


def test_label_count_differs_from_image_count(raw_dir, broken_dir):
    folder = broken_dir(train_labels=(raw_dir / "t10k-labels-idx1-ubyte").read_bytes())
    with pytest.raises(CorruptFileError, match=r"holds \(10000,\).*expected \(60000,\).*to match the images"):
        load_dataset("mnist", folder)


def test_label_above_nine(mnist, broken_dir):
    labels = mnist.y_test.copy()
    labels[7] = 10
    with pytest.raises(CorruptFileError, match="labels above 9"):
        load_dataset("mnist", broken_dir(t10k_labels=idx_bytes(labels)))


def test_altered_bytes_fail_the_checksum(mnist, broken_dir):
    images = mnist.x_test.copy()
    images[0, 14, 14] ^= 1
    folder = broken_dir(t10k_images=idx_bytes(images))
    with pytest.raises(ChecksumError, match="t10k-images-idx3-ubyte does not match.*SHA-256.*Delete it"):
        load_dataset("mnist", folder)


def test_other_dataset_in_the_folder(shared_data_dir):
    with pytest.raises(ChecksumError, match="it holds MNIST, not Fashion-MNIST"):
        load_dataset("fashion-mnist", shared_data_dir / "mnist")


def test_missing_file_in_named_folder(shared_data_dir, tmp_path, monkeypatch):
    for fname in FILES[:3]:
        (tmp_path / f"{fname}.gz").symlink_to(shared_data_dir / "mnist" / f"{fname}.gz")
    cache = tmp_path / "cache"
    with pytest.raises(DatasetError) as info:
        load_dataset("mnist", tmp_path, cache_dir=cache)
    assert type(info.value) is DatasetError  # no download was attempted
    assert f"{tmp_path} does not hold the MNIST files: missing t10k-labels-idx1-ubyte(.gz)" in str(info.value)
    monkeypatch.setenv(ENV_DATA, str(tmp_path / "nowhere"))
    with pytest.raises(DatasetError, match=f"{tmp_path / 'nowhere'} does not exist.*{ENV_DATA}"):
        load_dataset("mnist", cache_dir=cache)
    assert not cache.exists()


def test_damaged_file_in_cache(shared_data_dir, tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for fname in FILES:
        (folder / f"{fname}.gz").symlink_to(shared_data_dir / "mnist" / f"{fname}.gz")
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(CorruptFileError, match="t10k-images-idx3-ubyte.gz is not a valid gzip.*Delete"):
        load_dataset("mnist", cache_dir=tmp_path, mirrors=[])


def test_to_idx_writes_what_read_idx_reads(tmp_path):
    from mlp.data import to_idx
    rng = np.random.default_rng(0)
    for array in (rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), np.arange(10, dtype=np.uint8),
                  np.zeros((0, 28, 28), np.uint8)):
        path = tmp_path / "f-idx"
        path.write_bytes(to_idx(array))
        np.testing.assert_array_equal(read_idx(path), array)
        assert read_idx(path).shape == array.shape
    for bad in (np.zeros(3, np.float32), np.zeros((1,) * 5, np.uint8)):
        with pytest.raises(ValueError, match="uint8"):
            to_idx(bad)
