"""Entry point of ``manage.py seed_demo``: each app seeds its own part, in dependency order.

It lives in ``applications``, the top layer, because it is the only one allowed to know every other app.
"""

from django.conf import settings

from accounts import demo as accounts_demo
from accounts.models import User
from applications import demo as applications_demo
from applications import demo_applications, demo_opi, demo_staff
from offers import demo as offers_demo

DEMO_ADMIN = ("admin", "ecandidat-admin-demo")


def seed_all() -> list[str]:
    offers_demo.seed()
    admin, created = User.objects.get_or_create(
        username=DEMO_ADMIN[0],
        defaults={
            "email": "admin@univ-perp.fr",
            "is_staff": True,
            "is_superuser": True,
            "first_name": "Scolarité",
            "last_name": "Centrale",
        },
    )
    if created:
        admin.set_password(DEMO_ADMIN[1])
        admin.save(update_fields=["password"])
    lines = [
        f"Institution: {settings.INSTITUTION_NAME}",
        f"Back office: /gestion/ — login {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]}",
    ]
    lines += accounts_demo.seed()
    lines += demo_staff.seed()
    lines += applications_demo.seed()
    lines += demo_applications.seed()
    lines += demo_opi.seed()
    return lines
