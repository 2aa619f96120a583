"""`isodesk keys set|delete VENUE` and the keyring behind it (issue 10, finding 8 "Secrets").

Every keyring failure is one line and exit 2, end of input or Ctrl-C at a prompt saves nothing and
says so in one line; never a traceback. The keyring is a fake backend (``keyring.set_keyring``) or,
in a subprocess, keyring's own failing backend: no test touches the user's real keyring.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import (
    InitError,
    KeyringError,
    KeyringLocked,
    NoKeyringError,
    PasswordDeleteError,
    PasswordSetError,
)

from isodesk.cli import main
from isodesk.venues import VenueError
from isodesk.venues.keys import delete_credentials, load_credentials, save_credentials
from isodesk.venues.registry import venue_spec
from tests.venues.conftest import API_KEY, API_SECRET

ROOT = Path(__file__).resolve().parents[2]
NOTHING_SAVED = "isodesk keys: no key entered; nothing saved"


class BrokenKeyring(KeyringBackend):
    """A keyring whose ``fails`` operations ("get", "set", "delete") raise ``error``."""

    priority = 1  # type: ignore[assignment]

    def __init__(self, fails: set[str], error: BaseException, stored: str | None = None) -> None:
        super().__init__()
        self.fails, self.error, self.stored = fails, error, stored

    def _maybe_fail(self, operation: str) -> None:
        if operation in self.fails:
            raise self.error

    def get_password(self, service: str, username: str) -> str | None:
        self._maybe_fail("get")
        return self.stored

    def set_password(self, service: str, username: str, password: str) -> None:
        self._maybe_fail("set")
        self.stored = password

    def delete_password(self, service: str, username: str) -> None:
        self._maybe_fail("delete")
        self.stored = None


ERRORS = [
    KeyringError("the keyring said no"),
    NoKeyringError("No recommended backend was available."),
    KeyringLocked("Failed to unlock the keyring!"),
    InitError("the backend could not start"),
    PasswordSetError("cannot set"),
    PasswordDeleteError("Password not found"),
    RuntimeError("org.freedesktop.DBus.Error.ServiceUnknown: The name is not activatable"),
    OSError(13, "Permission denied"),
    ValueError("first line of a long story\nsecond line\nthird line"),
]
IDS = [type(e).__name__ for e in ERRORS]


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def piped(monkeypatch):
    """Standard input as a pipe carrying the given text."""
    def feed(text: str) -> None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    return feed


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def terminal(monkeypatch):
    """Standard input as a terminal whose hidden prompt (getpass) answers from ``answers`` or raises."""
    def answer(*answers: object) -> None:
        given = iter(answers)

        def fake_getpass(prompt: str = "") -> str:
            value = next(given)
            if isinstance(value, BaseException):
                raise value
            return str(value)

        monkeypatch.setattr(sys, "stdin", _Terminal())
        monkeypatch.setattr("getpass.getpass", fake_getpass)
    return answer


# ---- keyring failures: one line, exit 2


@pytest.mark.parametrize("error", ERRORS, ids=IDS)
def test_keys_delete_on_a_keyring_that_cannot_be_read_is_one_line(capsys, error):
    keyring.set_keyring(BrokenKeyring({"get", "delete"}, error))
    code, out, err = run(capsys, "keys", "delete", "binance-usdm")
    line = _one_line(err)
    assert code == 2 and out == ""
    assert line.startswith("isodesk keys: binance-usdm: cannot read the system keyring (")
    assert type(error).__name__ in line


@pytest.mark.parametrize("error", ERRORS, ids=IDS)
def test_keys_delete_that_the_keyring_refuses_is_one_line(capsys, error):
    ring = BrokenKeyring({"delete"}, error, stored=json.dumps({"apiKey": API_KEY, "secret": API_SECRET}))
    keyring.set_keyring(ring)
    code, out, err = run(capsys, "keys", "delete", "binance-usdm")
    line = _one_line(err)
    assert code == 2 and out == ""
    assert line.startswith("isodesk keys: binance-usdm: cannot delete the keys from the system keyring (")
    assert ring.stored is not None  # still there, and the user was told


@pytest.mark.parametrize("error", ERRORS, ids=IDS)
def test_keys_set_on_a_keyring_that_cannot_be_written_is_one_line(capsys, piped, error):
    keyring.set_keyring(BrokenKeyring({"set"}, error))
    piped(f"{API_KEY}\n{API_SECRET}\n")
    code, out, err = run(capsys, "keys", "set", "binance-usdm")
    assert code == 2 and out == "" and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("isodesk keys: binance-usdm: cannot write the keys to the system keyring (")
    assert [line for line in err.splitlines() if line.startswith("isodesk keys:")] == [last]


def test_a_backend_that_quotes_what_it_was_given_is_scrubbed(capsys, piped):
    payload = json.dumps({"apiKey": API_KEY, "secret": API_SECRET})
    keyring.set_keyring(BrokenKeyring({"set"}, PasswordSetError(f"refused to store {payload}")))
    piped(f"{API_KEY}\n{API_SECRET}\n")
    code, _, err = run(capsys, "keys", "set", "binance-usdm")
    assert code == 2 and "refused to store" in err
    assert API_KEY not in err and API_SECRET not in err


def test_the_keyring_functions_raise_venue_errors_without_context():
    spec = venue_spec("binance-usdm")
    keyring.set_keyring(BrokenKeyring({"get", "set", "delete"}, KeyringLocked("locked")))
    for call in (lambda: load_credentials(spec), lambda: delete_credentials(spec),
                 lambda: save_credentials(spec, {"apiKey": API_KEY, "secret": API_SECRET})):
        with pytest.raises(VenueError) as info:
            call()
        assert re.fullmatch(r"binance-usdm: cannot .* system keyring \(KeyringLocked: locked\).*", str(info.value))
        assert info.value.__context__ is None


# ---- end of input and Ctrl-C at the prompt: nothing saved


@pytest.mark.parametrize("given", ["", f"{API_KEY}\n", API_KEY],
                         ids=["nothing", "key-but-no-secret", "key-without-newline"])
def test_end_of_input_at_the_prompt_saves_nothing(memory_keyring, capsys, piped, given):
    previous = json.dumps({"apiKey": "old-key-0000", "secret": "old-secret-0000"})
    memory_keyring.entries[("isodesk", "binance-usdm")] = previous
    piped(given)
    code, out, err = run(capsys, "keys", "set", "binance-usdm")
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.strip().splitlines()[-1] == NOTHING_SAVED
    assert memory_keyring.entries == {("isodesk", "binance-usdm"): previous}  # untouched


def test_closed_stdin_saves_nothing(memory_keyring, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", None)
    code, _, err = run(capsys, "keys", "set", "bybit")
    assert code == 2 and err.strip().splitlines()[-1] == NOTHING_SAVED and memory_keyring.entries == {}
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stdin", closed)
    code, _, err = run(capsys, "keys", "set", "bybit")
    assert code == 2 and err.strip().splitlines()[-1] == NOTHING_SAVED and memory_keyring.entries == {}


@pytest.mark.parametrize(("answers", "code"), [
    ((EOFError(),), 2),
    ((API_KEY, EOFError()), 2),
    ((KeyboardInterrupt(),), 130),
    ((API_KEY, KeyboardInterrupt()), 130),
], ids=["eof", "eof-at-secret", "ctrl-c", "ctrl-c-at-secret"])
def test_end_of_input_or_ctrl_c_at_the_hidden_prompt_saves_nothing(memory_keyring, capsys, terminal, answers, code):
    terminal(*answers)
    try:
        got, out, err = run(capsys, "keys", "set", "binance-usdm")
    except KeyboardInterrupt:  # would stop the test run itself
        pytest.fail("Ctrl-C at the prompt escaped the command as a traceback")
    assert got == code and out == ""
    assert _one_line(err) == NOTHING_SAVED
    assert memory_keyring.entries == {}


def test_keys_set_at_a_terminal_prompts_hidden_and_saves(memory_keyring, capsys, terminal):
    terminal(f"  {API_KEY} ", API_SECRET)
    code, out, err = run(capsys, "keys", "set", "binance-usdm")
    assert code == 0 and "saved in the system keyring" in out and err == ""
    assert json.loads(memory_keyring.entries[("isodesk", "binance-usdm")]) == {"apiKey": API_KEY, "secret": API_SECRET}


# ---- the real command, in a process of its own


def _isodesk(*argv: str, stdin: int | None = subprocess.DEVNULL, shell_suffix: str = "",
             backend: str = "keyring.backends.fail.Keyring") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": backend, "PYTHONWARNINGS": "default"}
    command = [sys.executable, "-m", "isodesk", *argv]
    if shell_suffix:
        command = ["sh", "-c", 'exec "$@" ' + shell_suffix, "sh", *command]
    return subprocess.run(command, cwd=ROOT, env=env, stdin=stdin, capture_output=True, text=True, timeout=60)


def test_the_command_with_stdin_at_end_and_closed_says_one_line_and_exits_2():
    memory = "tests.venues.conftest.MemoryKeyring"  # a usable keyring: the prompts are reached
    for done in (_isodesk("keys", "set", "bybit", backend=memory),
                 _isodesk("keys", "set", "bybit", stdin=None, shell_suffix="<&-", backend=memory)):
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and "GetPassWarning" not in done.stderr
        assert done.stderr.strip().splitlines() == ["bybit API key:", NOTHING_SAVED]


def test_the_command_on_a_system_without_a_keyring_says_what_to_install_and_exits_2():
    # issue 12: "NoKeyringError … set them with `isodesk keys set`", which failed the same way
    done = _isodesk("keys", "delete", "bybit")
    assert done.returncode == 2 and done.stdout == ""
    line = _one_line(done.stderr)
    assert line.startswith("isodesk keys: bybit: cannot delete API keys: no system keyring was found; install")
    if sys.platform.startswith("linux"):
        assert "gnome-keyring" in line and "KWallet" in line
    assert "isodesk keys set" not in line
    # set says it before asking for any key (nothing typed in vain)
    done = _isodesk("keys", "set", "bybit", stdin=None)
    assert done.returncode == 2 and done.stdout == ""
    line = _one_line(done.stderr)
    assert line.startswith("isodesk keys: bybit: nothing saved: no system keyring was found; install")
