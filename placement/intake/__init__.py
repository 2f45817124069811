from flask import Blueprint

bp = Blueprint("intake", __name__)

from placement.intake import routes  # noqa: E402,F401
