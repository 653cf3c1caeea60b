"""Request size limits, applied before a body is received (#15).

Django's own limits (DATA_UPLOAD_MAX_MEMORY_SIZE) cover form fields, not files: an upload of any
size would be streamed to a temporary file in full before a form could say it is too large. Here:

* ``RequestSizeLimitMiddleware`` answers 413 from the Content-Length header alone, before anything
  reads the body (it runs before CSRF and sessions touch ``request.POST``);
* ``LimitedUploadHandler`` counts what actually arrives, for a client that sends no Content-Length or
  more than it said, and stops the upload at the limit.

The limit is the largest file (MAX_UPLOAD_MEGABYTES) plus room for the form's other fields.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpResponse

#: Room for the multipart framing and the form's other fields around the largest file.
FORM_OVERHEAD_BYTES = 1024 * 1024


def max_request_bytes() -> int:
    return settings.MAX_UPLOAD_MEGABYTES * 1024 * 1024 + FORM_OVERHEAD_BYTES


def too_large_response() -> HttpResponse:
    return HttpResponse(
        f"The upload is too large: files may be at most {settings.MAX_UPLOAD_MEGABYTES} MB. "
        "Go back and choose a smaller file.",
        status=413,
        content_type="text/plain; charset=utf-8",
    )


class RequestSizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > max_request_bytes():
            return too_large_response()
        return self.get_response(request)


class LimitedUploadHandler(FileUploadHandler):
    """First of FILE_UPLOAD_HANDLERS: passes every chunk on, and stops the upload past the limit."""

    def __init__(self, request=None):
        super().__init__(request)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > max_request_bytes():
            # connection_reset: stop reading the rest of the body instead of draining it.
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size):
        return None
