from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import pgettext_lazy


class OffersConfig(AppConfig):
    name = "offers"
    verbose_name = pgettext_lazy("app", "Training offer")  # a heading of the back office's menu

    def ready(self) -> None:
        # What the catalogue tree shows: a change removes today's cached trees once it commits (offers/catalogue.py).
        # Deferred: the models (and the catalogue, which imports them) load only once the app registry is ready.
        from offers.catalogue import forget_catalogue_on_commit  # noqa: PLC0415
        from offers.models import Centre, DiplomaType, Formation, FormationType  # noqa: PLC0415

        for model in (Formation, Centre, DiplomaType, FormationType):
            post_save.connect(
                forget_catalogue_on_commit, sender=model, dispatch_uid=f"catalogue-{model.__name__}-save"
            )
            post_delete.connect(
                forget_catalogue_on_commit, sender=model, dispatch_uid=f"catalogue-{model.__name__}-delete"
            )
