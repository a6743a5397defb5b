"""The one neutraliser of peer text: what it makes visible, what it breaks, what it keeps."""

from __future__ import annotations

import pytest

from ai_connect.text import agent, terminal
from ai_connect.text.neutral import TAG_MARK, neutralise, neutralise_data


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Boss\u200b", "Boss\\u200b"),  # zero-width space
        ("Bo\u200dss", "Bo\\u200dss"),  # a joiner between letters
        ("a\u200cb", "a\\u200cb"),  # a non-joiner outside Persian/Indic words
        ("\u2060x\ufeff", "\\u2060x\\ufeff"),  # word joiner, BOM
        ("ab\u00adc", "ab\\xadc"),  # soft hyphen
        ("\u202eevil\u202c", "\\u202eevil\\u202c"),  # bidi override
        ("\u2066x\u2069", "\\u2066x\\u2069"),  # bidi isolate
        ("\u3164", "\\u3164"),  # a filler that renders blank
        ("a\ufe00", "a\\ufe00"),  # variation selector
        ("\U000e0041\U000e0042", "\\U000e0041\\U000e0042"),  # tag characters: hidden ASCII
        ("x\U000e0100", "x\\U000e0100"),  # variation selector supplement
        ("\x1b[2J\x1b]0;t\x07", "\\x1b[2J\\x1b]0;t\\x07"),  # terminal escapes
        ("\x9b31m", "\\x9b31m"),  # the C1 CSI
        ("a\rb", "a\\x0db"),
        ("\ud800", "\\ud800"),  # a lone surrogate
    ],
)
def test_invisible_and_control_characters_become_visible_escapes(raw: str, shown: str) -> None:
    """Each becomes its escape, in one-line and multi-line fields alike."""
    assert neutralise(raw) == shown
    assert neutralise(raw, multiline=True) == shown


@pytest.mark.parametrize(
    "tag",
    [
        "<system-reminder>",
        "</system-reminder>",
        "<task-notification>",
        "</channel>",
        "<channel source='x'>",
        "< /Channel >",
        "<SYSTEM>",
        "<user>",
        "<assistant>",
        "<function_calls>",
        "<invoke name='x'>",
        "<invoke>",
        "<local-command-stdout>",
        "<user-prompt-submit-hook>",
        "<thinking>",
    ],
)
def test_framing_tags_lose_their_opening_bracket(tag: str) -> None:
    """The ``<`` of a tag a model reads as control becomes U+2039; the rest stays."""
    assert neutralise(tag) == TAG_MARK + tag[1:]
    assert "<" not in neutralise(f"text {tag} more", multiline=True)


def test_ordinary_text_and_code_pass_unchanged() -> None:
    """Accents, scripts, emoji sequences, code and HTML stay exactly as written."""
    for text in [
        "café 日本 Привет",
        "👩\u200d💻 👍🏽\u200d💻 ❤\ufe0f",  # joiners inside emoji sequences, emoji presentation
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # the non-joiner is Persian spelling
        "List<String> a; if (x < y) {}; <div class='user'>hi</div>; <users>",
        "vector<std::string> v; Map<K, V> m; a<b>c; x<my_var)",
    ]:
        assert neutralise(text, multiline=True) == text


def test_newlines_and_tabs_only_in_multiline_fields() -> None:
    """A one-line field (name, thread, path) cannot start a forged line."""
    assert neutralise("a\nb\tc") == "a\\x0ab\\x09c"
    assert neutralise("a\nb\tc", multiline=True) == "a\nb\tc"


def test_neutralise_is_idempotent() -> None:
    """Neutralised text passes again unchanged: surfaces may apply it at every layer."""
    hostile = "Boss\u200b <system-reminder>\x1b[2J</system-reminder>\n\U000e0041"
    once = neutralise(hostile, multiline=True)
    assert neutralise(once, multiline=True) == once
    assert neutralise(neutralise(hostile)) == neutralise(hostile)


def test_data_is_neutralised_at_every_depth() -> None:
    """Strings in dicts, lists and tuples (keys too); numbers and None untouched."""
    value = {"from": "Boss\u200b", "n": 3, "x": None, "list": ["<system-reminder>", ("\x1b",)]}
    assert neutralise_data(value) == {
        "from": "Boss\\u200b",
        "n": 3,
        "x": None,
        "list": [TAG_MARK + "system-reminder>", ["\\x1b"]],
    }


def test_every_text_layer_uses_the_one_function() -> None:
    """terminal.clean is neutralise; defang and attribute build on it."""
    assert terminal.clean is neutralise
    hostile = "Boss\u200b<task-notification>"
    assert terminal.defang(hostile) == neutralise(hostile, multiline=True)
    assert agent.attribute(hostile) == "Boss\\u200b\u2039task-notification\u203a"


def test_json_output_keeps_the_data_and_shows_no_tag() -> None:
    """to_json escapes ``<`` and non-ASCII: the text is inert, the parsed data exact."""
    import json

    value = {"body": "<system-reminder>Boss\u200b"}
    shown = terminal.to_json(value)
    assert "<" not in shown and "\u200b" not in shown
    assert json.loads(shown) == value
