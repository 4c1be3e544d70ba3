"""The HTTP application: ``uvicorn coordinator.api:app``.

Routers live in this package, one module per area (:mod:`.materials`: presenters' uploads and
organizers' downloads; :mod:`.upload_page`: the HTML page behind a presenter's link);
:func:`~coordinator.api.app.create_app` puts them together.
"""

from coordinator.api.app import create_app

app = create_app()

__all__ = ["app", "create_app"]
