"""The manifest stage: the bad-input catalogue (message AND line:col), the examples loading into the
expected ItemSpecs, templates, CSV rosters, cycles, duplicates, local files."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import pytest

from batchavatars.errors import ManifestError
from batchavatars.manifest import Manifest, load_manifest, starter_manifest
from batchavatars.spec import FileRef, ItemSpec, Location

from .manifests import PHOTO, block, manifest, photo, photo_block, prompt_block, template
from .media import jpeg_bytes, png_bytes

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = ROOT / "manifests"


def write(tmp_path: Path, text: str, name: str = "m.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems_of(path: Path) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    return info.value


def assert_problem(err: ManifestError, substring: str, line: int, col: int, file: str | None = None) -> None:
    for p in err.problems:
        at = p.location
        here = at is not None and (at.line, at.col) == (line, col) and (file is None or at.file.endswith(file))
        if here and substring in str(p):
            return
    listing = "\n".join(f"  {p}" for p in err.problems)
    raise AssertionError(f"no problem with {substring!r} at {line}:{col}; got:\n{listing}")


# A typo in a prompt avatar: reported as an unknown field, and the field it meant as missing.
PROMT_TYPO = manifest(prompt_block(key="nova", name="Nova", prompt=None, promt="a starship captain"))
AVA = photo("ava", "Ava")  # the avatar the look templates below expand for

# (id, manifest text, (expected substring of the problem, line, col)). A str col names the token the
# problem must point at: its column is where that token starts on the line.
CATALOGUE = [
    (
        "typo-suggests-field",
        PROMT_TYPO,
        ("unknown field `promt` in a prompt avatar. Fix: did you mean `prompt`?", 6, 5),
    ),
    ("typo-missing-required-too", PROMT_TYPO, ("missing required field `prompt`", 3, 5)),
    ("unknown-top-level", "version: 1\navatar: []\n", ("did you mean `avatars`?", 2, 1)),
    (
        "unknown-in-look",
        manifest(looks=["{key: l, avatar_id: look_1, name: L, prompt: p, colour: red}"]),
        ("unknown field `colour` in a look", 3, "colour"),
    ),
    (
        "unknown-in-file-mapping",
        manifest(photo_block(file=f"{{url: {PHOTO}, path: a.jpg}}")),
        ("a file mapping takes exactly one of url, path, asset_id", 6, "path:"),
    ),
    ("file-mapping-typo", manifest(photo_block(file=f"{{uri: {PHOTO}}}")), ("did you mean `url`?", 6, 11)),
    ("version-missing", "avatars: []\n", ("missing `version`", 1, 1)),
    (
        "version-unknown",
        "version: 2\navatars: []\n",
        ("unsupported manifest version 2. Fix: this batchavatars reads manifest version 1", 1, 10),
    ),
    ("version-string", 'version: "1"\n', ("`version` must be the whole number 1, not the string '1'", 1, 10)),
    ("missing-name", manifest(photo_block(name=None)), ("missing required field `name`", 3, 5)),
    ("empty-name", manifest(photo_block(name='""')), ("`name` is empty", 5, 11)),
    ("name-too-long", manifest(photo_block(name="n" * 256)), ("`name` is 256 characters; the limit is 255", 5, 11)),
    (
        "name-not-a-string",
        manifest(photo_block(name="yes")),
        ('must be a string, not the boolean true (YAML reads yes that way). Fix: quote it: name: "yes"', 5, 11),
    ),
    ("missing-type", manifest(photo_block(type=None)), ("missing required field `type`", 3, 5)),
    (
        "bad-type",
        manifest(photo_block(type="fotoo")),
        ("unknown avatar type 'fotoo'. Fix: did you mean `photo`?", 4, 11),
    ),
    (
        "bad-type-still-checks-key",
        manifest(photo_block(key="A", type="fotoo")),
        ("`key` 'A' is not a valid key", 3, 10),
    ),
    (
        "bad-key",
        manifest(photo_block(key="Ava Reyes", name="Ava")),
        ("`key` 'Ava Reyes' is not a valid key. Fix: keys are 1-64 characters", 3, 10),
    ),
    ("key-too-long", manifest(photo_block(key="k" * 65, name="Ava")), ("is not a valid key", 3, 10)),
    ("photo-needs-file", manifest(photo_block(file=None)), ("missing required field `file`", 3, 5)),
    ("prompt-needs-prompt", manifest("{key: a, type: prompt, name: A}"), ("missing required field `prompt`", 3, 5)),
    ("file-on-prompt-avatar", manifest(prompt_block(file=PHOTO)), ("`file` is not used by a prompt avatar", 7, 5)),
    (
        "consent-on-photo",
        manifest(photo_block(consent="{reroute_url: https://example.com}")),
        ("`consent` is only for digital_twin avatars", 7, 5),
    ),
    (
        "reference-images-on-photo",
        manifest(photo_block(reference_images=f"[{PHOTO}]")),
        ("`reference_images` is only for prompt avatars", 7, 5),
    ),
    (
        "too-many-reference-images",
        manifest(prompt_block(reference_images=f"[{PHOTO}, {PHOTO}, {PHOTO}, {PHOTO}]")),
        ("`reference_images` has 4 images; HeyGen takes at most 3", 7, 23),
    ),
    (
        "prompt-too-long",
        manifest(looks=[block(key="l", avatar_id="look_1", name="L", prompt="p" * 1234)]),
        ("`prompt` is 1234 characters; the limit is 1000. Fix: shorten it by 234 characters", 6, 13),
    ),
    (
        "group-and-avatar-group-id",
        manifest(photo(), photo_block(key="b", name="B", group="a", avatar_group_id="group_1")),
        ("`group` and `avatar_group_id` cannot both be set", 9, 5),
    ),
    (
        "group-names-a-look",
        manifest(photo(), photo("b", "B", group="l"), looks=["{key: l, avatar: a, name: L, prompt: p}"]),
        ("`group` names `l`, which is a look", 4, "l}"),
    ),
    (
        "group-unknown",
        manifest(photo("anna"), photo("b", "B", group="ana")),
        ("`group` names `ana`, which is no avatar of this manifest. Fix: did you mean `anna`?", 4, "ana}"),
    ),
    (
        "look-both-parents",
        manifest(looks=[block(key="l", avatar="x", avatar_id="look_1", name="L", prompt="p")]),
        ("`avatar` and `avatar_id` cannot both be set", 5, 5),
    ),
    ("look-no-parent", manifest(looks=[block(key="l", name="L", prompt="p")]), ("a look needs a parent", 3, 5)),
    (
        "look-unknown-parent",
        manifest(photo("maya", "M"), looks=["{key: l, avatar: mya, name: L, prompt: p}"]),
        ("`avatar` names `mya`, which is no avatar or look of this manifest. Fix: did you mean `maya`?", 5, "mya"),
    ),
    (
        "duplicate-item-key",
        manifest(photo(), looks=["{key: a, avatar: a, name: L, prompt: p}"]),
        ("duplicate key `a` (first at", 5, "a, avatar"),
    ),
    (
        "duplicate-yaml-key",
        manifest(["key: a", "type: photo", "name: A", "name: B", f"file: {PHOTO}"]),
        ("duplicate key `name` in one mapping (first at line 5)", 6, 5),
    ),
    (
        "cycle-of-looks",
        manifest(
            looks=[
                "{key: a, avatar: c, name: A, prompt: p}",
                "{key: b, avatar: a, name: B, prompt: p}",
                "{key: c, avatar: b, name: C, prompt: p}",
            ]
        ),
        ("cycle: a → c → b → a", 3, "c, name"),
    ),
    ("self-cycle", manifest(looks=["{key: me, avatar: me, name: A, prompt: p}"]), ("cycle: me → me", 3, "me, name")),
    ("cycle-of-groups", manifest(photo(group="b"), photo("b", "B", group="a")), ("cycle: a → b → a", 3, "b}")),
    ("wrong-type-list", "version: 1\navatars: {key: a}\n", ("`avatars` must be a list, not a mapping", 2, 10)),
    (
        "entry-not-a-mapping",
        manifest(looks=["just a string"]),
        ("each entry of `looks` must be a mapping (a look), not the string 'just a string'", 3, 5),
    ),
    ("file-wrong-type", manifest(photo(file="12")), ("`file` must be a URL string, a path string", 3, "12")),
    (
        "url-not-http",
        manifest(photo(file='{url: "ftp://x.example.com/a.jpg"}')),
        ("`file.url` must be an http(s) URL", 3, '"ftp'),
    ),
    (
        "url-string-other-scheme",
        manifest(photo(file='"s3://bucket/a.jpg"')),
        ("uses a scheme other than http(s)", 3, '"s3'),
    ),
    (
        "url-with-space",
        manifest(photo(file='"https://cdn.example.com/my photo.jpg"')),
        ("contains spaces", 3, '"https'),
    ),
    (
        "reroute-url-bad",
        manifest(
            block(
                key="a",
                type="digital_twin",
                name="A",
                file="https://cdn.example.com/a.mp4",
                consent='{reroute_url: "not a url"}',
            )
        ),
        ("`consent.reroute_url` must be an http(s) URL", 7, '"not a url"'),
    ),
    ("asset-id-empty", manifest(photo(file='{asset_id: ""}')), ("`file.asset_id` is empty", 3, '""')),
    (
        "template-unknown-placeholder",
        manifest(AVA, look_templates=[template(key='"{avatar}-{nme}"')]),
        ("uses unknown placeholder {nme} (did you mean {name}?)", 6, 10),
    ),
    ("template-stray-brace", manifest(AVA, look_templates=[template(prompt='"{name"')]), ("has a stray brace", 8, 13)),
    (
        "template-for-each-unknown-key",
        manifest(AVA, look_templates=[template(for_each="[ava, avva]")]),
        ("`for_each` lists `avva`, which is no avatar of this manifest. Fix: did you mean `ava`?", 5, "avva"),
    ),
    (
        "template-for-each-a-look",
        manifest(
            AVA,
            looks=["{key: ava-l, avatar: ava, name: L, prompt: p}"],
            look_templates=[template(for_each="[ava-l]")],
        ),
        ("`for_each` lists `ava-l`, which is a look", 7, "ava-l"),
    ),
    (
        "template-bad-expanded-key",
        manifest(photo("ava", "Ava Reyes"), look_templates=[template(key='"{name}-office"')]),
        ("look template key gives 'Ava Reyes-office' for avatar `ava`, not a valid key", 6, 10),
    ),
    (
        "template-duplicate-key",
        manifest(
            AVA,
            looks=["{key: ava-office, avatar: ava, name: L, prompt: p}"],
            look_templates=[template(key='"{avatar}-office"')],
        ),
        ("duplicate key `ava-office`: the look template makes it for avatar `ava`", 8, 10),
    ),
    (
        "template-long-prompt",
        manifest(AVA, look_templates=[template(prompt='"{name} ' + "p" * 997 + '"')]),
        ("look template prompt gives 1001 characters for avatar `ava`; the limit is 1000", 8, 13),
    ),
    (
        "for-each-bad-form",
        manifest(look_templates=[template(for_each="3")]),
        ("`for_each` must be `all`, a list of avatar keys or a filter", 3, 15),
    ),
    ("for-each-typo", manifest(look_templates=[template(for_each="al")]), ("did you mean `all`?", 3, 15)),
    (
        "for-each-filter-bad-type",
        manifest(look_templates=[template(for_each="{type: fotoo}")]),
        ("did you mean `photo`?", 3, "fotoo"),
    ),
    (
        "for-each-filter-unknown-field",
        manifest(look_templates=[template(for_each="{typ: photo}")]),
        ("unknown field `typ` in a for_each filter. Fix: did you mean `type`?", 3, "typ"),
    ),
    ("not-yaml", "version: 1\navatars: [\n", ("not valid YAML", 3, 1)),
    ("bad-indentation", "version: 1\navatars:\n  - key: a\n   type: photo\n", ("not valid YAML", 4, "type")),
    ("tab-indentation", "version: 1\navatars:\n\t- key: a\n", ("YAML does not allow tabs for indentation", 3, 1)),
    ("not-a-mapping", "- version: 1\n", ("the manifest must be a YAML mapping", 1, 1)),
    ("scalar-document", "just words\n", ("the manifest must be a YAML mapping", 1, 1)),
    ("null-document", "---\n...\n", ("this one is empty", 1, 1)),
    ("multiple-documents", "version: 1\n---\nversion: 1\n", ("more than one YAML document", 2, 1)),
    ("comments-only", "# nothing but a comment\n", ("the manifest is empty", 1, 1)),
    (
        "python-tag",
        'version: 1\navatars: !!python/object/apply:os.system ["echo pwned"]\n',
        ("YAML tag !!python/object/apply:os.system is not allowed", 2, 10),
    ),
    ("local-tag", "version: 1\navatars:\n  - !avatar {key: a}\n", ("YAML tag !avatar is not allowed", 3, 5)),
    ("too-deep", "version: 1\nx: " + "[" * 40 + "]" * 40 + "\n", ("nested more than 32 levels deep", 2, 35)),
    ("undefined-alias", "version: 1\navatars: *nothing\n", ("alias *nothing refers to no anchor", 2, 10)),
    (
        "billion-laughs",
        "version: 1\nx0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        + "".join(f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 10)),
        ("aliases expand to too many nodes", 7, 45),
    ),  # the alias that tips it over
    (
        "control-character",
        'version: 1\nlooks:\n  - {key: a, avatar_id: b, name: "x\x07", prompt: p}\n',
        ("not valid YAML: control characters are not allowed", 3, "\x07"),
    ),
    (
        "not-quite-a-date",
        manifest(looks=["{key: a, avatar_id: b, name: 2024-13-45, prompt: p, extra: 1}"]),
        ("unknown field `extra`", 3, "extra"),
    ),
    ("huge-number", "version: 1\nlooks: " + "9" * 5000 + "\n", ("`looks` must be a list, not the string '999", 2, 8)),
    ("roster-missing", "version: 1\navatars_from: nowhere.csv\n", ("roster nowhere.csv not found", 2, 15)),
]


@pytest.mark.parametrize(
    "text,substring,line,col", [(text, *problem) for _, text, problem in CATALOGUE], ids=[c[0] for c in CATALOGUE]
)
def test_bad_manifest_catalogue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, substring: str, line: int, col: int | str
) -> None:
    monkeypatch.chdir(tmp_path)  # relative names in messages: short and stable
    path = write(tmp_path, text)
    if isinstance(col, str):
        source_line = path.read_text(encoding="utf-8").splitlines()[line - 1]
        assert source_line.count(col) == 1, f"ambiguous token {col!r} in {source_line!r}"
        col = source_line.index(col) + 1
    err = problems_of(Path("m.yaml"))
    assert_problem(err, substring, line, col, "m.yaml")
    for p in err.problems:
        assert p.location is not None, f"problem without a location: {p}"
        assert p.fix, f"problem without a fix: {p}"
    assert path.exists()


def test_problems_name_the_item_key(tmp_path: Path) -> None:
    err = problems_of(write(tmp_path, manifest(prompt_block(key="nova", name="Nova", prompt="x", promt="y"))))
    assert [p.key for p in err.problems] == ["nova"]
    assert str(err).startswith(f"{tmp_path / 'm.yaml'}:7:5: [nova] unknown field `promt`")


def test_all_problems_are_collected_in_one_error(tmp_path: Path) -> None:
    text = manifest(
        photo(),
        photo(name='""'),
        photo("c", "C", group="zz"),
        looks=["{key: l, avatar: nobody, name: L, prompt: p}", "{key: m, avatar_id: x, name: M, prompt: p, extra: 1}"],
    )
    err = problems_of(write(tmp_path, text))
    messages = [p.message for p in err.problems]
    assert len(messages) == 4, messages
    assert any("`name` is empty" in m for m in messages)
    assert any("`group` names `zz`" in m for m in messages)
    assert any("`avatar` names `nobody`" in m for m in messages)
    assert any("unknown field `extra`" in m for m in messages)
    lines = [p.location.line for p in err.problems]
    assert lines == sorted(lines)


def test_invalid_item_does_not_cause_unknown_reference_noise(tmp_path: Path) -> None:
    text = manifest(photo(file=None), looks=["{key: l, avatar: a, name: L, prompt: p}"])
    assert [p.message for p in problems_of(write(tmp_path, text)).problems] == ["missing required field `file`"]


# -- documents that cannot be read -------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    err = problems_of(tmp_path / "nope.yaml")
    assert "not found" in str(err) and err.problems[0].location is None


def test_directory(tmp_path: Path) -> None:
    (tmp_path / "dir.yaml").mkdir()
    assert "is a directory" in str(problems_of(tmp_path / "dir.yaml"))


def test_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "version: 1\n")
    path.chmod(0)
    if os.geteuid() == 0:  # root reads anything: deny it here the way the kernel denies anyone else
        real_access = os.access
        monkeypatch.setattr(
            os, "access", lambda p, mode, **kw: False if Path(p) == path else real_access(p, mode, **kw)
        )
    try:
        assert "not readable" in str(problems_of(path))
    finally:
        path.chmod(0o600)


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    assert "not a regular file" in str(problems_of(tmp_path / "pipe.yaml"))


def test_huge_file_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as fh:
        fh.truncate(64 * 1024 * 1024 + 1)  # sparse: costs no disk
    err = problems_of(path)
    assert "the limit is 64 MiB" in str(err)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    path.write_bytes(b"")
    err = problems_of(path)
    assert "is empty" in str(err) and "batchavatars init" in str(err)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "l1.yaml"
    path.write_bytes(b"version: 1\nlooks:\n  - {key: a, avatar_id: b, name: caf\xe9, prompt: p}\n")
    err = problems_of(path)
    assert_problem(err, "is not UTF-8 text (byte 0xe9", 3, 37)


def test_utf16_is_named(tmp_path: Path) -> None:
    path = tmp_path / "u16.yaml"
    path.write_bytes("version: 1\n".encode("utf-16"))
    assert "UTF-16" in str(problems_of(path))


@pytest.mark.parametrize(
    ("head", "kind"),
    [(b"PK\x03\x04", "a spreadsheet workbook"), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook")],
)
def test_a_workbook_saved_as_the_manifest_is_named_with_where(tmp_path: Path, head: bytes, kind: str) -> None:
    # Found by the damaged-bytes property: it said "not CSV text" of a manifest, with no line.
    path = tmp_path / "team.yaml"
    path.write_bytes(head + b"\x00" * 64)
    err = problems_of(path)
    assert_problem(err, f"is {kind}", 1, 1)
    assert "not YAML text" in str(err) and "CSV" not in str(err)


def test_bom_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfversion: 1\nlooks:\n  - {key: a, avatar_id: b, name: A, prompt: p}\n")
    assert [s.key for s in load_manifest(path).items] == ["a"]


def test_nothing_but_manifest_error_escapes_odd_arguments() -> None:
    for weird in ("", "\x00", 42, None):
        with pytest.raises(ManifestError):
            load_manifest(weird)  # type: ignore[arg-type]


def test_column_counts_characters_not_bytes(tmp_path: Path) -> None:
    look = '{name: "Zoë Çelik", key: z, avatar: nobody, prompt: p}'
    err = problems_of(write(tmp_path, manifest(looks=[look])))
    line = f"  - {look}"
    assert_problem(err, "`avatar` names `nobody`", 3, line.index("nobody") + 1)


# -- the examples ----------------------------------------------------------------------------------


def test_example_manifest() -> None:
    m = load_manifest(MANIFESTS / "example.yaml")
    assert isinstance(m, Manifest) and m.path.is_absolute() and m.notes == []
    by_key = {s.key: s for s in m.items}
    avatars = [s.key for s in m.items if s.kind == "avatar"]
    looks = [s.key for s in m.items if s.kind == "look"]
    assert avatars == ["maya", "maya-studio", "diego", "priya", "tom", "nova", "sage", "kai"]
    assert len(looks) == 12 and m.items[: len(avatars)] == tuple(by_key[k] for k in avatars)
    assert {by_key[k].type for k in avatars} == {"photo", "digital_twin", "prompt"}
    assert by_key["maya-studio"].parent == "maya" and by_key["maya-studio"].kind == "avatar"
    # a chain: avatar → look → look of that look
    assert by_key["maya-office-evening"].parent == "maya-office"
    assert by_key["maya-office"].parent == "maya"
    assert by_key["diego"].file == FileRef("path", str(MANIFESTS / "photos" / "diego.png"))
    assert by_key["tom"].file == FileRef("url", "https://cdn.example.com/northwind/tom-training.webm")
    assert by_key["priya"].consent_reroute_url == "https://northwind.example.com/onboarding/thanks"
    assert len(by_key["nova"].reference_images) == 2 and by_key["nova"].file is None
    assert by_key["nova"].prompt.startswith("A confident starship captain in her fifties, navy uniform")
    holiday = [k for k in looks if k.endswith("-holiday")]
    assert holiday == ["maya-holiday", "maya-studio-holiday", "diego-holiday"]  # for_each {type: photo}
    assert by_key["diego-holiday"] == ItemSpec(
        key="diego-holiday",
        kind="look",
        type="prompt",
        name="Diego Alvarez, holiday",
        location=by_key["diego-holiday"].location,
        parent="diego",
        prompt="Diego Alvarez in a cosy knitted sweater, festive lights softly blurred behind",
    )
    for spec in m.items:
        assert spec.kind == "avatar" or (spec.type == "prompt" and spec.parent in by_key)


def test_example_locations_point_at_items() -> None:
    m = load_manifest(MANIFESTS / "example.yaml")
    lines = (MANIFESTS / "example.yaml").read_text().splitlines()
    for spec in m.items:
        if spec.key.endswith("-holiday"):
            assert lines[spec.location.line - 1].strip().startswith("- for_each:")
        else:
            assert lines[spec.location.line - 1].strip() == f"- key: {spec.key}" or lines[
                spec.location.line - 1
            ].strip().startswith(f"- key: {spec.key} ")


def test_roster_example_makes_200_items() -> None:
    m = load_manifest(MANIFESTS / "roster.yaml")
    assert len(m.items) == 200
    avatars = [s for s in m.items if s.kind == "avatar"]
    assert len(avatars) == 50 and all(s.type == "photo" for s in avatars)
    first = avatars[0]
    assert first.location.file.endswith("presenters.csv") and (first.location.line, first.location.col) == (2, 1)
    assert first.file is not None and first.file.kind == "url"
    looks = [s for s in m.items if s.kind == "look"]
    assert looks[0].key == f"{first.key}-office" and looks[0].parent == first.key
    assert looks[0].location.file.endswith("roster.yaml")
    assert {s.key.rsplit("-", 1)[1] for s in looks} == {"office", "studio", "outdoor"}


@pytest.mark.parametrize("name", ["local.yaml", "existing.yaml"])
def test_other_examples_load(name: str) -> None:
    assert load_manifest(MANIFESTS / name).items


def test_local_example_resolves_paths() -> None:
    m = load_manifest(MANIFESTS / "local.yaml")
    by_key = {s.key: s for s in m.items}
    assert by_key["diego-local"].file == FileRef("path", str(MANIFESTS / "photos" / "diego.png"))
    assert by_key["nova-local"].reference_images[0] == FileRef("path", str(MANIFESTS / "photos" / "nova-ref.png"))


def test_existing_example_refers_outside() -> None:
    by_key = {s.key: s for s in load_manifest(MANIFESTS / "existing.yaml").items}
    assert by_key["ceo-portrait-2024"].avatar_group_id == "group_0123456789abcdef"
    assert by_key["ceo-summer"].avatar_id == "look_0123456789abcdef" and by_key["ceo-summer"].parent is None


def test_starter_manifest_loads(tmp_path: Path) -> None:
    path = tmp_path / "avatars.yaml"
    path.write_text(starter_manifest(), encoding="utf-8")
    m = load_manifest(path)
    assert m.items and starter_manifest().startswith("# yaml-language-server: $schema=")


def test_relative_path_gives_absolute_manifest_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "version: 1\n")
    monkeypatch.chdir(tmp_path)
    m = load_manifest("m.yaml")
    assert m.path == tmp_path / "m.yaml" and m.items == ()
    assert any("no avatars or looks" in n for n in m.notes)


# -- the spec rules ---------------------------------------------------------------------------------


def test_spec_mapping_of_every_field(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "ava.jpg").write_bytes(jpeg_bytes())
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "2.png").write_bytes(png_bytes())
    m = load_manifest(
        write(
            tmp_path,
            """
        version: 1
        avatars:
          - key: ava
            type: photo
            name: Ava Reyes
            file: ./photos/ava.jpg
          - key: sam
            type: digital_twin
            name: Sam Ortiz
            file: {url: https://cdn.example.com/sam.mp4}
            consent: {reroute_url: https://example.com/thanks}
          - key: nova
            type: prompt
            name: Captain Nova
            prompt: A confident starship captain
            reference_images: [https://cdn.example.com/ref1.jpg, {path: ./refs/2.png}, {asset_id: asset_9}]
          - key: sam-alt
            type: photo
            name: Sam Ortiz (studio)
            file: {asset_id: asset_1}
            group: sam
          - key: ext
            type: photo
            name: Existing character, new look
            file: https://cdn.example.com/x.jpg
            avatar_group_id: group_abc
        looks:
          - key: ava-office
            avatar: ava
            name: Ava, office
            prompt: Business casual in a bright office
          - key: ceo-summer
            avatar_id: look_abc123
            name: CEO, summer
            prompt: Linen shirt, garden terrace
        """,
        )
    )
    loc = Location(str(tmp_path / "m.yaml"), 0, 0)
    expected = [
        ItemSpec("ava", "avatar", "photo", "Ava Reyes", loc, file=FileRef("path", str(tmp_path / "photos/ava.jpg"))),
        ItemSpec(
            "sam",
            "avatar",
            "digital_twin",
            "Sam Ortiz",
            loc,
            file=FileRef("url", "https://cdn.example.com/sam.mp4"),
            consent_reroute_url="https://example.com/thanks",
        ),
        ItemSpec(
            "nova",
            "avatar",
            "prompt",
            "Captain Nova",
            loc,
            prompt="A confident starship captain",
            reference_images=(
                FileRef("url", "https://cdn.example.com/ref1.jpg"),
                FileRef("path", str(tmp_path / "refs/2.png")),
                FileRef("asset_id", "asset_9"),
            ),
        ),
        ItemSpec(
            "sam-alt", "avatar", "photo", "Sam Ortiz (studio)", loc, parent="sam", file=FileRef("asset_id", "asset_1")
        ),
        ItemSpec(
            "ext",
            "avatar",
            "photo",
            "Existing character, new look",
            loc,
            avatar_group_id="group_abc",
            file=FileRef("url", "https://cdn.example.com/x.jpg"),
        ),
        ItemSpec(
            "ava-office",
            "look",
            "prompt",
            "Ava, office",
            loc,
            parent="ava",
            prompt="Business casual in a bright office",
        ),
        ItemSpec(
            "ceo-summer",
            "look",
            "prompt",
            "CEO, summer",
            loc,
            avatar_id="look_abc123",
            prompt="Linen shirt, garden terrace",
        ),
    ]
    assert list(m.items) == expected  # Location is not compared
    assert [(s.location.line, s.location.col) for s in m.items] == [
        (3, 5),
        (7, 5),
        (12, 5),
        (17, 5),
        (22, 5),
        (28, 5),
        (32, 5),
    ]


def test_templates_expand_and_can_be_parents(tmp_path: Path) -> None:
    braces = '"{name} in an office; {{literal braces}}"'
    text = manifest(
        AVA,
        photo("sam", "Sam"),
        "{key: bot, type: prompt, name: Bot, prompt: a robot}",
        look_templates=[
            template(key='"{avatar}-office"', name='"{name}, office ({type})"', prompt=braces),
            template(for_each="[sam]", key='"{avatar}-beach"', name='"{name}, beach"', prompt="beach"),
            template(for_each="{type: [prompt]}", key='"{avatar}-space"', name='"{name}, space"', prompt="space"),
        ],
        looks=["{key: ava-office-night, avatar: ava-office, name: Ava at night, prompt: night}"],
    )
    m = load_manifest(write(tmp_path, text))
    keys = [s.key for s in m.items]
    assert keys == [
        "ava",
        "sam",
        "bot",
        "ava-office",
        "sam-office",
        "bot-office",
        "sam-beach",
        "bot-space",
        "ava-office-night",
    ]  # templates come before `looks:` here, as in the file
    by_key = {s.key: s for s in m.items}
    assert by_key["bot-office"].name == "Bot, office (prompt)"
    assert by_key["ava-office"].prompt == "Ava in an office; {literal braces}"
    assert by_key["ava-office-night"].parent == "ava-office"
    assert by_key["sam-beach"].location.line == 11 and by_key["sam-beach"].location.col == 5


def test_template_filter_matching_nothing_is_a_note(tmp_path: Path) -> None:
    m = load_manifest(write(tmp_path, manifest(AVA, look_templates=[template(for_each="{type: digital_twin}")])))
    assert [s.key for s in m.items] == ["ava"]
    assert len(m.notes) == 1 and "matches no avatar" in m.notes[0] and ":5:15:" in m.notes[0]


def test_template_problems_are_capped(tmp_path: Path) -> None:
    avatars = [photo(f"a{i}", f"A {i}") for i in range(30)]
    err = problems_of(write(tmp_path, manifest(*avatars, look_templates=[template(key='"{name}"')])))
    assert len(err.problems) == 6 and sum("25 more problems" in p.message for p in err.problems) == 1


def test_long_chain_without_recursion(tmp_path: Path) -> None:
    looks = "\n".join(f"  - {{key: l{i}, avatar: l{i - 1}, name: L, prompt: p}}" for i in range(1, 5000))
    m = load_manifest(
        write(tmp_path, "version: 1\nlooks:\n  - {key: l0, avatar_id: x, name: L, prompt: p}\n" + looks + "\n")
    )
    assert len(m.items) == 5000
    ring = looks.replace("{key: l1, avatar: l0,", "{key: l1, avatar: l4999,")
    err = problems_of(
        write(
            tmp_path, "version: 1\nlooks:\n  - {key: l0, avatar_id: x, name: L, prompt: p}\n" + ring + "\n", "ring.yaml"
        )
    )
    assert len(err.problems) == 1 and err.problems[0].message.startswith("cycle: l1 → l4999 → l4998")


def test_merge_keys_and_extension_fields(tmp_path: Path) -> None:
    m = load_manifest(
        write(
            tmp_path,
            f"""
        version: 1
        x-photo: &photo {{type: photo, file: "{PHOTO}"}}
        avatars:
          - <<: *photo
            key: ava
            name: Ava
          - <<: *photo
            key: sam
            name: Sam
            file: https://cdn.example.com/sam.png
        """,
        )
    )
    assert [(s.key, s.file.value) for s in m.items] == [("ava", PHOTO), ("sam", "https://cdn.example.com/sam.png")]


# -- local files --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,content,kind,substring",
    [
        ("missing.jpg", None, "photo", "no such file"),
        ("empty.jpg", b"", "photo", "is empty (0 bytes)"),
        ("photo.gif", b"GIF89a", "photo", ".gif images are not accepted (photo must be .png, .jpg, .jpeg)"),
        ("photo.txt", b"hello", "photo", "is not a supported photo type (.png, .jpg, .jpeg)"),
        ("photo.heic", b"x", "photo", "convert it to JPEG or PNG"),
        ("clip.mov", b"x", "digital_twin", ".mov footage is not accepted by HeyGen's asset upload"),
        ("clip.mov", b"x", "digital_twin", "ffmpeg -i clip.mov clip.mp4"),
        ("clip.jpg", b"x", "digital_twin", "is not a supported training footage type (.mp4, .webm)"),
        ("adir.png", "dir", "photo", "is a directory"),
    ],
)
def test_local_file_checks(tmp_path: Path, name: str, content: bytes | str | None, kind: str, substring: str) -> None:
    if content == "dir":
        (tmp_path / name).mkdir()
    elif content is not None:
        (tmp_path / name).write_bytes(content)  # type: ignore[arg-type]
    err = problems_of(write(tmp_path, manifest(photo_block(type=kind, file=name))))
    assert_problem(err, substring, 6, 11)
    assert err.problems[0].key == "a"


def test_valid_video_and_reference_image(tmp_path: Path) -> None:
    (tmp_path / "clip.webm").write_bytes(b"x")
    (tmp_path / "REF.JPEG").write_bytes(jpeg_bytes())
    text = manifest(
        "{key: a, type: digital_twin, name: A, file: {path: clip.webm}}",
        "{key: b, type: prompt, name: B, prompt: p, reference_images: [REF.JPEG]}",
    )
    m = load_manifest(write(tmp_path, text))
    assert m.items[0].file == FileRef("path", str(tmp_path / "clip.webm"))
    assert m.items[1].reference_images == (FileRef("path", str(tmp_path / "REF.JPEG")),)


def test_each_local_file_is_stat_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "same.png").write_bytes(png_bytes())
    path = write(tmp_path, manifest(*(photo(f"a{i}", file="same.png") for i in range(50))))
    calls: list[str] = []
    real_stat = os.stat

    def counting_stat(p, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        calls.append(os.fspath(p))
        return real_stat(p, *args, **kwargs)

    monkeypatch.setattr(os, "stat", counting_stat)
    assert len(load_manifest(path).items) == 50
    assert calls.count(str(tmp_path / "same.png")) == 1


def test_reference_image_problem_points_at_entry(tmp_path: Path) -> None:
    entry = prompt_block(key="b", name="B", reference_images=["https://cdn.example.com/ok.png", "{path: gone.png}"])
    assert_problem(problems_of(write(tmp_path, manifest(entry))), "gone.png: no such file", 9, 16)


# -- CSV rosters ---------------------------------------------------------------------------------------

ROSTER_YAML = """
    version: 1
    avatars:
      - {key: lead, type: photo, name: Lead, file: "https://cdn.example.com/lead.jpg"}
    avatars_from: team/people.csv
    look_templates:
      - for_each: all
        key: "{avatar}-office"
        name: "{name}, office"
        prompt: "{name} at the office"
    """


CSV_PHOTO = "https://x.example.com/a.jpg"


def people_csv(*rows: str) -> str:
    """team/people.csv: the header row `key,type,name,file`, then these rows."""
    return "".join(f"{row}\n" for row in ("key,type,name,file", *rows))


def roster(tmp_path: Path, csv_text: str | bytes) -> Path:
    (tmp_path / "team").mkdir(exist_ok=True)
    data = csv_text.encode() if isinstance(csv_text, str) else csv_text
    (tmp_path / "team" / "people.csv").write_bytes(data)
    return write(tmp_path, ROSTER_YAML)


def test_roster_rows_become_avatars(tmp_path: Path) -> None:
    (tmp_path / "team" / "img").mkdir(parents=True)
    (tmp_path / "team" / "img" / "bo.png").write_bytes(png_bytes())
    m = load_manifest(
        roster(
            tmp_path,
            "\ufeffkey,type,name,file,prompt,group,avatar_group_id\n"
            "ann,photo,Ann Lee,https://cdn.example.com/ann.jpg,,,\n"
            "\n"
            'bo, photo ,"Bo, Jr.",img/bo.png,,lead,\n'
            'cy,prompt,Cy,,"A calm,\nthoughtful host",,grp_1\n',
        )
    )
    by_key = {s.key: s for s in m.items}
    assert [s.key for s in m.items if s.kind == "avatar"] == ["lead", "ann", "bo", "cy"]
    assert by_key["bo"].name == "Bo, Jr." and by_key["bo"].parent == "lead" and by_key["bo"].type == "photo"
    assert by_key["bo"].file == FileRef("path", str(tmp_path / "team" / "img" / "bo.png"))  # relative to the CSV
    assert by_key["cy"].prompt == "A calm,\nthoughtful host" and by_key["cy"].avatar_group_id == "grp_1"
    assert (by_key["bo"].location.line, by_key["bo"].location.col) == (4, 1)
    assert by_key["bo"].location.file == str(tmp_path / "team" / "people.csv")
    assert [s.key for s in m.items if s.kind == "look"] == ["lead-office", "ann-office", "bo-office", "cy-office"]


@pytest.mark.parametrize(
    "csv_text,substring,line,col",
    [
        (people_csv(f"ann,photo,Ann,{CSV_PHOTO}", "bob,photo,Bob,"), "empty `file` cell", 3, 4),
        (people_csv(f"ann,fotoo,Ann,{CSV_PHOTO}"), "unknown avatar type 'fotoo'", 2, 2),
        (people_csv(f"Ann,photo,Ann,{CSV_PHOTO}"), "`key` 'Ann' is not a valid key", 2, 1),
        (people_csv("ann,photo,Ann,missing.jpg"), "no such file", 2, 4),
        (people_csv(f"ann,photo,Ann,{CSV_PHOTO},oops"), "row has 5 cells", 2, 5),
        (
            f"key,type,name,file,prompt\nann,prompt,Ann,{CSV_PHOTO},p\n",
            "`file` is not used by a prompt avatar. Fix: leave the `file` cell empty",
            2,
            4,
        ),
        (
            f"key,type,name,file,group\nann,photo,Ann,{CSV_PHOTO},nobody\n",
            "`group` names `nobody`",
            2,
            5,
        ),
        (people_csv(f"lead,photo,Lead,{CSV_PHOTO}"), "duplicate key `lead`", 2, 1),
        ("key,type,name,fle\n", "unknown column 'fle' in the header row. Fix: did you mean `file`?", 1, 4),
        ("key,type\nann,photo\n", "the header row lacks the column name", 1, 1),
        (f"ann,photo,Ann,{CSV_PHOTO}\n", "is not a header row", 1, 1),
        ("key,type,name,key\n", "column 'key' appears twice", 1, 4),
        ("", "is empty", 1, 1),
        (b"key,type,name\nann,photo,\xff\n", "is not UTF-8 text", 2, 11),
        (people_csv('ann,photo,"' + "x" * 200_000 + '",u'), "not a valid CSV file", 2, 1),
    ],
)
def test_roster_problems(tmp_path: Path, csv_text: str | bytes, substring: str, line: int, col: int) -> None:
    err = problems_of(roster(tmp_path, csv_text))
    assert_problem(err, substring, line, col, "people.csv")


def test_roster_with_header_only_is_a_note(tmp_path: Path) -> None:
    m = load_manifest(roster(tmp_path, people_csv()))
    assert [s.key for s in m.items] == ["lead", "lead-office"]
    assert any("no rows" in n for n in m.notes)


def test_roster_row_problems_and_manifest_problems_together(tmp_path: Path) -> None:
    path = roster(tmp_path, people_csv(f"ann,photo,,{CSV_PHOTO}"))
    path.write_text(path.read_text() + "looks:\n  - {key: l, avatar: zed, name: L, prompt: p}\n")
    err = problems_of(path)
    files = [Path(p.location.file).name for p in err.problems]
    assert files == ["m.yaml", "people.csv"]  # the manifest's problems first


def test_roster_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "team" / "people.csv").mkdir(parents=True)
    err = problems_of(write(tmp_path, ROSTER_YAML))
    assert_problem(err, "is a directory", 4, 15)


def test_copy_of_examples_elsewhere_still_loads(tmp_path: Path) -> None:
    shutil.copytree(MANIFESTS, tmp_path / "copy", ignore=shutil.ignore_patterns("*.ledger.*"))
    m = load_manifest(tmp_path / "copy" / "example.yaml")
    diego = next(s for s in m.items if s.key == "diego")
    assert diego.file == FileRef("path", str(tmp_path / "copy" / "photos" / "diego.png"))


# -- limits ----------------------------------------------------------------------------------------------


def test_problem_list_is_capped_but_counts_the_rest(tmp_path: Path) -> None:
    looks = "\n".join(f"  - {{key: l{i}, avatar_id: x, name: L, promt: p}}" for i in range(400))
    err = problems_of(write(tmp_path, "version: 1\nlooks:\n" + looks + "\n"))
    assert len(err.problems) == 501
    last = err.problems[-1]
    assert last.message == "and 300 more problems not listed" and last.location is not None


def test_template_expansion_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from batchavatars.manifest import load as load_module

    monkeypatch.setattr(load_module, "MAX_ITEMS", 10)
    templates = [
        '{for_each: all, key: "{avatar}-x", name: "{name}", prompt: p}',
        '{for_each: all, key: "{avatar}-y", name: "{name}", prompt: p}',
    ]
    err = problems_of(write(tmp_path, manifest(*(photo(f"a{i}") for i in range(4)), look_templates=templates)))
    assert_problem(err, "look templates would make more than 10 items", 9, 5)  # the second template


def test_moving_the_project_folder_does_not_make_local_file_items_changed(tmp_path: Path) -> None:
    hashes = []
    for folder in ("before", "after"):
        base = tmp_path / folder
        (base / "photos").mkdir(parents=True)
        (base / "photos" / "p.png").write_bytes(png_bytes())
        (base / "m.yaml").write_text("version: 1\navatars:\n  - {key: a, type: photo, name: A, file: ./photos/p.png}\n")
        hashes.append(load_manifest(base / "m.yaml").items[0].spec_hash)
    assert hashes[0] == hashes[1]
