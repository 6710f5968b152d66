"""The Gallery page under AppTest: the grid of samples, its controls, a model's guesses."""
import re

import pytest
from streamlit.testing.v1 import AppTest

from mlp import Trainer, preset
from mlp.analysis import predict_all, sample
from tests.pages.helpers import ROOT


GUESS = re.compile(r"^(\d) (✓|→ (\d) ✗)$")


@pytest.fixture(autouse=True)
def data_env(monkeypatch, shared_data_dir):
    monkeypatch.setenv("MNIST_PLAYGROUND_DATA", str(shared_data_dir))


@pytest.fixture(scope="module")
def trainer(mnist):
    """A quickly trained model on MNIST (one epoch on 2,000 images)."""
    trainer = Trainer(preset("fast", train_size=2000, max_iter=1), mnist)
    for _ in trainer.run():
        pass
    return trainer


def gallery(**state):
    """Open app.py with ``state`` in the session, then go to the Gallery page."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page("pages/gallery.py").run()
    assert not at.exception, at.exception
    return at


def grid(at):
    """The sample grid (the first st.image list; then "What the network trains on", and last the mean
    images)."""
    return at.get("image")[0]


def trains_on(at):
    """The rows of "What the network trains on": the samples as they are, then distorted (the
    page shows a column per sample)."""
    columns = at.get("image")[1:-1]
    return [[c.value[k] for c in columns] for k in range(len(columns[0].value))], columns


def test_default_shows_48_labelled_training_images_and_the_class_summary(mnist):
    at = gallery()
    assert at.title[0].value == "Gallery"
    shown = grid(at)
    expected = [str(c) for c in mnist.y_train[sample(mnist.y_train, 48, seed=0)]]
    assert shown.captions == expected and len(shown.value) == 48
    means = at.get("image")[-1]
    assert means.captions[0] == f"0 ({(mnist.y_train == 0).sum():,})" and len(means.captions) == 10
    assert len(at.get("plotly_chart")) == 1
    assert any("60,000 images" in h.value for h in at.subheader)
    assert at.toggle(key="gallery_mistakes").proto.disabled


def test_same_seed_same_images_and_reshuffle_draws_new_ones():
    a = gallery(gallery_seed=1234)
    b = gallery(gallery_seed=1234)
    assert grid(a).value == grid(b).value  # media URLs hash the image bytes
    before = grid(a).value
    a.button(key="reshuffle").click().run()
    assert not a.exception
    assert a.session_state["gallery_seed"] != 1234
    assert grid(a).value != before
    a.number_input(key="gallery_seed").set_value(1234).run()
    assert grid(a).value == before


def test_class_filter_shows_only_that_class():
    at = gallery()
    at.multiselect(key="gallery_classes").set_value(["3"]).run()
    assert not at.exception
    assert grid(at).captions == ["3"] * 48
    at.multiselect(key="gallery_classes").set_value(["3", "8"]).run()
    assert set(grid(at).captions) == {"3", "8"}


def test_split_and_count(mnist):
    at = gallery()
    at.radio(key="gallery_split").set_value("Test")
    at.radio(key="gallery_count").set_value(96).run()
    assert not at.exception
    expected = [str(c) for c in mnist.y_test[sample(mnist.y_test, 96, seed=0)]]
    assert grid(at).captions == expected
    assert any("10,000 images" in h.value for h in at.subheader)
    assert at.get("image")[-1].captions[0] == f"0 ({(mnist.y_test == 0).sum():,})"


def test_settings_survive_a_visit_to_another_page():
    at = gallery()
    at.number_input(key="gallery_seed").set_value(77)
    at.multiselect(key="gallery_classes").set_value(["5"]).run()
    before = grid(at).value
    at.switch_page("pages/home.py").run()
    at.switch_page("pages/gallery.py").run()
    assert not at.exception
    assert at.session_state["gallery_seed"] == 77 and grid(at).value == before


def test_trained_model_guesses_are_shown_and_counted(mnist, trainer):
    at = gallery(trainer=trainer)
    captions = grid(at).captions
    assert all(GUESS.match(c) for c in captions), captions
    idx = sample(mnist.y_train, 48, seed=0)
    pred = predict_all(trainer.snapshot, mnist.x_train[idx]).argmax(axis=1)
    expected = [f"{t} ✓" if t == p else f"{t} → {p} ✗" for t, p in zip(mnist.y_train[idx], pred)]
    assert captions == expected
    right = sum(c.endswith("✓") for c in captions)
    assert 0 < right < 48  # one epoch on 2,000 images: good, not perfect
    assert any(f"**{right} of 48** shown right" in m.value for m in at.markdown)


def test_only_mistakes(trainer):
    at = gallery(trainer=trainer)
    at.toggle(key="gallery_mistakes").set_value(True).run()
    assert not at.exception
    captions = grid(at).captions
    assert len(captions) == 48
    for c in captions:
        m = GUESS.match(c)
        assert m and m.group(3) is not None and m.group(1) != m.group(3), c
    assert any("48 images the model gets wrong" in m.value for m in at.markdown)


def test_another_data_set_drops_the_class_filter_and_the_mnist_model(trainer):
    at = gallery(trainer=trainer)
    at.multiselect(key="gallery_classes").set_value(["3"]).run()
    at.selectbox(key="dataset").set_value("fashion-mnist").run()
    assert not at.exception
    captions = grid(at).captions
    assert len(captions) == 48 and "Sneaker" in at.get("image")[-1].captions[7]
    assert not any("✓" in c or "✗" in c for c in captions)  # the model was trained on MNIST
    assert at.multiselect(key="gallery_classes").value == []


def test_what_the_network_trains_on_shows_samples_as_they_are_and_distorted(mnist):
    at = gallery()
    assert any(h.value == "What the network trains on" for h in at.subheader)
    [plain], columns = trains_on(at)  # the Train page's settings are the fast preset's: no distortion
    assert len(columns) == 8
    labels = mnist.y_train[sample(mnist.y_train, 2, 0)]
    assert [c.captions[0] for c in columns[:2]] == [str(c) for c in labels]
    assert any("Distortion is off on the Train page" in c.value for c in at.caption)
    assert at.button(key="redistort").disabled

    at.radio(key="gallery_distort").set_value("strong").run()
    assert not at.exception
    (plain_now, first, second), columns = trains_on(at)
    assert plain_now == plain and columns[0].captions[1:] == ["distorted", "again"]
    assert all(a != b for a, b in zip(first, plain)) and all(a != b for a, b in zip(second, first))
    at.button(key="redistort").click().run()
    (plain_again, first_again, _), _ = trains_on(at)
    assert plain_again == plain and all(a != b for a, b in zip(first_again, first))
    assert at.session_state["gallery_distort_seed"] == 1


def test_the_train_pages_distortion_is_what_the_gallery_shows():
    from playground.link import widget_values
    at = gallery(train_settings={"preset": "handwriting", **widget_values(preset("handwriting"))})
    assert len(trains_on(at)[0]) == 3
    assert any("your Train page settings" in c.value and "rotate 8°" in c.value for c in at.caption)
