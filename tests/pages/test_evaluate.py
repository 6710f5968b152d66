"""The Evaluate page under AppTest: scores, the confusion matrix and its cells, mistakes, the coverage
curve of the Draw page's "unsure" threshold, robustness."""
import numpy as np
import pytest

from mlp import analysis
from mlp.metrics import coverage_curve, log_loss
from mlp.preprocess import to_float
from tests.pages.helpers import array, chart_titled, charts, metrics, open_page, texts


# ----------------------------------------------------------------------------
# without a model (Evaluate and Inspect)


@pytest.mark.parametrize("name, title", [("evaluate", "Evaluate"), ("inspect", "Inspect")])
def test_without_a_model_the_page_says_to_train_one(app, name, title):
    open_page(app, name)
    assert app.title[0].value == title
    assert texts(app.info) == ["No trained model for this data set yet: train one on the **Train** page "
                               "first."]
    assert not app.get("plotly_chart") and not app.metric and not app.error


@pytest.mark.parametrize("name", ["evaluate", "inspect"])
def test_a_digit_model_is_not_shown_for_fashion_mnist(app, fast_trainer, name):
    open_page(app, name, trainer=fast_trainer, dataset="fashion-mnist")
    assert texts(app.info)[0].startswith("No trained model for this data set yet")
    assert not app.metric


# ----------------------------------------------------------------------------
# scores, the confusion matrix and the mistakes


def test_evaluate_shows_the_scores_of_the_current_model(app, fast_trainer, mnist, test_proba):
    open_page(app, "evaluate", trainer=fast_trainer)
    model = fast_trainer.snapshot
    accuracy = model.score(to_float(mnist.x_test), mnist.y_test)
    assert accuracy == fast_trainer.history[-1].test_accuracy
    wrong = int(np.sum(test_proba.argmax(axis=1) != mnist.y_test))
    assert metrics(app) == {"Test accuracy": f"{accuracy:.2%}",
                            "Test loss": f"{log_loss(mnist.y_test, test_proba):.4f}",
                            "Mistakes": f"{wrong:,} of 10,000"}
    assert [s.value for s in app.subheader] == ["Confusion matrix", "Accuracy per class",
                                                "The most confident mistakes", "Answer only when sure",
                                                "Robustness", "On your class's handwriting"]


def test_evaluate_draws_the_confusion_matrix_and_the_accuracy_per_class(app, fast_trainer, mnist, test_proba):
    open_page(app, "evaluate", trainer=fast_trainer)
    C = analysis.confusion(test_proba, mnist.y_test)
    confusion, per_class = charts(app)[:2]
    heatmap = confusion["data"][0]
    assert heatmap["type"] == "heatmap"
    assert heatmap["x"] == heatmap["y"] == [str(d) for d in range(10)]
    np.testing.assert_array_equal(array(heatmap["customdata"]), C)
    bars = per_class["data"][0]
    np.testing.assert_allclose(array(bars["y"]), np.diag(C) / C.sum(axis=1))
    assert [c.key for c in app.get("plotly_chart")][0] == "confusion"
    # a point on each cell, which a click selects (a heatmap cell cannot be selected in Streamlit)
    points = confusion["data"][1]
    assert points["type"] == "scatter" and points["mode"] == "markers"
    cells = list(zip(points["x"], points["y"]))
    assert sorted(cells) == [(str(p), str(t)) for p in range(10) for t in range(10)]
    counts = array(points["customdata"])
    assert all(counts[k] == C[int(t), int(p)] for k, (p, t) in enumerate(cells))
    assert confusion["layout"]["xaxis"]["range"] == [-0.5, 9.5]


def test_the_most_confident_mistakes(app, fast_trainer, mnist, test_proba):
    open_page(app, "evaluate", trainer=fast_trainer)
    wrong = analysis.confident_mistakes(test_proba, mnist.y_test, limit=24)
    shown = app.get("image")[-1]
    assert len(shown.value) == 24
    first = wrong[0]
    top = ", ".join(f"{c} {q:.0%}" for c, q in analysis.top_k(test_proba[first], 3))
    assert shown.captions[0] == f"true {mnist.y_test[first]} · {top}"
    assert all(c.startswith("true ") for c in shown.captions)


def cell_text(count, t, p):
    first = " (the most confident first)" if count else ""
    return f"**{count} test image{'' if count == 1 else 's'}** of {t} predicted as {p}{first}"


