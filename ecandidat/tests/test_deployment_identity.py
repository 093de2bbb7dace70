"""The deployment's identity (``ecandidat.deployment``): the same database is the same deployment."""

from django.conf import settings as django_settings

from ecandidat.deployment import deployment_identity, deployment_label


def test_the_identity_follows_the_database(monkeypatch):
    first = deployment_identity()
    assert len(first) == 16
    assert deployment_identity() == first
    monkeypatch.setitem(django_settings.DATABASES["default"], "NAME", "recette")

    assert deployment_identity() != first
    assert deployment_label().endswith("/recette")


def test_the_identity_it_sets_wins(settings):
    settings.DEPLOYMENT_ID = "production-univ"

    assert deployment_identity() == "production-univ"
    assert deployment_label() == "DEPLOYMENT_ID"
