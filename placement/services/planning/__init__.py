"""Planning: move plans built from the database (``scenario``), solved off the request
(``runner``, driven by ``placement.worker``), reviewed, approved and executed (``plans``)."""
