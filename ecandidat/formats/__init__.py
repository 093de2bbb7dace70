"""The project's date formats (``FORMAT_MODULE_PATH``), read before Django's own for each language.

French keeps Django's (``d/m/Y``, the guide's dates). English replaces Django's American ``m/d/Y``: the site's
English readers are international candidates, for whom 01/12/2026 is ambiguous, and the pages used to mix both
orders (``d/m/Y`` written in templates beside ``SHORT_DATE_FORMAT`` from Python). English dates name the month.
"""
