"""The options of each ``python -m fmi.*`` tool, one module a door (``fmi/analyze.py`` runs ``analyze.main``)."""
