#!/usr/bin/env python
"""Command-line entry point of the development ENT (an OpenID Connect provider beside ecandidat)."""

import os
import sys

if __name__ == "__main__":
    # Forced, not setdefault: a shell or pytest run of the main project exports ecandidat's settings module.
    os.environ["DJANGO_SETTINGS_MODULE"] = "entserver.settings"
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
