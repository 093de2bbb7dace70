from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils.translation import pgettext_lazy


class ApplicationsConfig(AppConfig):
    name = "applications"
    verbose_name = pgettext_lazy("app", "Applications and dossiers")  # a heading of the back office's menu

    def ready(self) -> None:
        # Deferred: models are not loaded before ready(). Importing the pieces' services connects the receiver of
        # documents.scanning.document_quarantined (the lower layer's way to tell this one that a file it holds
        # was quarantined); the pieces hold their file through Document.submission.
        from applications.services import pieces  # noqa: F401, PLC0415
        from documents.scanning import register_holder  # noqa: PLC0415

        register_holder("submission")

        # Deferred like the imports above. A candidate's login opens their dossier from the SIS (never a page read).
        from django.contrib.auth.signals import user_logged_in  # noqa: PLC0415

        from applications.services.dossier import open_dossier_at_login  # noqa: PLC0415

        user_logged_in.connect(open_dossier_at_login, dispatch_uid="applications.open_dossier_at_login")

        # Deferred like the imports above. The mails to the owner of an address (« compte existant ») are written in
        # the language of their dossier; the candidate's own changes to their account go to its history too.
        from accounts.services import register_account_dossier, register_owner_language  # noqa: PLC0415

        register_owner_language("candidate__preferred_language")
        register_account_dossier("candidate")

        # Deferred like the imports above (the declarations name the models). The mails about an application.
        from applications.notifications import NOTIFICATIONS  # noqa: PLC0415
        from ecandidat.notifications import register  # noqa: PLC0415

        register(*NOTIFICATIONS)

        # Deferred like the imports above. The decision letters that the decision mails carry, read when each mail
        # is sent (applications.letters).
        from applications.letters import ATTACHMENT_PROVIDER, attachment_content  # noqa: PLC0415
        from ecandidat import attachments  # noqa: PLC0415

        attachments.register(ATTACHMENT_PROVIDER, attachment_content)
        # The letter texts that letters not built yet still need are not deleted from the offers' admin.
        from applications.letters import letters_waiting_for  # noqa: PLC0415
        from offers.letters import register_deletion_check  # noqa: PLC0415

        register_deletion_check(letters_waiting_for)
        # The campaign form refuses a code that is not one of Pégase's periods (the OPI files carry it).
        from applications.opi.periods import campaign_code_check  # noqa: PLC0415
        from offers.services import register_campaign_code_check  # noqa: PLC0415

        register_campaign_code_check(campaign_code_check)
        # The uploaded pieces store their campaign's code and live under "<code>/": the campaign form then keeps the
        # code read only (offers' layer may not read the documents' rows itself).
        from applications.stored_files import documents_store_campaign_code  # noqa: PLC0415
        from offers.services import register_campaign_code_holder  # noqa: PLC0415

        register_campaign_code_holder(documents_store_campaign_code)
        # A decision type used by decisions keeps its kind of decision (offers' layer may not read the decisions).
        from applications.models import Decision  # noqa: PLC0415
        from offers.services import register_decision_type_use  # noqa: PLC0415

        register_decision_type_use(lambda pk: Decision.objects.filter(decision_type_id=pk).exists())

        # Deferred like the imports above (the clients import the models). The back office's connection tests.
        from applications.connectivity import LIMESURVEY, PEGASE  # noqa: PLC0415
        from ecandidat import connectivity  # noqa: PLC0415

        connectivity.register(PEGASE, LIMESURVEY)

        # Deferred like the imports above. Letters and packs are stored outside the campaigns' prefixes: the orphan
        # sweep (documents' remove_orphan_files) learns which names their rows hold. Under "letters/" too, in
        # "letters/signatures/": the letter templates' signature images (a template row holds its own).
        from applications.models import CommissionPack, DecisionLetter, ExportJob  # noqa: PLC0415
        from documents.storage import register_file_owner  # noqa: PLC0415
        from offers.models import DecisionLetterTemplate  # noqa: PLC0415

        register_file_owner(
            "letters/",
            lambda: [
                *DecisionLetter.objects.exclude(file="").values_list("file", flat=True),
                *DecisionLetterTemplate.objects.exclude(signature="").values_list("signature", flat=True),
            ],
        )
        register_file_owner("packs/", lambda: CommissionPack.objects.exclude(file="").values_list("file", flat=True))
        # The background exports (a file a killed build stored but never recorded is swept once no job holds it).
        register_file_owner("exports/", lambda: ExportJob.objects.exclude(file="").values_list("file", flat=True))
        # The piece types' templates: a template replaced, or its piece type deleted, leaves its file behind (the
        # admin deletes no file); the sweep deletes it once no piece type holds it (the templates stored directly in
        # "piece-templates/", before each had a folder, are held by their rows like the others).
        from offers.models import PIECE_TEMPLATES, PieceType  # noqa: PLC0415

        register_file_owner(
            f"{PIECE_TEMPLATES}/", lambda: PieceType.objects.exclude(template="").values_list("template", flat=True)
        )

        # Deferred like the imports above. The candidate pages' cached piece types and questions
        # (applications.formation_cache) are removed when a row, a formation or a formation's list changes, once the
        # change commits.
        from applications.pieces import PIECE_TYPES  # noqa: PLC0415
        from applications.questions import QUESTIONS  # noqa: PLC0415
        from offers.models import Formation, Question  # noqa: PLC0415

        for name, copies, model, formation_list in (
            ("piece-types", PIECE_TYPES, PieceType, Formation.piece_types.through),
            ("questions", QUESTIONS, Question, Formation.questions.through),
        ):
            post_save.connect(copies.forget_all_on_commit, sender=model, dispatch_uid=f"{name}-saved")
            post_delete.connect(copies.forget_all_on_commit, sender=model, dispatch_uid=f"{name}-deleted")
            m2m_changed.connect(copies.forget_all_on_commit, sender=formation_list, dispatch_uid=f"{name}-m2m")
            post_save.connect(copies.forget_formation_on_commit, sender=Formation, dispatch_uid=f"{name}-formation")

        # Deferred like the imports above. The OPI follows the candidate's answer (applications.signals).
        from applications.opi import services as opi  # noqa: PLC0415
        from applications.signals import application_confirmed, confirmation_withdrawn  # noqa: PLC0415

        application_confirmed.connect(opi.on_application_confirmed, dispatch_uid="applications.opi.confirmed")
        confirmation_withdrawn.connect(opi.on_confirmation_withdrawn, dispatch_uid="applications.opi.withdrawn")

        # Deferred like the imports above. A file the nightly re-scan quarantines (documents.scanning) leaves the
        # PJ-OPI not sent yet and the commission packs built with it, in the quarantine's transaction.
        from applications.opi.pieces import detach_quarantined  # noqa: PLC0415
        from applications.packs import withdraw_quarantined  # noqa: PLC0415
        from documents.scanning import document_quarantined  # noqa: PLC0415

        document_quarantined.connect(detach_quarantined, dispatch_uid="applications.opi.detach_quarantined")
        document_quarantined.connect(withdraw_quarantined, dispatch_uid="applications.packs.withdraw_quarantined")
