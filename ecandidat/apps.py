from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EcandidatConfig(AppConfig):
    name = "ecandidat"
    verbose_name = _("platform")
