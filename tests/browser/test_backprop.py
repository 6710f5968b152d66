"""The Backprop page and the Draw page's "Why?" in a real browser: every stage of the step-through,
one step by hand and Undo, the saliency over a drawing."""
import re

import pytest
from playwright.sync_api import expect

from mlp import explain
from tests import strokes
from tests.browser.helpers import button, draw, main, no_exception, open_app, whole_page
from tests.browser.test_insight import go_to, small_runs_settings, train

pytestmark = pytest.mark.browser

SHOTS = {"forward": "backprop-forward", "softmax": "backprop-softmax", "output": "backprop-output",
         "backward": "backprop-first-layer", "step": "backprop-step"}


def settled(page):
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")


def test_walk_every_stage_of_backprop_then_one_step_and_undo(page, app_server):
    open_app(page, app_server)
    go_to(page, "Train", "train")
    small_runs_settings(page)
    train(page)
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
    main(page).get_by_role("button", name="Apply one step").click()
    line = main(page).get_by_text(re.compile(r"^step: loss "))
    expect(line).to_have_text(re.compile(r"^step: loss [\d.e-]+ → [\d.e-]+ \(down by [\d.e-]+\) at lr 0\.01$"))
    expect(main(page).get_by_text("Probabilities before and after the step")).to_be_visible()
    expect(main(page).get_by_text(re.compile(r"^These are the weights after 1 step taken by hand"))).to_be_visible()
    settled(page)
    whole_page(page, "backprop-step")
    main(page).get_by_role("button", name="Undo").click()
    expect(main(page).get_by_text("0 steps taken. Apply one to compare")).to_be_visible()
    expect(main(page).get_by_role("button", name="Undo")).to_be_disabled()
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
