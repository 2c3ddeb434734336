"""Text messages to a citizen's reserved phone, through the backend SMS_BACKEND names.

In the manner of Django's EMAIL_BACKEND: "console" writes each message to the server's log, "file" one JSON
file per message in SMS_FILE_PATH, "locmem" keeps them in `outbox` for tests; any other value is the dotted
path of a provider backend (accounts.sms_tencent.TencentCloudSmsBackend), imported only when selected.
"""

import json
import logging
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

BUILT_IN = {
    "console": "accounts.sms.ConsoleBackend",
    "file": "accounts.sms.FileBackend",
    "locmem": "accounts.sms.LocmemBackend",
}

# Messages the locmem backend "sent", oldest first; tests read and clear it.
outbox = []


class SmsError(Exception):
    """The provider did not accept the message."""


@dataclass(frozen=True)
class Message:
    to: str
    purpose: str
    text: str
    # Empty for a message that carries no code (a notice that the reserved phone changed).
    code: str = ""
    # Provider template parameters, in the template's order.
    parameters: tuple = ()


class ConsoleBackend:
    def send(self, message):
        logger.warning("短信 → %s（%s）：%s", message.to, message.purpose, message.text)


class FileBackend:
    """Write one UTF-8 JSON file per message, named so that the files sort by the time they were sent."""

    def send(self, message):
        folder = Path(settings.SMS_FILE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
        payload = {key: value for key, value in asdict(message).items() if key != "parameters"}
        payload["sent_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        (folder / name).write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")


class LocmemBackend:
    _lock = threading.Lock()

    def send(self, message):
        with self._lock:
            outbox.append(message)


def get_backend():
    name = settings.SMS_BACKEND
    return import_string(BUILT_IN.get(name, name))()


def send(message):
    """Send one message through the configured backend; raises SmsError when the provider refuses it."""
    get_backend().send(message)
