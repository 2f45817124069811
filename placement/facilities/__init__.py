from flask import Blueprint

bp = Blueprint("facilities", __name__, url_prefix="/facilities")

from placement.facilities import routes  # noqa: E402,F401
