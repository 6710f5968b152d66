"""The Home page under AppTest: the data set, and the model's state."""
from tests.pages.helpers import texts


def test_home_shows_the_data_set_and_an_untrained_model(app):
    assert app.title[0].value == "MNIST Playground"
    body = " ".join(texts(app.markdown))
    assert "**MNIST**: 60,000 training and 10,000 test images" in body
    assert "Status: **untrained**" in body
    assert "Model: untrained" in texts(app.sidebar.caption)
    assert not app.error


def test_home_says_where_the_data_came_from_without_the_servers_folders(app, app_env):
    assert "Loaded from a local copy" in texts(app.caption)
    assert not [c for c in texts(app.caption) if str(app_env) in c or "/" in c]


def test_home_follows_the_data_set_chosen_in_the_sidebar(app):
    app.selectbox(key="dataset").set_value("fashion-mnist").run()
    assert not app.exception
    assert "**Fashion-MNIST**: 60,000 training and 10,000 test images" in " ".join(texts(app.markdown))


def test_home_with_a_trained_model_shows_its_accuracy(app, fast_trainer):
    app.session_state["trainer"] = fast_trainer
    app.run()
    acc = fast_trainer.history[-1].test_accuracy
    assert f"Status: **trained, test accuracy {acc:.1%}**" in texts(app.markdown)
