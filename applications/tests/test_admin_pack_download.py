"""The commission pack's download (up to ~1.7 GB) with the files on this disk or on S3: handed to nginx by
X-Accel-Redirect when DOWNLOAD_ACCEL_REDIRECT_PREFIX is set (on S3, a URL of the object signed for a minute), after
the same checks as the streamed answer (requester only, 404 for anyone else or a pack not ready or whose file is gone);
streamed by Django when it is empty (the default)."""

from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from moto import mock_aws

from applications.models import CommissionPack
from applications.tests.factories_candidature import make_application
from documents.tests.s3_peer import s3_options
from offers.tests.factories import FormationFactory

PREFIX = "/_protected_media/"
S3_PREFIX = "/_protected_s3/"
BUCKET = "ecandidat-pieces"
BODY = b"PK\x05\x06" + bytes(18)  # an empty ZIP


@pytest.fixture
def local_storage(settings, tmp_path):
    """The production default: FileSystemStorage (tests use the in-memory one)."""
    settings.MEDIA_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path}},
    }
    return tmp_path


@pytest.fixture
def bucket(settings):
    """The default storage on a private bucket of moto's in-process S3 (on AWS itself: no endpoint)."""
    with mock_aws():
        boto3.client("s3", region_name="eu-west-3").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"}
        )
        settings.STORAGES = {**settings.STORAGES, "default": s3_options(None, BUCKET)}
        yield BUCKET


@pytest.fixture
def accel(settings, local_storage):
    settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX = PREFIX
    return local_storage


@pytest.fixture
def s3_accel(settings, bucket):
    settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX = S3_PREFIX
    return bucket


@pytest.fixture(params=["disk", "s3"])
def any_accel(request):
    """Handed to nginx, the files on this disk or on S3."""
    return request.getfixturevalue("accel" if request.param == "disk" else "s3_accel")


@pytest.fixture
def pack(centre_manager, centre, campaign):
    """A pack of a dossier of the manager's centre (one that no longer exists is not handed out)."""
    application = make_application(FormationFactory(centre=centre), campaign=campaign)
    name = default_storage.save("packs/pack.zip", ContentFile(BODY))
    return CommissionPack.objects.create(
        requested_by=centre_manager,
        application_ids=[application.pk],
        total=1,
        done=1,
        status=CommissionPack.Status.DONE,
        file=name,
    )


def download_url(pack):
    return reverse("admin:applications_application_pack_download", args=[pack.public_id])


def test_the_pack_is_handed_to_nginx_with_its_headers(client, django_assert_num_queries, accel, centre_manager, pack):
    client.force_login(centre_manager)

    with django_assert_num_queries(7):  # session, user, staff checks, savepoints, the pack, its scope
        response = client.get(download_url(pack))

    assert response.status_code == 200
    assert not response.streaming
    assert response.content == b""
    assert response["X-Accel-Redirect"] == f"{PREFIX}{pack.file.name}"
    assert pack.file.name.startswith("packs/")
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="dossiers-commission-')
    assert response["Content-Disposition"].endswith('.zip"')
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]  # the admin's never_cache adds its own


def test_without_the_prefix_the_pack_is_streamed_as_before(
    client, django_assert_num_queries, local_storage, centre_manager, pack
):
    client.force_login(centre_manager)

    with django_assert_num_queries(7):
        response = client.get(download_url(pack))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == BODY
    assert "X-Accel-Redirect" not in response
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="dossiers-commission-')
    assert "no-store" in response["Cache-Control"]  # the admin's never_cache adds its own


def test_the_pack_on_s3_is_handed_to_nginx_by_a_signed_url(
    client, django_assert_num_queries, s3_accel, centre_manager, pack
):
    client.force_login(centre_manager)

    with django_assert_num_queries(7):  # session, user, staff checks, savepoints, the pack, its scope
        response = client.get(download_url(pack))

    assert response.status_code == 200
    assert not response.streaming
    assert response.content == b""
    uri = urlsplit(response["X-Accel-Redirect"])
    assert uri.path == f"{S3_PREFIX}https/{BUCKET}.s3.amazonaws.com/{pack.file.name}"
    query = parse_qs(uri.query)
    assert query["X-Amz-Expires"] == ["60"]
    assert query["X-Amz-SignedHeaders"] == ["host"]
    assert query["response-content-type"] == ["application/zip"]
    [disposition] = query["response-content-disposition"]
    assert disposition.startswith('attachment; filename="dossiers-commission-')
    assert disposition.endswith('.zip"')
    assert "Content-Disposition" not in response  # nginx would keep it on its error page
    assert response["Content-Type"] == "application/zip"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("candidate", 302),
        ("other_centre_manager", 404),
        ("commission_member", 404),
        ("central_manager", 404),
        ("read_only_staff", 404),
    ],
)
def test_no_one_but_the_requester_is_handed_the_file(request, client, any_accel, pack, persona, expected):
    user = request.getfixturevalue(persona)
    client.force_login(user.user if persona == "candidate" else user)

    response = client.get(download_url(pack))

    assert response.status_code == expected
    assert "X-Accel-Redirect" not in response


def test_a_pack_not_ready_is_a_404_before_nginx_is_asked(client, any_accel, centre_manager, pack):
    CommissionPack.objects.filter(pk=pack.pk).update(status=CommissionPack.Status.RUNNING)
    client.force_login(centre_manager)

    response = client.get(download_url(pack))

    assert response.status_code == 404
    assert "X-Accel-Redirect" not in response


def test_a_pack_whose_file_is_gone_is_djangos_404_not_nginxs(client, any_accel, centre_manager, pack):
    default_storage.delete(pack.file.name)  # from this disk or from the bucket
    client.force_login(centre_manager)

    response = client.get(download_url(pack))

    assert response.status_code == 404
    assert "X-Accel-Redirect" not in response
