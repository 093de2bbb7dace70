from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


class OffersConfig(AppConfig):
    name = "offers"
    verbose_name = _("training offer")

    def ready(self) -> None:
        # What the catalogue tree shows: a change removes today's cached trees once it commits (offers/catalogue.py).
        from offers.models import Centre, DiplomaType, Formation  # the app registry is ready only now

        for model in (Formation, Centre, DiplomaType):
            post_save.connect(_catalogue_changed, sender=model, dispatch_uid=f"catalogue-{model.__name__}-save")
            post_delete.connect(_catalogue_changed, sender=model, dispatch_uid=f"catalogue-{model.__name__}-delete")


def _catalogue_changed(sender, **kwargs) -> None:
    from django.db import transaction
    from django.utils import timezone

    from offers.catalogue import forget_catalogue  # imports the models: not at module level of apps.py

    transaction.on_commit(lambda: forget_catalogue(today=timezone.localdate()), robust=True)
