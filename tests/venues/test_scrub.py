"""Keys are scrubbed in every form a venue or a proxy may echo them (issue 10, finding 8 "Secrets").

A recorded Binance USDⓈ-M on 127.0.0.1 answers the signed positions request with an error body that
echoes the API key the real ccxt client sent (or the secret, as a proxy that saw it might), in one
form per case; the key in that form must be absent from the raised error, from every log record
and from the CLI's stderr, and the markers around it must show that the echo did reach the error.
"""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote, quote_plus

import pytest

from isodesk.cli import main
from isodesk.desk.venue_sync import import_from_venue
from isodesk.venues import MalformedResponse, VenueError
from isodesk.venues.client import make_client
from isodesk.venues.keys import save_credentials
from isodesk.venues.marks import fetch_marks
from isodesk.venues.registry import venue_spec
from isodesk.venues.scrub import PARTIAL_RUN, Scrubber, forms
from tests.venues.server import recorded

# characters each encoding changes: / + " \ = & (and é in the secret: UTF-8 %C3%A9, JSON \u00e9)
KEY = 'Ak/+9"x\\Q=wLmN3&pR7tZ5-Yv8Kd2Hs4Jq'
SECRET = 'Sé/cr+et"9\\Wq=Lm&4Tp7Rv2Nc8Yh5Bd'
TS = 1_735_689_600.0


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# (case id, the text the venue echoes): each a form the scrubber must catch
ECHOES = [
    ("exact", KEY),
    ("url-quote", quote(KEY, safe="")),
    ("url-quote-keep-slash", quote(KEY)),
    ("url-quote-plus", quote_plus(KEY)),
    ("url-quote-lower-hex", quote(KEY, safe="").lower()),
    ("upper", KEY.upper()),
    ("lower", KEY.lower()),
    ("json-escaped", json.dumps(KEY)[1:-1]),
    ("json-escaped-slash", json.dumps(KEY)[1:-1].replace("/", "\\/")),
    ("python-repr", repr(KEY)[1:-1]),
    ("base64", _b64(KEY)),
    ("base64-urlsafe", base64.urlsafe_b64encode(KEY.encode()).decode()),
    ("basic-auth", _b64(f"{KEY}:{SECRET}")),  # a proxy echoing Authorization: Basic base64(key:secret)
    ("prefix-10", KEY[:10]),  # a venue that shows the start of the key it refused
    ("middle-8", KEY[11:11 + PARTIAL_RUN]),
    ("suffix-9-upper", KEY[-9:].upper()),
    ("secret-url-quote", quote(SECRET)),
    ("secret-json-ascii", json.dumps(SECRET)[1:-1]),
    ("secret-json-utf8", json.dumps(SECRET, ensure_ascii=False)[1:-1]),
    ("secret-partial-lower", SECRET[3:15].lower()),
]


def _leaks(text: str, echoed: str) -> list[str]:
    """Which of the echoed text, the key and the secret (as given) appear in ``text``."""
    return [s for s in (echoed, KEY, SECRET) if s in text]


def _masked_echo(text: str, case: str = "") -> bool:
    """True if the echo between ``<<`` and ``>>`` reached ``text`` and was masked: nothing left of it
    but, in base64 of ``key:secret``, the 2 characters that encode the ``:`` with bits of its neighbours
    and the last character with the padding."""
    found = re.search(r"<<(.*?)>>", text)
    left = 4 if case == "basic-auth" else 0
    return found is not None and "***" in found[1] and len(found[1].replace("***", "")) <= left


@pytest.fixture
def echoing(binance, memory_keyring):
    """Binance with our keys, whose positions endpoint refuses the key and echoes ``echoing.state["echo"]``."""
    save_credentials(venue_spec("binance-usdm"), {"apiKey": KEY, "secret": SECRET})
    state = {"echo": KEY, "status": 401}

    def refuse(query, body):
        with binance.lock:
            sent = binance.requests[-1].headers.get("X-MBX-APIKEY")
        assert sent == KEY  # the real ccxt client sent the key from the keyring
        echo = state["echo"].encode()
        return state["status"], b'{"code":-2015,"msg":"Invalid API-key, IP, or permissions <<' + echo + b'>>"}'

    binance.route("GET", "/fapi/v2/positionRisk", refuse)
    binance.state = state
    return binance


@pytest.mark.parametrize(("case", "echoed"), ECHOES, ids=[c for c, _ in ECHOES])
def test_an_echoed_key_is_scrubbed_from_the_error_and_the_logs(echoing, store, catalog, debug_logs, case, echoed):
    caplog = debug_logs
    echoing.state["echo"] = echoed
    with pytest.raises(VenueError) as info:
        import_from_venue(store, "binance-usdm", catalog, ts=TS, base_url=echoing.url)
    text = str(info.value)
    assert "the venue refused the API key" in text and _masked_echo(text, case)  # the echo reached the error, masked
    assert _leaks(text + repr(info.value), echoed) == []
    assert info.value.__context__ is None and info.value.__cause__ is None
    logged = "\n".join([r.getMessage() for r in caplog.records] + [repr(r.args) for r in caplog.records])
    assert "positionRisk" in logged and _masked_echo(logged, case)  # ccxt's response log was captured, scrubbed
    assert _leaks(logged, echoed) == []
    assert store.positions(statuses=None) == []


