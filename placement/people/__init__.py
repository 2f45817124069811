"""Finding people: search by reference or file number, youths placed, youths absconded."""

from placement.people.routes import bp

__all__ = ["bp"]
