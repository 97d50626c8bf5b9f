"""Credit-subject rights portal."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, Response

from portal import config
from portal.db import Database

_HERE = Path(__file__).resolve().parent


def _asset_dir(name: str) -> str:
    # Installed wheel: portal/<name>; source checkout: <repo>/<name>.
    inside = _HERE / name
    return str(inside if inside.is_dir() else _HERE.parent / name)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_path=config.instance_path(), instance_relative_config=True,
                template_folder=_asset_dir("templates"), static_folder=_asset_dir("static"))
    config.load(app, test_config)
    register_db(app)
    register_security_headers(app)
    register_blueprints(app)
    register_cli(app)
    return app


def register_db(app: Flask) -> None:
    """One transaction per request: commit once when the response is good,
    roll back on an error status or an exception."""
    db = Database(app.config["DATABASE_URL"])
    app.extensions["portal.db"] = db

    @app.after_request
    def _commit(response: Response) -> Response:
        session = db.session()
        if response.status_code < 400:
            session.commit()
        else:
            session.rollback()
        return response

    @app.teardown_appcontext
    def _remove(_exc: BaseException | None) -> None:
        db.session.remove()  # rolls back whatever was not committed


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response: Response) -> Response:
        h = response.headers
        h.setdefault("Content-Security-Policy",
                     "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                     "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "no-referrer")
        h.setdefault("X-Frame-Options", "DENY")
        return response


def register_blueprints(app: Flask) -> None:
    from portal.site.routes import bp as site

    app.register_blueprint(site)


def register_cli(app: Flask) -> None:
    from portal.cli import register

    register(app)
