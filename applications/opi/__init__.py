"""OPI: admitted candidates who confirmed, pre-registered in the student records system (Pégase or Apogée).

``services`` (creation on confirmation, withdrawal, re-queue, cancel, transfer), ``backends`` (the interface and
the configured backend), ``pegase`` and ``apogee`` (the file writers), ``admin`` (the central office's screen).
"""
