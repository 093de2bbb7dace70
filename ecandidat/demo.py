"""Entry point of ``manage.py seed_demo``: each app seeds its own part, in dependency order."""

from django.conf import settings

from accounts.models import User

DEMO_ADMIN = ("admin", "ecandidat-admin-demo")


def seed_all() -> list[str]:
    from offers import demo as offers_demo

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
    from accounts import demo as accounts_demo

    lines = [
        f"Institution: {settings.INSTITUTION_NAME}",
        f"Back office: /gestion/ — login {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]}",
    ]
    lines += accounts_demo.seed()
    from applications import demo_staff

    lines += demo_staff.seed()
    from applications import demo as applications_demo

    lines += applications_demo.seed()
    from applications import demo_applications

    lines += demo_applications.seed()
    return lines
