"""The reference deployment (Dockerfile, compose.yaml): docker cannot run on CI, so what can be checked without it
is checked here — the compose file parses and wires every service, the image is multi-stage, non-root and has no
compiler in its final stage, and every variable it sets is one the settings read and the README documents."""

import re

import yaml
from django.conf import settings

BASE_DIR = settings.BASE_DIR


def _compose() -> dict:
    return yaml.safe_load((BASE_DIR / "compose.yaml").read_text(encoding="utf-8"))


def _dockerfile_stages() -> dict[str, str]:
    text = (BASE_DIR / "Dockerfile").read_text(encoding="utf-8")
    parts = re.split(r"^FROM \S+ AS (\w+)\n", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_compose_has_the_reference_services():
    services = _compose()["services"]

    assert {"web", "worker", "beat", "postgres", "redis", "clamd", "s3"} <= set(services)
    for name in ("web", "worker", "beat", "migrate"):
        assert services[name]["image"] == "ecandidat:latest"
        assert services[name]["build"] == "."
    assert services["worker"]["command"][:4] == ["celery", "-A", "ecandidat", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "ecandidat", "beat"]
    assert "replicas" not in services["beat"].get("deploy", {})  # exactly one beat


def test_compose_waits_for_migrations_and_healthy_peers():
    services = _compose()["services"]

    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}
        assert depends["redis"] == {"condition": "service_healthy"}
        assert depends["s3-bucket"] == {"condition": "service_completed_successfully"}
    assert "check --deploy" in services["migrate"]["command"][-1]


def test_compose_points_the_application_at_its_peers():
    env = _compose()["services"]["web"]["environment"]

    assert env["DJANGO_SETTINGS_MODULE"] == "ecandidat.settings.base"
    assert env["DATABASE_URL"].startswith("postgres://ecandidat:")
    assert env["DATABASE_URL"].endswith("@postgres:5432/ecandidat")
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert env["CLAMD_ADDRESS"] == "tcp://clamd:3310"
    assert env["AWS_S3_ENDPOINT_URL"] == "http://s3:9000"
    assert env["SECRET_KEY"].startswith("${SECRET_KEY:?")  # no default secret: compose refuses to start without it


def test_every_variable_compose_sets_is_read_by_the_settings_and_documented():
    source = (BASE_DIR / "ecandidat" / "settings" / "base.py").read_text(encoding="utf-8")
    gunicorn = (BASE_DIR / "deploy" / "gunicorn.conf.py").read_text(encoding="utf-8")
    readme = (BASE_DIR / "README.md").read_text(encoding="utf-8")
    env = _compose()["services"]["web"]["environment"]

    unknown = [
        name
        for name in env
        if name != "DJANGO_SETTINGS_MODULE" and f'"{name}"' not in source and f'"{name}"' not in gunicorn
    ]
    undocumented = [
        name for name in env if f"`{name}`" not in readme and not name.startswith(("GUNICORN_", "DJANGO_"))
    ]
    assert unknown == []
    assert undocumented == []


def test_image_is_multi_stage_non_root_without_compiler_in_the_final_stage():
    stages = _dockerfile_stages()

    assert list(stages) == ["build", "runtime"]
    assert "build-essential" in stages["build"]
    final = stages["runtime"]
    assert not re.search(r"build-essential|\bgcc\b|\bcc\b|apt-get install", final)
    assert "COPY --from=build /opt/venv /opt/venv" in final
    users = re.findall(r"^USER (\S+)$", final, flags=re.M)
    assert users == ["ecandidat"]
    assert final.index("USER ecandidat") < final.index("CMD ")
    assert 'CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "ecandidat.wsgi"]' in final


def test_docker_context_leaves_out_the_local_state():
    ignored = (BASE_DIR / ".dockerignore").read_text(encoding="utf-8").split()

    assert {".git", ".venv", "var"} <= set(ignored)
