"""Inside one prediction, in a real browser: every stage of the Backprop page's step-through, one
step by hand and Undo, the Draw page's "Why?", the Inspect page's neuron lab and map of a layer."""
import re

import pytest
from playwright.sync_api import expect

from mlp import explain
from tests import strokes
from tests.browser.helpers import button, draw, main, no_exception, open_app, part, whole_page
from tests.browser.test_insight import go_to, small_runs_settings, train

pytestmark = pytest.mark.browser

SHOTS = {"forward": "backprop-forward", "softmax": "backprop-softmax", "output": "backprop-output",
         "backward": "backprop-first-layer", "step": "backprop-step"}


def settled(page):
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")


def with_a_small_model(page, server):
    """Open the app and train a small model (10,000 images, 2 epochs) on the Train page."""
    open_app(page, server)
    go_to(page, "Train", "train")
    small_runs_settings(page)
    train(page)


def test_walk_every_stage_of_backprop_then_one_step_and_undo(page, app_server):
    with_a_small_model(page, app_server)
    go_to(page, "Backprop", "backprop")
    stages = explain.stages([784, 128, 64, 10])
    n = len(stages)
    heading = main(page).get_by_text(re.compile(r"^Stage \d+ of \d+: "))
    expect(heading).to_have_text(f"Stage 1 of {n}: {stages[0].title}")
    expect(button(page, "Previous")).to_be_disabled()
    whole_page(page, "backprop-input")
    for k, stage in enumerate(stages[1:], start=2):
        button(page, "Next").click()
        expect(heading).to_have_text(f"Stage {k} of {n}: {stage.title}")
        settled(page)
        no_exception(page)
        if stage.kind in ("forward", "logits", "softmax", "loss", "output", "backward"):
            expect(main(page).locator(".katex").first).to_be_visible()  # the formula, typeset
        if stage.kind in ("output", "backward"):  # the check by finite difference, next to backprop
            expect(main(page).get_by_text("Check by finite difference")).to_be_visible()
            expect(main(page).get_by_test_id("stDataFrame")).to_be_visible()
        if stage.kind == "backward" and stage.layer == 1:
            expect(main(page).get_by_text("-dW of layer 1: the 16 units")).to_be_visible()
        if stage.kind in SHOTS and (stage.kind != "forward" or stage.layer == 1) and \
                (stage.kind != "backward" or stage.layer == 1):
            whole_page(page, SHOTS[stage.kind])
    expect(button(page, "Next")).to_be_disabled()

    # one step by hand lowers this example's loss; Undo goes back
    button(page, "Apply one step").click()
    line = main(page).get_by_text(re.compile(r"^step: loss "))
    expect(line).to_have_text(re.compile(r"^step: loss [\d.e-]+ → [\d.e-]+ \(down by [\d.e-]+\) at lr 0\.01$"))
    expect(main(page).get_by_text("Probabilities before and after the step")).to_be_visible()
    expect(main(page).get_by_text(re.compile(r"^These are the weights after 1 step taken by hand"))).to_be_visible()
    settled(page)
    whole_page(page, "backprop-step")
    button(page, "Undo").click()
    expect(main(page).get_by_text("0 steps taken. Apply one to compare")).to_be_visible()
    expect(button(page, "Undo")).to_be_disabled()
    button(page, "Previous").click()
    expect(heading).to_have_text(f"Stage {n - 1} of {n}: {stages[-2].title}")
    no_exception(page)

    # the Draw page's "Why?": the saliency over a drawing and the ink toward another digit
    go_to(page, "Draw", "draw")
    draw(page, strokes.DIGITS[4]())
    expect(main(page).get_by_text(re.compile(r"^prediction: "))).to_be_visible()
    main(page).get_by_text("Why? The pixels it looks at").click()
    expect(main(page).get_by_text(re.compile(r"^Saliency of "))).to_be_visible()
    expect(main(page).get_by_text(re.compile(r"^toward \S+: \d+% → \d+% after \d+ small steps"))).to_be_visible()
    settled(page)
    no_exception(page)
    whole_page(page, "draw-why")


def test_the_neuron_lab_edits_a_copy_and_the_map_shows_an_image_on_hover(page, app_server):
    with_a_small_model(page, app_server)
    go_to(page, "Inspect", "inspect")
    accuracy = main(page).get_by_test_id("stMetric").filter(has_text="Accuracy, edited")
    expect(accuracy).to_be_visible()
    original = main(page).get_by_test_id("stMetric").filter(has_text="Accuracy, original")
    start = original.get_by_test_id("stMetricValue").inner_text()
    expect(accuracy.get_by_test_id("stMetricValue")).to_have_text(start)
    expect(button(page, "Reset")).to_be_disabled()

    # prune 90 % of the weights: the edited network's accuracy changes, the original's does not
    prune = main(page).get_by_role("group", name="Prune the smallest weights (%)", exact=True).get_by_role("slider")
    prune.focus()
    for _ in range(9):
        page.keyboard.press("PageUp")  # 10 points a key
    expect(prune).to_have_attribute("aria-valuetext", "90")
    expect(main(page).get_by_text(re.compile(r"^Edits: pruned 90 %"))).to_be_visible()
    expect(accuracy.get_by_test_id("stMetricDelta")).to_be_visible()
    assert original.get_by_test_id("stMetricValue").inner_text() == start
    main(page).get_by_text("Switch it off").click()
    expect(main(page).get_by_text(re.compile(r"^Edits: 1 unit off, pruned 90 %"))).to_be_visible()
    settled(page)
    no_exception(page)
    part(page, "neuron_lab", "inspect-lab")

    # Save as a run, then Reset gives the original back
    button(page, "Save as a run").click()
    expect(main(page).get_by_text(re.compile(r"^Saved as .*edited: 1 unit off, pruned 90 %"))).to_be_visible()
    button(page, "Reset").click()
    expect(main(page).get_by_text("Edits: no edits.")).to_be_visible()
    expect(accuracy.get_by_test_id("stMetricValue")).to_have_text(start)
    expect(accuracy.get_by_test_id("stMetricDelta")).to_have_count(0)

    # the map: hover a point to see its image as text art; another layer, other points
    chart = main(page).locator(".js-plotly-plot").filter(has_text="Map of the input pixels")
    expect(chart).to_be_visible()
    chart.scroll_into_view_if_needed()
    point = chart.locator(".scatterlayer .point").nth(100)
    box = point.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2 - 8, box["y"] + box["height"] / 2 - 8)
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=4)
    hover = chart.locator(".hoverlayer")
    expect(hover).to_contain_text(re.compile(r"test image \d+: a \d, predicted \d"))
    assert re.search("[▀▄█]", hover.text_content())  # the image itself, as half blocks
    main(page).get_by_role("radiogroup", name="Layer").get_by_text("hidden layer 2").click()
    expect(main(page).locator(".js-plotly-plot").filter(has_text="Map of hidden layer 2")).to_be_visible()
    settled(page)
    no_exception(page)
    part(page, "layer_map", "inspect-map")
    go_to(page, "Compare runs", "compare")
    expect(main(page).get_by_text(re.compile(r"edited: 1 unit off, pruned 90 %")).first).to_be_visible()
