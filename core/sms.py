"""Text messages (SMS) to mobile numbers, through a backend chosen by ``SMS_BACKEND``.

- ``core.sms.ConsoleBackend`` (the default): writes the message to the ``core.sms`` log
  (the run command's console), standing in for an SMS gateway in development.
- ``core.sms.LocmemBackend``: keeps the messages in ``core.sms.outbox`` (tests read it).

A production backend is a class with ``send(phone, text)``; name it in ``SMS_BACKEND``.
Messages are sent after the caller's transaction commits (``send_sms_on_commit``), so a
rolled-back action never texts anyone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    phone: str
    text: str


outbox: list[Message] = []


class ConsoleBackend:
    def send(self, phone: str, text: str) -> None:
        log.warning("SMS to %s: %s", phone, text)


class LocmemBackend:
    def send(self, phone: str, text: str) -> None:
        outbox.append(Message(phone, text))


def backend():
    return import_string(getattr(settings, "SMS_BACKEND", "core.sms.ConsoleBackend"))()


def send_sms(phone: str, text: str) -> None:
    backend().send(phone, text)


def send_sms_on_commit(phone: str, text: str) -> None:
    transaction.on_commit(lambda: send_sms(phone, text))
