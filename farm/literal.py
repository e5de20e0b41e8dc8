"""User text (shot, scene and prompt) carried through a farm job so the task gets it as typed.

Both farms rewrite the text of a job before a task runs it, with no way to escape:
Open Job Description evaluates `{{ ... }}` in every template string (task parameter values
included; only job parameter *values* are left alone), and Flamenco Manager replaces `{NAME}`
with its variable NAME in every command argument. So user text travels as a JSON string
literal whose braces and control characters are \\u escapes: it holds no `{` or `}` for either
farm to expand, no control character for OpenJD to refuse, and starts with `"`, so neither
argparse (a name like `-x`) nor a path-prefix rewrite can take it for something else.
farm/flamenco/blockcast.js writes the same encoding; the farm scripts decode it.
"""

import argparse
import json
import re

_ESCAPED = re.compile(r"[{}\x7f-\x9f]")  # json.dumps escapes \x00-\x1f itself


def encode(text):
    """'sh {{Param.X}}' -> '"sh \\u007b\\u007bParam.X\\u007d\\u007d"'."""
    return _ESCAPED.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(text, ensure_ascii=False))


def decode(argument):
    """The text `encode` (or blockcast.js) wrote; ValueError for anything else."""
    try:
        text = json.loads(argument)
    except ValueError:
        text = None
    if not isinstance(text, str):
        raise ValueError(f"{argument!r} is not a JSON string (as the farm job writers pass names and prompts)")
    return text


def argument_type(argument):
    """`decode` for argparse: a bad value is a usage error naming the option."""
    try:
        return decode(argument)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
