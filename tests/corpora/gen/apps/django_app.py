"""A one-file Django project, served by ``runserver`` with Django's default LOGGING."""

from __future__ import annotations

import logging
import sys

import failures
from django.conf import settings
from django.http import HttpResponse
from django.urls import path

settings.configure(
    DEBUG=True,
    SECRET_KEY="corpora-not-secret",
    ALLOWED_HOSTS=["127.0.0.1"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[f"{__name__}.request_middleware"],
    INSTALLED_APPS=[],
    USE_TZ=True,
)

log = logging.getLogger("corpora.app")  # no handlers: logging.lastResort prints it bare


def request_middleware(get_response):  # type: ignore[no-untyped-def]
    def middleware(request):  # type: ignore[no-untyped-def]
        failures.set_request(request.method, request.path)
        try:
            return get_response(request)
        finally:
            failures.set_request(None)
    return middleware


def ok(request) -> HttpResponse:  # type: ignore[no-untyped-def]
    return HttpResponse("ok")


def simple(request, wid: str) -> HttpResponse:  # type: ignore[no-untyped-def]
    return HttpResponse(failures.simple(wid))


def chain(request, oid: str) -> HttpResponse:  # type: ignore[no-untyped-def]
    return HttpResponse(failures.explicit_chain(oid))


def implicit(request, count: str) -> HttpResponse:  # type: ignore[no-untyped-def]
    return HttpResponse(str(failures.implicit_chain(count)))


def logged(request) -> HttpResponse:  # type: ignore[no-untyped-def]
    return HttpResponse(failures.logged_exception(log))


def warned(request, attempt: str) -> HttpResponse:  # type: ignore[no-untyped-def]
    return HttpResponse(failures.warned(log, attempt))


def upload(request) -> HttpResponse:  # type: ignore[no-untyped-def]
    return HttpResponse(failures.post_fail(request.body))


urlpatterns = [
    path("ok", ok),
    path("simple/<str:wid>", simple),
    path("chain/<str:oid>", chain),
    path("implicit/<str:count>", implicit),
    path("logged", logged),
    path("warned/<str:attempt>", warned),
    path("upload", upload),
]

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(["django_app", "runserver", "--noreload", f"127.0.0.1:{sys.argv[1]}"])
