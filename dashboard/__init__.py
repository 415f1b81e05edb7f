"""Dash web app for exploring run files; reads through tracking, computes through shedding.analysis.

    from dashboard import create_app, serve
    serve("data/runs", port=8050)         # or: create_app("data/runs").server for WSGI

Never imports torch.
"""

from dashboard.app import create_app, serve

__all__ = ["create_app", "serve"]