@pytest.mark.parametrize(("case", "echoed"), ECHOES, ids=[c for c, _ in ECHOES])
def test_an_echoed_key_is_scrubbed_from_the_cli_stderr(echoing, tmp_path, capsys, case, echoed):
    echoing.state["echo"] = echoed
    code = main(["import", "--venue", "binance-usdm", "--base-url", echoing.url, "--db", str(tmp_path / "b.db")])
    out = capsys.readouterr()
    assert code == 2 and _masked_echo(out.err, case) and "Traceback" not in out.err
    assert _leaks(out.out + out.err, echoed) == []


@pytest.mark.parametrize(("status", "echoed"), [
    (200, quote(KEY) + " " + json.dumps(KEY.lower())[1:-1]),  # an error body in a 200 (ccxt parses it)
    (500, quote(KEY) + " " + json.dumps(KEY.lower())[1:-1]),  # ccxt's generic HTTP error, body quoted
    (502, KEY.lower() + '"' + quote_plus(KEY)),  # a proxy's answer that is not even JSON
])
def test_the_echo_is_scrubbed_whatever_the_status(echoing, store, catalog, status, echoed):
    echoing.state.update(status=status, echo=echoed)
    with pytest.raises(VenueError) as info:
        import_from_venue(store, "binance-usdm", catalog, ts=TS, base_url=echoing.url)
    text = str(info.value)
    assert "<<***" in text and "***>>" in text
    assert [f for f in (quote(KEY), quote_plus(KEY), KEY.lower(), json.dumps(KEY.lower())[1:-1]) if f in text] == []


@pytest.mark.parametrize("echoed", [KEY, KEY.lower(), quote(KEY, safe="")])
def test_a_key_echoed_inside_a_position_is_scrubbed_from_the_refusal(binance, memory_keyring, store, catalog,
                                                                     positions_body, echoed):
    """A malformed answer is refused quoting the field: the quote is scrubbed too."""
    save_credentials(venue_spec("binance-usdm"), {"apiKey": KEY, "secret": SECRET})
    positions_body[0]["symbol"] = echoed
    binance.route("GET", "/fapi/v2/positionRisk", positions_body)
    with pytest.raises(MalformedResponse) as info:
        import_from_venue(store, "binance-usdm", catalog, ts=TS, base_url=binance.url)
    assert info.value.field == "symbol" and info.value.venue == "binance-usdm"
    assert "***" in str(info.value) and _leaks(str(info.value) + repr(info.value), echoed) == []
    assert info.value.__context__ is None


def test_a_key_echoed_as_a_mark_price_is_scrubbed_from_the_problems(binance):
    marks = recorded("binance-usdm", "premiumIndex")
    for item in marks:
        item["markPrice"] = KEY.upper()
    binance.route("GET", "/fapi/v1/premiumIndex", marks)
    client = make_client(venue_spec("binance-usdm"), credentials={"apiKey": KEY, "secret": SECRET},
                         base_url=binance.url)
    try:
        client.load_markets()
        with pytest.raises(VenueError, match="no usable price") as info:
            fetch_marks(client, {"BTCUSDT": "BTC/USDT:USDT", "ETHUSDT": "ETH/USDT:USDT"})
    finally:
        client.close()
    assert "***" in str(info.value) and KEY.upper() not in str(info.value)


# the rule itself, without a venue


def test_every_form_of_a_secret_is_masked_in_any_case():
    scrub = Scrubber([KEY, SECRET])
    for form in forms(KEY) | forms(SECRET):
        for shown in (form, form.upper(), form.lower()):
            assert scrub(f"[{shown}]") == "[***]", (form, shown)


def test_base64_is_found_at_every_alignment_inside_a_longer_value():
    scrub = Scrubber([KEY])
    for prefix in ("", "a", "ab", "abc", "user:"):
        encoded = _b64(prefix + KEY + ":tail")
        out = scrub(encoded)
        assert "***" in out and encoded not in out
        # what is left is at most the characters that also encode the neighbours of the key
        assert len(out.replace("***", "")) <= len(_b64(prefix)) + len(_b64(":tail")) + 4


def test_runs_of_eight_or_more_characters_are_masked_and_shorter_runs_kept():
    scrub = Scrubber([KEY])
    for start in range(len(KEY) - PARTIAL_RUN + 1):
        run = KEY[start:start + PARTIAL_RUN]
        assert scrub(f"<{run}>") == "<***>", run
    assert scrub("<" + KEY[11:11 + PARTIAL_RUN - 1] + ">") == "<" + KEY[11:11 + PARTIAL_RUN - 1] + ">"
    # a message around the key keeps its words
    assert scrub(f"key {KEY[:12]}… was refused at 2025-01-01 12:00") == "key ***… was refused at 2025-01-01 12:00"


def test_a_short_secret_is_masked_whole_never_by_fragments():
    scrub = Scrubber(["Pa5s"])
    assert scrub("passphrase PA5S wrong; pa5s%21") == "passphrase *** wrong; ***%21"
    assert scrub("Pa5") == "Pa5"
    assert Scrubber(["abc"])("abc") == "abc"  # below MIN_SECRET: nothing to mask


def test_query_strings_and_signatures_are_masked_without_secrets():
    out = Scrubber()("GET https://fapi.binance.com/fapi/v2/positionRisk?timestamp=1&signature=abc sign: 'xyz'")
    assert out == "GET https://fapi.binance.com/fapi/v2/positionRisk?… sign: '***'"


def test_non_ascii_text_keeps_its_positions():
    scrub = Scrubber([KEY])
    text = f"İstanbul ß {KEY.upper()} ﬁn"
    assert scrub(text) == "İstanbul ß *** ﬁn"
