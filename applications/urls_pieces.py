from django.urls import path

from applications import views_pieces as views

app_name = "pieces"

urlpatterns = [
    path("<uuid:application_id>/", views.pieces, name="pieces"),
    path("<uuid:application_id>/<int:piece_type_id>/ajouter/", views.upload, name="upload"),
    path("<uuid:application_id>/<int:piece_type_id>/supprimer/", views.remove, name="remove"),
    path("<uuid:application_id>/<int:piece_type_id>/non-concerne/", views.not_concerned, name="not_concerned"),
    path("<uuid:application_id>/<int:piece_type_id>/concerne/", views.concerned, name="concerned"),
    path("<uuid:application_id>/dossier.pdf", views.dossier_pdf, name="dossier_pdf"),
    path("fichier/<uuid:submission_id>/", views.download, name="download"),
    path("modele/<int:piece_type_id>/", views.template_download, name="template_download"),
    path("gestion/fichier/<uuid:submission_id>/", views.staff_download, name="staff_download"),
    path("gestion/<uuid:application_id>/<int:piece_type_id>/deposer/", views.staff_upload, name="staff_upload"),
    path("gestion/<uuid:application_id>/dossier.pdf", views.staff_dossier_pdf, name="staff_dossier_pdf"),
]
