from django.apps import AppConfig


class EntServerConfig(AppConfig):
    name = "entserver"
    verbose_name = "ENT de développement"
    default_auto_field = "django.db.models.BigAutoField"
