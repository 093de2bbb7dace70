from django.urls import path

from applications import views, views_candidature

app_name = "applications"


def _rows(prefix: str, kind: str) -> list:
    return [
        path(f"{prefix}/", views.row_list, {"kind_name": kind}, name=f"{kind}_list"),
        path(f"{prefix}/ajouter/", views.row_edit, {"kind_name": kind}, name=f"{kind}_add"),
        path(f"{prefix}/<uuid:public_id>/modifier/", views.row_edit, {"kind_name": kind}, name=f"{kind}_edit"),
        path(f"{prefix}/<uuid:public_id>/supprimer/", views.row_delete, {"kind_name": kind}, name=f"{kind}_delete"),
    ]


urlpatterns = [
    path("", views.start, name="start"),
    path("informations-perso/", views.personal_details, name="personal_details"),
    path("informations-perso/certifier/", views.certify_identity, name="certify_identity"),
    path("adresse/", views.address, name="address"),
    path("baccalaureat/", views.baccalaureate, name="baccalaureate"),
    path("baccalaureat/sans-bac/", views.baccalaureate_none, name="baccalaureate_none"),
    path("cursus-interne/", views.internal_cursus, name="internal_cursus"),
    *_rows("cursus-externe", "external_cursus"),
    *_rows("stages", "internship"),
    *_rows("experiences-pro", "work_experience"),
    path("mes-donnees/", views.my_data, name="my_data"),
    path("mes-donnees/mes-donnees.zip", views.my_data_download, name="my_data_download"),
]

# Applications (candidate side): applications.views_candidature.
urlpatterns += [
    path("candidatures/", views_candidature.application_list, name="application_list"),
    path("candidatures/nouvelle/<int:formation_id>/", views_candidature.apply, name="apply"),
    path("candidatures/<uuid:public_id>/", views_candidature.detail, name="detail"),
    path("candidatures/<uuid:public_id>/transmettre/", views_candidature.transmit, name="transmit"),
    path("candidatures/<uuid:public_id>/annuler/", views_candidature.cancel, name="cancel"),
    path("candidatures/<uuid:public_id>/confirmer/", views_candidature.confirm, name="confirm"),
    path("candidatures/<uuid:public_id>/desister/", views_candidature.withdraw, name="withdraw"),
    path("candidatures/<uuid:public_id>/lettre/", views_candidature.letter, name="letter"),
    path("candidatures/<uuid:public_id>/questions/", views_candidature.questions, name="questions"),
    path(
        "candidatures/<uuid:public_id>/formulaires/<int:form_id>/non-concerne/",
        views_candidature.form_not_concerned,
        name="form_not_concerned",
    ),
    path(
        "candidatures/<uuid:public_id>/formulaires/<int:form_id>/concerne/",
        views_candidature.form_concerned,
        name="form_concerned",
    ),
]
