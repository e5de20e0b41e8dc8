"""scripts/check_contract_fields.py: it knows take.json's and bundle.json's field names from the
records, and finds them where code uses a literal as a key, not in docstrings or prose."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import check_contract_fields as checker  # noqa: E402


def test_the_field_names_come_from_the_records():
    fields = checker.contract_fields()
    assert {"negative_prompt", "requested_size", "backend_settings", "frame_start", "look_seed"} <= set(fields)
    assert "TakeParameters" in fields["steps"] and not checker.BOOKKEEPING & set(fields)


def test_literals_used_as_keys_are_found_and_prose_is_not(tmp_path):
    source = tmp_path / "reader.py"
    source.write_text('"""Reads steps."""\n'
                      'def steps(record):\n'
                      '    """The steps."""\n'
                      '    label = "steps"\n'
                      '    return record["parameters"].get("steps"), {"seed": 1}, "prompt" in record, label\n')
    assert sorted(checker.literals(source, keys_only=True)) == [(5, "parameters"), (5, "prompt"), (5, "seed"),
                                                                 (5, "steps")]
    assert (4, "steps") in list(checker.literals(source, keys_only=False))