def test_a_cell_chosen_with_the_two_lists_shows_its_images(app, fast_trainer, mnist, test_proba):
    open_page(app, "evaluate", trainer=fast_trainer)
    C = analysis.confusion(test_proba, mnist.y_test)
    assert app.selectbox(key="cell_true").value == 4 and app.selectbox(key="cell_pred").value == 9
    assert cell_text(C[4, 9], 4, 9) in texts(app.markdown)

    # a cell with a few images: all of them, the most confident first
    t, p = min(((t, p) for t in range(10) for p in range(10) if t != p and 2 <= C[t, p] <= 30),
               key=lambda tp: -C[tp])
    app.selectbox(key="cell_true").set_value(t).run()
    app.selectbox(key="cell_pred").set_value(p).run()
    assert not app.exception
    assert cell_text(C[t, p], t, p) in texts(app.markdown)
    cell = app.get("image")[0]
    assert len(cell.value) == C[t, p]
    idx = analysis.cell_indices(test_proba, mnist.y_test, t, p)
    assert cell.captions == [f"{test_proba[i, p]:.0%}" for i in idx]

    # the diagonal: at most 35
    app.selectbox(key="cell_pred").set_value(t).run()
    assert cell_text(C[t, t], t, t) in texts(app.markdown)
    assert len(app.get("image")[0].value) == 35 < C[t, t]

    # an empty cell: no images but the mistakes
    empty = [(a, b) for a in range(10) for b in range(10) if C[a, b] == 0]
    if empty:
        a, b = empty[0]
        app.selectbox(key="cell_true").set_value(a).run()
        app.selectbox(key="cell_pred").set_value(b).run()
        assert cell_text(0, a, b) in texts(app.markdown)
        assert len(app.get("image")) == 1


def clicked(true_class, predicted):
    """The confusion chart's value after a click on one of its cells."""
    return {"selection": {"points": [{"x": str(predicted), "y": str(true_class), "z": 1.0,
                                      "point_index": [true_class, predicted]}],
                          "point_indices": [], "box": [], "lasso": []}}


def test_a_clicked_cell_sets_the_two_lists_and_a_later_choice_sticks(app, fast_trainer, mnist, test_proba):
    open_page(app, "evaluate", trainer=fast_trainer)
    C = analysis.confusion(test_proba, mnist.y_test)
    app.session_state["confusion"] = clicked(2, 7)
    app.run()
    assert not app.exception
    assert app.selectbox(key="cell_true").value == 2 and app.selectbox(key="cell_pred").value == 7
    assert cell_text(C[2, 7], 2, 7) in texts(app.markdown)
    # the chart keeps its selection while the user picks another cell by hand
    app.selectbox(key="cell_true").set_value(3).run()
    assert app.selectbox(key="cell_true").value == 3 and app.selectbox(key="cell_pred").value == 7
    assert cell_text(C[3, 7], 3, 7) in texts(app.markdown)
    app.selectbox(key="cell_pred").set_value(5).run()
    assert (app.selectbox(key="cell_true").value, app.selectbox(key="cell_pred").value) == (3, 5)
    # another click counts again
    app.session_state["confusion"] = clicked(9, 4)
    app.run()
    assert (app.selectbox(key="cell_true").value, app.selectbox(key="cell_pred").value) == (9, 4)


@pytest.mark.parametrize("selection", [{"points": {"0": 1}}, {"points": "xy"}, {"points": [7]}, "junk",
                                       {"points": [{"x": "99", "y": "[a](http://example.org)"}]}])
def test_a_click_on_the_confusion_matrix_that_is_not_a_cell_is_ignored(app, fast_trainer, selection):
    open_page(app, "evaluate", trainer=fast_trainer)
    app.session_state["confusion"] = {"selection": selection}
    app.run()
    assert not app.exception
    assert (app.selectbox(key="cell_true").value, app.selectbox(key="cell_pred").value) == (4, 9)


# ----------------------------------------------------------------------------
# robustness


def robustness_curve(at):
    curve = charts(at)[-1]["data"][0]
    return array(curve["x"]).astype(float), array(curve["y"]).astype(float)


@pytest.mark.parametrize("kind, label, default", [("noise", "Noise (standard deviation)", 0.5),
                                                  ("rotate", "Rotation (degrees)", 45.0),
                                                  ("shift", "Shift (pixels)", 4.0)])
