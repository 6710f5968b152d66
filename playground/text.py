"""Echo what a visitor typed, uploaded or put in a link as plain text, never as Markdown or HTML.

Streamlit renders Markdown (links, images, HTML, colours, icons, formulas) in nearly every text
element, and it turns a bare address into a link even when every character is escaped. A code
span is the one construct in which Markdown shows each character as it is, so user text goes
into one, on one line and cut to a readable length.
"""
import re


def literal(value, limit: int = 60) -> str:
    """Return ``value`` as a Markdown code span that shows it character for character.

    >>> literal("[Sign in](http://example.org)")
    '` [Sign in](http://example.org) `'
    """
    text = re.sub(r"\s+", " ", str(value)).strip()  # one line: no paragraphs, no indented blocks
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)  # a fence longer than any run of backticks inside
    return f"{fence} {text} {fence}"
