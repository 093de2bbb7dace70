"""Add a staff member from the LDAP directory: ``manage.py staff_from_directory <uid or mail> [--by <admin login>]``.

A thin wrapper over ``accounts.directory.create_staff_from_directory``; roles are given afterwards in the back office.
"""

from django.core.management.base import BaseCommand, CommandError

from accounts import directory
from accounts.models import User
from ecandidat.exceptions import BusinessRuleError


class Command(BaseCommand):
    help = "Create a staff account from the LDAP directory (by uid, or by address when it contains an @)."

    def add_arguments(self, parser):
        parser.add_argument("identifier", help="the uid or the e-mail address in the directory")
        parser.add_argument("--by", default="", help="login of the central administrator doing it (for the log)")

    def handle(self, *args, identifier: str, by: str, **options):
        if not directory.is_configured():
            raise CommandError("No directory: set LDAP_URL (README, Deploying at a university).")
        actor = User.objects.filter(username=by).first() if by else None
        try:
            user = directory.create_staff_from_directory(identifier=identifier, actor=actor)
        except (BusinessRuleError, directory.DirectoryUnavailable) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{user.username} <{user.email}> {user.first_name} {user.last_name}: staff account created")