def test_robustness_curve_follows_the_change_chosen(app, fast_trainer, mnist, kind, label, default):
    open_page(app, "evaluate", trainer=fast_trainer)
    assert app.radio(key="robust_kind").value == "noise"
    before = robustness_curve(app)
    app.radio(key="robust_kind").set_value(kind).run()
    assert not app.exception
    assert app.slider(key=f"robust_max_{kind}").value == default
    amounts, accuracy = robustness_curve(app)
    assert charts(app)[-1]["layout"]["xaxis"]["title"]["text"] == label
    assert amounts[0] == 0 and amounts[-1] == default
    model, images, labels = fast_trainer.snapshot, mnist.x_test[:2000], mnist.y_test[:2000]
    expected = analysis.robustness(model, images, labels, kind, amounts)
    np.testing.assert_allclose(accuracy, expected)
    assert accuracy[0] > 0.8 and accuracy[-1] < accuracy[0] - 0.2
    if kind != "noise":
        assert not np.array_equal(accuracy, before[1])


def test_robustness_shift_uses_whole_pixels(app, fast_trainer, mnist):
    """Images move by whole pixels: the curve has a point for each whole number of pixels, none in between."""
    open_page(app, "evaluate", trainer=fast_trainer)
    app.radio(key="robust_kind").set_value("shift").run()
    for limit in (4.0, 8.0, 1.0, 3.0):
        app.slider(key="robust_max_shift").set_value(limit).run()
        amounts, accuracy = robustness_curve(app)
        np.testing.assert_array_equal(amounts, np.arange(limit + 1))
        # each point is the accuracy with the images moved by exactly that many pixels
        model, images, labels = fast_trainer.snapshot, mnist.x_test[:2000], mnist.y_test[:2000]
        for a, acc in zip(amounts, accuracy):
            moved = np.zeros_like(images)
            s = int(a)
            moved[:, s:, s:] = images[:, :28 - s, :28 - s]
            assert acc == pytest.approx(model.score(to_float(moved), labels))


def test_robustness_slider_sets_how_far_the_curve_goes(app, fast_trainer):
    open_page(app, "evaluate", trainer=fast_trainer)
    app.slider(key="robust_max_noise").set_value(1.0).run()
    amounts, accuracy = robustness_curve(app)
    np.testing.assert_allclose(amounts, np.linspace(0, 1, 9))
    assert accuracy[-1] < accuracy[4] < accuracy[0] and accuracy[-1] < accuracy[0] - 0.3


# ----------------------------------------------------------------------------
# answering only when sure: the coverage curve of the Draw page's threshold


def test_evaluate_shows_the_coverage_curve_and_the_draw_pages_threshold(app, fast_trainer, mnist, test_proba):
    open_page(app, "evaluate", trainer=fast_trainer)
    fig = chart_titled(app, "Coverage and accuracy")
    line, mark = fig["data"]
    thresholds = np.linspace(0, 1, 101)
    coverage, right = coverage_curve(mnist.y_test, test_proba, thresholds)
    np.testing.assert_allclose(array(line["x"]), coverage)
    np.testing.assert_allclose(array(line["y"])[coverage > 0], right[coverage > 0])
    np.testing.assert_allclose(array(line["customdata"]), thresholds)
    assert array(line["x"])[0] == 1.0
    assert array(line["y"])[0] == pytest.approx(fast_trainer.history[-1].test_accuracy)
    # the default threshold, 50 %, is marked
    confident = test_proba.max(axis=1) >= np.float32(0.5)
    assert mark["name"] == "unsure below 50%"
    assert array(mark["x"])[0] == pytest.approx(confident.mean())
    right_there = test_proba[confident].argmax(axis=1) == mnist.y_test[confident]
    assert array(mark["y"])[0] == pytest.approx(right_there.mean())
    [line_text] = [m for m in texts(app.markdown) if m.startswith("Unsure below **50%**: ")]
    assert f"answer **{confident.mean():.1%}** of the test images" in line_text


def test_the_threshold_set_on_the_draw_page_is_marked_on_the_curve(app, fast_trainer, test_proba):
    open_page(app, "draw", trainer=fast_trainer)
    app.slider(key="unsure_slider").set_value(90).run()
    open_page(app, "gallery")  # the Draw page's widgets are gone meanwhile; the threshold stays
    open_page(app, "evaluate")
    mark = chart_titled(app, "Coverage and accuracy")["data"][1]
    assert mark["name"] == "unsure below 90%"
    assert array(mark["x"])[0] == pytest.approx(np.mean(test_proba.max(axis=1) >= np.float32(0.9)))
    assert [m for m in texts(app.markdown) if m.startswith("Unsure below **90%**: ")]
    open_page(app, "draw")
    assert app.slider(key="unsure_slider").value == 90
