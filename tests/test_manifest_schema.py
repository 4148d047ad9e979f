"""The JSON Schema editors use: generated from the validating models, shipped in manifests/, accepts
every example and rejects what load_manifest rejects."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from batchavatars.errors import ManifestError
from batchavatars.manifest import SCHEMA_URL, load_manifest, manifest_json_schema, starter_manifest

MANIFESTS = Path(__file__).resolve().parent.parent / "manifests"
SHIPPED = MANIFESTS / "batchavatars.schema.json"
EXAMPLES = sorted(MANIFESTS.glob("*.yaml"))
MODELINE = "# yaml-language-server: $schema=./batchavatars.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(manifest_json_schema())


def test_shipped_schema_is_the_generated_one() -> None:
    shipped = json.loads(SHIPPED.read_text(encoding="utf-8"))
    assert shipped == manifest_json_schema(), (
        "manifests/batchavatars.schema.json is stale: regenerate it with "
        "`python -m batchavatars.manifest.schema > manifests/batchavatars.schema.json`"
    )


def test_schema_is_draft_2020_12() -> None:
    schema = manifest_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_URL


def test_every_object_forbids_unknown_fields_and_fields_are_described() -> None:
    schema = manifest_json_schema()
    objects = [schema] + [d for d in schema["$defs"].values() if d.get("type") == "object"]
    assert len(objects) >= 10
    for obj in objects:
        assert obj["additionalProperties"] is False, obj.get("title")
        assert obj.get("title") and obj.get("description"), obj
        for name, prop in obj["properties"].items():
            described = prop.get("description") or prop.get("$ref") or prop.get("const")
            assert prop.get("title") or "$ref" in prop or name == "type", (obj["title"], name)
            assert described or name in ("key",), (obj["title"], name)


def test_manifest_json_schema_returns_a_copy() -> None:
    manifest_json_schema()["properties"].clear()
    assert "avatars" in manifest_json_schema()["properties"]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_validate_against_the_schema(path: Path, validator: jsonschema.Draft202012Validator) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == MODELINE
    errors = [e.message for e in validator.iter_errors(yaml.safe_load(text))]
    assert errors == []
    load_manifest(path)  # and the loader agrees


def test_examples_exist() -> None:
    assert {p.name for p in EXAMPLES} >= {"example.yaml", "roster.yaml"}


def test_starter_validates_against_the_schema(validator: jsonschema.Draft202012Validator) -> None:
    text = starter_manifest()
    assert text.splitlines()[0] == f"# yaml-language-server: $schema={SCHEMA_URL}"
    assert list(validator.iter_errors(yaml.safe_load(text))) == []


BASE = """
    version: 1
    avatars:
      - key: ava
        type: photo
        name: Ava
        file: https://cdn.example.com/ava.jpg
      - key: nova
        type: prompt
        name: Nova
        prompt: A starship captain
      - key: sam
        type: digital_twin
        name: Sam
        file: {url: https://cdn.example.com/sam.mp4}
        consent: {reroute_url: https://example.com/thanks}
    looks:
      - key: ava-office
        avatar: ava
        name: Ava, office
        prompt: Office
    look_templates:
      - for_each: [ava, nova]
        key: "{avatar}-beach"
        name: "{name}, beach"
        prompt: Beach
    """

# (id, old text, new text): each turns BASE into a manifest both the schema and the loader reject.
BROKEN = [
    ("unknown-field", "prompt: A starship captain", "promt: A starship captain"),
    ("unknown-top-level", "looks:", "look:"),
    ("unknown-in-file", "{url: https://cdn.example.com/sam.mp4}", "{url: https://cdn.example.com/sam.mp4, size: 3}"),
    ("unknown-in-consent", "{reroute_url: https://example.com/thanks}", "{reroute: https://example.com/thanks}"),
    ("unknown-in-template", "prompt: Beach", "prompt: Beach\n    colour: red"),
    ("wrong-type-name", "name: Ava\n", "name: 42\n"),
    ("wrong-type-avatars", "avatars:\n", "avatars: 3\nx_avatars:\n"),
    ("wrong-type-file", "file: https://cdn.example.com/ava.jpg", "file: [https://cdn.example.com/ava.jpg]"),
    ("missing-name", "    name: Ava\n", ""),
    ("missing-file", "    file: https://cdn.example.com/ava.jpg\n", ""),
    ("missing-prompt", "    prompt: A starship captain\n", ""),
    ("missing-version", "version: 1\n", ""),
    ("bad-version", "version: 1", "version: 2"),
    ("bad-type-enum", "type: photo", "type: picture"),
    ("bad-key-pattern", "key: ava\n", "key: Ava\n"),
    ("key-too-long", "key: nova", "key: " + "n" * 65),
    ("bad-group-pattern", "consent:", "group: Not A Key\n    consent:"),
    ("prompt-too-long", "prompt: A starship captain", "prompt: " + "x" * 1001),
    ("name-too-long", "name: Nova", "name: " + "x" * 256),
    ("empty-name", "name: Ava\n", "name: ''\n"),
    (
        "file-on-prompt",
        "prompt: A starship captain",
        "prompt: A starship captain\n    file: https://cdn.example.com/x.jpg",
    ),
    (
        "consent-on-photo",
        "file: https://cdn.example.com/ava.jpg",
        "file: https://cdn.example.com/ava.jpg\n    consent: {}",
    ),
    (
        "too-many-reference-images",
        "prompt: A starship captain",
        "prompt: A starship captain\n    reference_images: [a.png, b.png, c.png, d.png]",
    ),
    ("url-not-http", "{url: https://cdn.example.com/sam.mp4}", "{url: ftp://cdn.example.com/sam.mp4}"),
    ("group-and-group-id", "consent:", "group: ava\n    avatar_group_id: g1\n    consent:"),
    ("look-both-parents", "avatar: ava\n", "avatar: ava\n    avatar_id: look_1\n"),
    ("look-no-parent", "    avatar: ava\n", ""),
    ("for-each-bad", "for_each: [ava, nova]", "for_each: everyone"),
    ("for-each-filter-bad", "for_each: [ava, nova]", "for_each: {type: picture}"),
    ("null-list", "look_templates:\n", "look_templates:\nx_look_templates:\n"),
    ("avatars-from-empty", "version: 1\n", "version: 1\navatars_from: ''\n"),
]


def test_base_is_valid(tmp_path: Path, validator: jsonschema.Draft202012Validator) -> None:
    text = textwrap.dedent(BASE)
    assert list(validator.iter_errors(yaml.safe_load(text))) == []
    (tmp_path / "m.yaml").write_text(text)
    assert len(load_manifest(tmp_path / "m.yaml").items) == 6


@pytest.mark.parametrize("old,new", [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_schema_and_loader_reject_broken_manifests(
    tmp_path: Path, validator: jsonschema.Draft202012Validator, old: str, new: str
) -> None:
    base = textwrap.dedent(BASE)
    assert base.count(old) == 1, f"{old!r} must occur once in BASE"
    text = base.replace(old, new)
    doc: Any = yaml.safe_load(text)
    assert list(validator.iter_errors(doc)), "the schema accepted it"
    (tmp_path / "m.yaml").write_text(text)
    with pytest.raises(ManifestError):
        load_manifest(tmp_path / "m.yaml")


def test_extension_fields_are_allowed_by_both(tmp_path: Path, validator: jsonschema.Draft202012Validator) -> None:
    text = textwrap.dedent(BASE).replace("version: 1\n", "version: 1\nx-note: anything goes here\n")
    assert list(validator.iter_errors(yaml.safe_load(text))) == []
    (tmp_path / "m.yaml").write_text(text)
    load_manifest(tmp_path / "m.yaml")
