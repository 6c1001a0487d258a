"""Mandelbrot and Julia sets as escape-time surfaces."""

import numpy as np


def escape_times(width, height, x_range, y_range, n_iterations, julia_c=None):
    """Iterations until |z| > 2 at each point of a width x height grid (normalised to 0..1)."""
    x = np.linspace(x_range[0], x_range[1], width)
    y = np.linspace(y_range[0], y_range[1], height)
    grid = x[np.newaxis, :] + 1j * y[:, np.newaxis]
    if julia_c is None:
        z = np.zeros_like(grid)
        c = grid
    else:
        z = grid.copy()
        c = np.full_like(grid, complex(julia_c[0], julia_c[1]))
    counts = np.zeros(grid.shape, dtype=int)
    inside = np.ones(grid.shape, dtype=bool)
    for _ in range(n_iterations):
        z[inside] = z[inside] ** 2 + c[inside]
        inside &= np.abs(z) <= 2
        counts += inside
    return x, y, counts / n_iterations


def figure(settings):
    """A Plotly surface figure ({"data", "layout"}) for the given settings."""
    x, y, z = escape_times(
        settings["width"],
        settings["height"],
        settings["x_range"],
        settings["y_range"],
        settings["n_iterations"],
        settings.get("julia_c"),
    )
    kind = "Julia" if settings.get("julia_c") else "Mandelbrot"
    return {
        "data": {
            "x": x.round(6).tolist(),
            "y": y.round(6).tolist(),
            "z": z.round(4).tolist(),
            "colorscale": settings["color_scale"],
            "type": "surface",
        },
        "layout": {"title": f"{kind} set", "width": settings["width"], "height": settings["height"]},
    }
