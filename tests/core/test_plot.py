from __future__ import annotations

import matplotlib.pyplot as plt

from hepnb import plot


def test_plot_label_text_is_exactly_experiment_and_status():
    fig, ax = plt.subplots()
    plot.label(ax, "ATLAS", "Simulation Internal")
    texts = [t.get_text() for t in ax.texts if t.get_text()]
    plt.close(fig)
    assert texts[:2] == ["ATLAS", "Simulation Internal"]
