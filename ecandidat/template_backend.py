"""Django's template backend, except that the ``i18n`` and ``static`` libraries replaced on purpose by
``ecandidat.templatetags.memo`` (issue 14) are not reported as a duplicate library (``templates.W003``); any other
duplicate still is."""

from django.template.backends.django import DjangoTemplates

INTENDED_OVERRIDES = {"i18n": "ecandidat.templatetags.memo", "static": "ecandidat.templatetags.memo"}


class Templates(DjangoTemplates):
    def _check_for_template_tags_with_the_same_name(self):
        return [
            warning
            for warning in super()._check_for_template_tags_with_the_same_name()  # type: ignore[misc]
            if not any(
                warning.msg.startswith(f"{name!r} is used")
                and f"'{path}'" in warning.msg
                and warning.msg.count("'") == 6  # the library's name and exactly two modules
                for name, path in INTENDED_OVERRIDES.items()
            )
        ]
