"""The figures of acting on a training (playground.figures): change marks, the layers over time."""
from mlp.diagnostics import Diagnostics
from mlp.train import ConfigChange, Progress
from playground.figures import MAX_POINTS, layer_diagnostics, training_curves


def progress(step):
    return Progress(step, step / 10, 0.9 + step / 1e5, 0.9, 0.3, 0.31, 1000.0, step / 100, 1e-3)


def measured(step, layers=3):
    return Diagnostics(step, step / 10, (1.0,) * layers, (1e-3,) * layers, (5.0,) * layers, (0.1,) * layers,
                       (0.0,) * (layers - 1))


def test_changes_at_one_update_share_one_line_on_both_panels():
    changes = [ConfigChange(20, 2.0, "learning_rate_init", 0.02, 0.002), ConfigChange(20, 2.0, "dropout", 0.2, 0.0),
               ConfigChange(40, 4.0, "max_iter", 9, 8)]
    fig = training_curves([progress(s) for s in range(10, 60, 10)], changes=changes).to_dict()["layout"]
    assert [(s["x0"], s["xref"]) for s in fig["shapes"]] == [(2.0, "x"), (2.0, "x2"), (4.0, "x"), (4.0, "x2")]
    assert [a["text"] for a in fig["annotations"]] == ["lr 0.002 -> 0.02, dropout 0 -> 0.2", "epochs 8 -> 9"]


def test_the_layers_figure_has_six_panels_and_thins_a_long_run_keeping_the_last():
    diagnostics = [measured(5 * i) for i in range(1, 2001)]
    fig = layer_diagnostics(diagnostics, [progress(s) for s in range(100, 10001, 100)]).to_dict()
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert titles == ["gradient norm", "update / weight", "weight norm", "drift from start", "dead ReLUs",
                      "train - test accuracy"]
    first = fig["data"][0]
    assert len(first["x"]) <= MAX_POINTS and first["x"][-1] == diagnostics[-1].epoch
    assert sum(t["yaxis"] == "y5" for t in fig["data"]) == 2  # dead ReLUs: one line per hidden layer
