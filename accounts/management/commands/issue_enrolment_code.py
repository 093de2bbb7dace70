"""Issue a one-time enrolment code for a staff account, from the server (accounts.staff_enrolment).

For the first superuser (nobody can issue a code in the back office yet, and the mail may not be configured) or
when the back office is out of reach. Shell access to the server is the authority here: the token records no
issuer. The code is printed once; it is valid 3 days and used on /compte/gestion/activation/ after a password login.
"""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.staff_enrolment import issue_enrolment_code
from ecandidat.exceptions import BusinessRuleError


class Command(BaseCommand):
    help = "Print a one-time code with which a staff member activates their first authenticator app."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No account {username!r}.")
        try:
            code = issue_enrolment_code(user=user, actor=None)
        except BusinessRuleError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(code)
