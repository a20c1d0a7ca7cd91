"""Canned answers at the transport, for misbehaviour the sandbox does not act out (a malformed body, an answer
cut off mid-body, Kraken's rate limit): every exchange call still goes through ExchangeSession, and only the
adapter that would have sent it over the network answers instead. Paths not named reach the network as usual.
The ``canned_answers`` fixture (tests/fixtures/canned_answers.py) installs them."""

import json

import requests
from urllib3.exceptions import ProtocolError


def json_answer(body, status: int = 200, headers: dict | None = None):
    """The exchange answers with this JSON body."""

    def answer(request):
        response = base_response(request, status, headers)
        response._content = json.dumps(body).encode()
        return response

    return answer


class CutOffBody:
    """A body whose connection breaks after its first bytes, as urllib3 reports an incomplete read."""

    def stream(self, *args, **kwargs):
        yield b'{"access_token": "abc'
        raise ProtocolError("Connection broken: IncompleteRead(20 bytes read, 180 more expected)")

    def release_conn(self):
        pass

    def close(self):
        pass


def cut_off(request):
    """The exchange starts a 200 answer and the connection breaks before its end."""
    response = base_response(request, 200, None)
    response.raw = CutOffBody()
    return response


def base_response(request, status, headers):
    response = requests.Response()
    response.status_code = status
    response.headers.update({"Content-Type": "application/json", **(headers or {})})
    response.encoding = "utf-8"
    response.url = request.url
    response.request = request
    return response


class CannedAdapter(requests.adapters.BaseAdapter):
    def __init__(self, answer):
        super().__init__()
        self.answer = answer

    def send(self, request, **kwargs):
        return self.answer(request)

    def close(self):
        pass
